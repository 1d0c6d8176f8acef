import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AckRetry, isConnectionError } from './ack-retry.js';
import type { AckUnit } from './redis-settles.js';

const unit = (n: number): AckUnit => ({ entryId: `1-${n}`, pelCount: 1, token: `1-${n}`, key: undefined, extra: 0 });

/** A link that is down until `up()`. */
function link(): EventEmitter & { status: string; up(): void } {
  const emitter = new EventEmitter() as EventEmitter & { status: string; up(): void };
  emitter.status = 'reconnecting';
  emitter.up = () => {
    emitter.status = 'ready';
    emitter.emit('ready');
  };
  return emitter;
}

describe('ack retry', () => {
  it('tells a lost connection from an error Redis answered', () => {
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 0).'), {
      name: 'MaxRetriesPerRequestError',
    });
    expect(isConnectionError(maxRetries)).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe(true);
    expect(isConnectionError(new Error("Socket timeout. Expecting data, but didn't receive any in 3000ms."))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(new Error('NOSCRIPT No matching script'))).toBe(false);
    expect(isConnectionError(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
    expect(isConnectionError('Connection is closed.')).toBe(false);
  });

  it('hands the units back once the link is ready, not before', () => {
    const l = link();
    const back: AckUnit[][] = [];
    const retry = new AckRetry(
      () => l,
      (units) => back.push(units),
    );
    retry.keep([unit(1), unit(2)]);
    retry.keep([unit(3)]);
    expect(retry.size).toBe(3);
    expect(back).toEqual([]);
    l.up();
    expect(back).toEqual([[unit(1), unit(2), unit(3)]]);
    expect(retry.size).toBe(0);
    expect(l.listenerCount('ready')).toBe(0);
  });

  it('hands them back on the next turn when the link is already ready', async () => {
    const l = link();
    l.status = 'ready';
    const back: AckUnit[][] = [];
    const retry = new AckRetry(
      () => l,
      (units) => back.push(units),
    );
    retry.keep([unit(1)]);
    expect(back).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(back).toEqual([[unit(1)]]);
  });

  it('keeps at most its limit, dropping the oldest, and says how many', () => {
    const l = link();
    const back: AckUnit[][] = [];
    const retry = new AckRetry(
      () => l,
      (units) => back.push(units),
      3,
    );
    expect(retry.keep([unit(1), unit(2)])).toBe(0);
    expect(retry.keep([unit(3), unit(4), unit(5)])).toBe(2);
    l.up();
    expect(back).toEqual([[unit(3), unit(4), unit(5)]]);
  });

  it('keeps the units of a closed link, handing nothing back', () => {
    const retry = new AckRetry(
      () => undefined,
      () => expect.unreachable(),
    );
    retry.keep([unit(1)]);
    expect(retry.size).toBe(1);
  });
});
