/**
 * The transport's slow poll, the fallback of every wake-up: every `pollMs` it moves due scheduled
 * messages into their queues, reaps dead transports (at most once a second, see `pg-reaper.ts`),
 * wakes every consumer and re-arms the due timer from the database. The timer keeps the process
 * alive only while the transport has consumers, as a broker's socket would.
 *
 * @example
 * ```ts
 * const poll = new Poll(host);
 * poll.start();
 * ```
 * @module
 */
import type { Logger } from '@missive/core';
import type { DueTimer } from './pg-due-timer.js';
import { reapDeadConnections, type ReaperDeps } from './pg-reaper.js';

const REAP_MS = 1000;

/** What the poll needs of the transport. */
export interface PollHost extends ReaperDeps {
  readonly logger: Logger;
  readonly pollMs: number;
  readonly due: Pick<DueTimer, 'promote' | 'armFromDatabase'>;
  isOpen(): boolean;
  /** Wakes every consumer of this transport. */
  wakeAll(): void;
}

/** The poll timer. */
export class Poll {
  private timer: NodeJS.Timeout | undefined;
  private lastReap = 0;

  constructor(private readonly host: PollHost) {}

  /** Starts polling (the timer does not keep the process alive until {@link hold}). */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.host.pollMs);
    this.timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether the timer keeps the process alive (while the transport has consumers). */
  hold(alive: boolean): void {
    if (alive) this.timer?.ref();
    else this.timer?.unref();
  }

  /** The poll: promote due messages, reap dead connections, wake everyone, re-arm the due timer. */
  tick(): void {
    if (!this.host.isOpen()) return;
    void (async () => {
      try {
        await this.host.due.promote();
        await this.reap(false);
        this.host.wakeAll();
        await this.host.due.armFromDatabase();
      } catch (error) {
        // A tick under way when the transport closed (or lost its link: that is logged once) fails quietly.
        if (this.host.isOpen()) this.host.logger.warn({ err: error }, 'postgres transport poll failed; it will try again');
      }
    })();
  }

  /** Reaps dead transports (see `pg-reaper.ts`), at most once a second unless forced. */
  async reap(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastReap < REAP_MS) return;
    this.lastReap = now;
    const reaped = await reapDeadConnections(this.host);
    if (reaped > 0) {
      this.host.logger.info(`postgres transport reaped ${reaped} dead connection(s)`);
      this.host.wakeAll();
    }
  }
}
