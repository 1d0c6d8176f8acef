/** The bridge's options, checked when it is created; nothing here reaches a broker. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { createMqttBridge, type MqttBridgeOptions } from './mqtt-bridge.js';
import { MqttMessageRejected } from './dead-letter.js';

const base = {
  url: 'mqtt://127.0.0.1:1883',
  bus: { publish: async () => {} },
  clientId: 'bridge-1',
  routes: [{ filter: 'drones/+/telemetry', contract: MqttMessageRejected }],
};

describe('MQTT bridge options', () => {
  it('refuses a misspelt option (JavaScript, no type check) when created, named, with the known ones', () => {
    const options = { ...base, connectTimeout: 500 } as MqttBridgeOptions;
    expect(() => createMqttBridge(options)).toThrow(ConfigurationError);
    expect(() => createMqttBridge(options)).toThrow(
      'unknown MQTT bridge option "connectTimeout"; known: url, bus, routes, clientId, group, sessionExpirySeconds, connectTimeoutMs, reconnectMs, logger',
    );
  });

  it('takes every documented option', () => {
    expect(() =>
      createMqttBridge({ ...base, group: 'g', sessionExpirySeconds: 60, connectTimeoutMs: 500, reconnectMs: 100, logger: undefined }),
    ).not.toThrow();
  });
});
