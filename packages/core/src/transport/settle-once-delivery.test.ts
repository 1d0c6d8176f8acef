import { describe, expect, it } from 'vitest';
import type { DeadLetterFailure, TransportMessage } from './transport.js';
import { SettleOnceDelivery, type NackOptions, type SettleOwner } from './settle-once-delivery.js';

const message: TransportMessage = { id: 'm-1', type: 't', body: new Uint8Array([1]), headers: {} };
const failure: DeadLetterFailure = {
  reason: 'HANDLER_FAILED',
  errorName: 'Error',
  errorMessage: 'x',
  attempts: 1,
  endpoint: 'e',
  service: 's',
  host: 'h',
  time: 0,
};

/** Records what reached the broker and what the owner heard. */
class Recorded extends SettleOnceDelivery {
  readonly message = message;
  readonly deliveryCount = 1;
  readonly calls: string[] = [];
  held = true;

  constructor(
    owner: SettleOwner<Recorded>,
    private readonly fail = false,
  ) {
    super(owner);
  }

  protected override canSettle(): boolean {
    return this.held;
  }

  protected async onAck(): Promise<void> {
    this.calls.push('ack');
    if (this.fail) throw new Error('broker down');
  }

  protected async onNack(options: NackOptions): Promise<void> {
    this.calls.push(`nack ${options.delayMs ?? 0}`);
  }

  protected async onDeadLetter(f: DeadLetterFailure): Promise<void> {
    this.calls.push(`dead ${f.reason}`);
  }

  giveBack(): void {
    if (this.settleOnce()) this.calls.push('give back');
  }
}

function owner(): SettleOwner<Recorded> & { seen: Recorded[] } {
  const seen: Recorded[] = [];
  return { seen, settled: (d) => seen.push(d) };
}

describe('SettleOnceDelivery', () => {
  it('runs the first settle only, and tells its owner once', async () => {
    const o = owner();
    const d = new Recorded(o);
    await Promise.all([d.nack({ delayMs: 5 }), d.ack(), d.deadLetter(failure)]);
    d.giveBack();
    await d.nack();
    expect(d.calls).toEqual(['nack 5']);
    expect(o.seen).toEqual([d]);
    expect(d.isSettled).toBe(true);
  });

  it('tells the owner before the broker call, and stays settled when that call fails', async () => {
    const o = owner();
    const d = new Recorded(o, true);
    await expect(d.ack()).rejects.toThrow('broker down');
    expect(o.seen).toEqual([d]);
    await d.deadLetter(failure);
    expect(d.calls).toEqual(['ack']);
  });

  it('lets the transport settle it itself, once, in place of the bus', async () => {
    const o = owner();
    const d = new Recorded(o);
    d.giveBack();
    await d.deadLetter(failure);
    expect(d.calls).toEqual(['give back']);
    expect(o.seen).toEqual([d]);
  });

  it('claim marks it settled without the owner or the broker', async () => {
    const o = owner();
    const d = new Recorded(o);
    expect(d.claim()).toBe(true);
    expect(d.claim()).toBe(false);
    await d.ack();
    expect(d.calls).toEqual([]);
    expect(o.seen).toEqual([]);
  });

  it('ignores a settle that canSettle refuses, without marking it settled', async () => {
    const o = owner();
    const d = new Recorded(o);
    d.held = false;
    await d.ack();
    expect(d.isSettled).toBe(false);
    d.held = true;
    await d.deadLetter(failure);
    expect(d.calls).toEqual(['dead HANDLER_FAILED']);
  });
});
