import { describe, expect, it } from 'vitest';
import { TransportError } from '@missive/core';
import { EventEmitter } from 'node:events';
import { Abandon, isReady, LinkLoss } from './abandon.js';

const never = new Promise<never>(() => undefined);

describe('Abandon', () => {
  it('rejects a wait in progress, and later ones, with a TransportError once fired', async () => {
    const abandon = new Abandon('redis consumer of q');
    const waiting = abandon.race(never);
    abandon.fire();
    await expect(waiting).rejects.toBeInstanceOf(TransportError);
    await expect(abandon.race(never)).rejects.toThrow('redis consumer of q closed');
  });

  it('holds no wait once its command answered (many calls, then a fire rejects only what is outstanding)', async () => {
    const abandon = new Abandon('x');
    for (let i = 0; i < 1000; i++) await abandon.race(Promise.resolve(i));
    const waiting = abandon.race(never);
    expect((abandon as unknown as { waits: unknown[] }).waits.length).toBeLessThan(70);
    abandon.fire();
    await expect(waiting).rejects.toBeInstanceOf(TransportError);
  });

  it('passes an outcome that comes first through', async () => {
    const abandon = new Abandon('x');
    await expect(abandon.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(abandon.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});

describe('LinkLoss', () => {
  const link = (status: string) => Object.assign(new EventEmitter(), { status });

  it('passes an outcome that comes while the link is ready through', async () => {
    await expect(new LinkLoss(link('ready')).whileReady(() => Promise.resolve('ok'), 10_000, 'leave')).resolves.toBe('ok');
  });

  it('rejects with a TransportError at once on a link not ready, without starting the work', async () => {
    let started = false;
    const work = () => ((started = true), Promise.resolve());
    await expect(new LinkLoss(link('reconnecting')).whileReady(work, 10_000, 'leave')).rejects.toThrow(
      'leave: the Redis connection is not ready',
    );
    expect(started).toBe(false);
  });

  it('rejects every wait when the link closes meanwhile (one listener for all), and after the bound', async () => {
    const closing = link('ready');
    const loss = new LinkLoss(closing);
    const waits = Array.from({ length: 20 }, () => loss.whileReady(() => never, 10_000, 'quit'));
    expect(closing.listenerCount('close')).toBe(1);
    closing.emit('close');
    for (const waiting of waits) await expect(waiting).rejects.toThrow('quit: the Redis connection was lost');
    await expect(loss.whileReady(() => never, 10, 'quit')).rejects.toBeInstanceOf(TransportError);
  });
});

describe('isReady', () => {
  it('is true only for a ready client', () => {
    expect(isReady({ status: 'ready' })).toBe(true);
    expect(isReady({ status: 'reconnecting' })).toBe(false);
  });
});
