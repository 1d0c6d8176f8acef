import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AckRetry } from './ack-retry.js';
import { ReadyFanout } from './ready-fanout.js';

/** A connection that is down until `up()`. */
function link(): EventEmitter & { status: string; up(): void } {
  const emitter = new EventEmitter() as EventEmitter & { status: string; up(): void };
  emitter.status = 'reconnecting';
  emitter.up = () => {
    emitter.status = 'ready';
    emitter.emit('ready');
  };
  return emitter;
}

describe('ReadyFanout', () => {
  it('hands one ready to any number of subscribers through one listener on the connection', () => {
    const l = link();
    const fanout = new ReadyFanout(l);
    let calls = 0;
    const subscribers = Array.from({ length: 50 }, () => () => void calls++);
    for (const s of subscribers) fanout.on('ready', s);
    expect(l.listenerCount('ready')).toBe(1);
    l.up();
    l.up();
    expect(calls).toBe(100);
    for (const s of subscribers) fanout.off('ready', s);
    expect(fanout.size).toBe(0);
    l.up();
    expect(calls).toBe(100);
  });

  it('calls a once subscriber at the next ready only; one removed by another during a ready is not called', () => {
    const l = link();
    const fanout = new ReadyFanout(l);
    const seen: string[] = [];
    const second = (): void => void seen.push('second');
    fanout.once('ready', () => seen.push('once'));
    fanout.on('ready', () => (seen.push('first'), fanout.off('ready', second)));
    fanout.on('ready', second);
    l.up();
    l.up();
    expect(seen).toEqual(['once', 'first', 'first']);
  });

  it('stop forgets every subscriber, takes its listener off and ignores later ones', () => {
    const l = link();
    const fanout = new ReadyFanout(l);
    let calls = 0;
    fanout.on('ready', () => void calls++);
    fanout.stop();
    fanout.on('ready', () => void calls++);
    expect(fanout.size).toBe(0);
    expect(l.listenerCount('ready')).toBe(0);
    l.up();
    expect(calls).toBe(0);
  });

  it('is what an AckRetry waits on: the units come back at the next ready, the subscription gone', () => {
    const l = link();
    const fanout = new ReadyFanout(l);
    const back: string[][] = [];
    const retry = new AckRetry(
      () => fanout,
      (units) => back.push(units.map((u) => u.entryId)),
    );
    retry.keep([{ entryId: '1-1', pelCount: 1, token: '1-1', key: undefined, extra: 0 }]);
    expect(fanout.size).toBe(1);
    l.up();
    expect(back).toEqual([['1-1']]);
    expect(fanout.size).toBe(0);
  });
});
