/**
 * Queue depths over time: the dashboard samples the transport's queue listing every few seconds
 * and keeps the last samples in memory, so the Queues view shows depth, in flight and dead letters
 * now and as a short history (rates show as slopes).
 *
 * @example
 * ```ts
 * const history = new QueueHistory(() => transport.queues(), 2000, 150);
 * history.start();
 * history.samples(); // [{ at, queues: { payment: { depth, inFlight, deadLetters } } }]
 * ```
 * @module
 */
import type { QueueInfo } from '@missive/core';

/** One sample. */
export interface QueueSample {
  readonly at: number;
  readonly queues: Readonly<Record<string, { readonly depth: number; readonly inFlight: number; readonly deadLetters: number }>>;
}

/** A ring of queue samples. */
export class QueueHistory {
  private readonly ring: QueueSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly list: () => Promise<QueueInfo[]>,
    private readonly everyMs: number,
    private readonly keep: number,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
  }

  /** Takes a sample now (one at a time); a failed listing is skipped. */
  sample(): Promise<void> {
    this.sampling ??= this.list()
      .then((queues) => {
        const sample: QueueSample = {
          at: Date.now(),
          queues: Object.fromEntries(queues.map((q) => [q.name, { depth: q.depth, inFlight: q.inFlight, deadLetters: q.deadLetters }])),
        };
        this.ring.push(sample);
        if (this.ring.length > this.keep) this.ring.shift();
      })
      .catch(() => undefined)
      .finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  samples(): readonly QueueSample[] {
    return this.ring;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
  }
}
