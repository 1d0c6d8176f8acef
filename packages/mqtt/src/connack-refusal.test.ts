import { ErrorWithReasonCode } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { TransportError } from '@missive/core';
import { connackRefusal } from './connack-refusal.js';

describe('connackRefusal', () => {
  it.each([
    [134, 'bad user name or password'],
    [135, 'not authorized'],
    [4, 'bad username or password'],
    [5, 'not authorized'],
  ])('code %i refuses the credentials: named, not retryable, says to check them', (code, name) => {
    const error = connackRefusal('mqtt://127.0.0.1:1883', new ErrorWithReasonCode('Connection refused', code));
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toBe(
      `MQTT broker at mqtt://127.0.0.1:1883 refused the connection: ${name} (CONNACK reason code ${code}); check the user name and password`,
    );
    expect(error.retryable).toBe(false);
  });

  it('a busy or unavailable server is retryable and says nothing of credentials', () => {
    const error = connackRefusal('mqtt://h:1883', new ErrorWithReasonCode('Connection refused', 137));
    expect(error.message).toBe('MQTT broker at mqtt://h:1883 refused the connection: server busy (CONNACK reason code 137)');
    expect(error.retryable).toBe(true);
  });

  it('an unknown code is still named by its number', () => {
    expect(connackRefusal('mqtt://h:1883', new ErrorWithReasonCode('x', 250)).message).toContain(
      'an unknown reason (CONNACK reason code 250)',
    );
  });
});
