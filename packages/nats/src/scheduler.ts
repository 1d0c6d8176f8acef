/**
 * Delayed and scheduled messages on nats-server 2.9, which has no delayed delivery of its own: a
 * scheduled message is stored in the `<P>_SCHED` work-queue stream under `<p>.sched.<schedule id>`
 * with its due time and its destination subject in headers. Every consuming process runs this
 * scheduler on one shared durable consumer of that stream: a message that is not due yet is nacked
 * with a delay until its due time (JetStream keeps that timer, durably, and hands it to whichever
 * scheduler asks next); a due one is published to its destination under `Nats-Msg-Id`
 * `sched:<schedule id>` (a forward repeated after a crash is stored once) and then acked.
 * Cancelling purges the schedule id's subject: a message not yet forwarded is gone.
 *
 * Newer servers move this into the stream: 2.11 has per-message TTLs, and later releases have
 * scheduled (delayed) messages of their own.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler(host);
 * scheduler.start();
 * ```
 * @module
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from '@missive/core';
import type { Confirmer } from './confirmer.js';
import { decodeMessage, encodeHeaders, NatsHeader } from './message-codec.js';

const BATCH = 256;
const EXPIRES_MS = 30_000;
const HEARTBEAT_MS = 5_000;
const encoder = new TextEncoder();

/** What the scheduler needs from its transport. */
export interface SchedulerHost {
  readonly nc: NatsConnection;
  readonly confirmer: Confirmer;
  readonly stream: string;
  readonly consumer: string;
  readonly logger: Logger;
}

/** The scheduler loop of one connection. */
export class Scheduler {
  private readonly inbox = createInbox();
  private subscription: Subscription | undefined;
  private requested = 0;
  private heardAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: SchedulerHost) {}

  get running(): boolean {
    return this.subscription !== undefined;
  }

  start(): void {
    if (this.subscription !== undefined) return;
    this.subscription = this.host.nc.subscribe(this.inbox, { callback: (_error, msg) => this.receive(msg) });
    this.timer = setInterval(() => {
      if (this.requested > 0 && Date.now() - this.heardAt > HEARTBEAT_MS * 3) this.reset();
    }, HEARTBEAT_MS);
    this.timer.unref();
    this.pull();
  }

  /** After a reconnect or a silent request: ask again. */
  reset(): void {
    this.requested = 0;
    this.pull();
  }

  stop(): void {
    clearInterval(this.timer);
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private pull(): void {
    if (this.subscription === undefined || this.requested > BATCH / 2) return;
    const batch = BATCH - this.requested;
    this.requested += batch;
    this.heardAt = Date.now();
    const body = `{"batch":${batch},"expires":${EXPIRES_MS * 1_000_000},"idle_heartbeat":${HEARTBEAT_MS * 1_000_000}}`;
    try {
      this.host.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.host.stream}.${this.host.consumer}`, encoder.encode(body), {
        reply: this.inbox,
      });
    } catch {
      this.requested -= batch;
    }
  }

  private receive(msg: Msg): void {
    this.heardAt = Date.now();
    const code = msg.headers?.code ?? 0;
    if (code !== 0 || !msg.reply) {
      if (code === 100) return;
      const left = Number(msg.headers?.get('Nats-Pending-Messages') || NaN);
      this.requested = Number.isNaN(left) ? 0 : Math.max(0, this.requested - left);
      this.pull();
      return;
    }
    this.requested = Math.max(0, this.requested - 1);
    this.pull();
    const due = Number(msg.headers?.get(NatsHeader.Due) || 0);
    const wait = due - Date.now();
    if (wait > 0) {
      this.host.nc.publish(msg.reply, `-NAK {"delay":${wait * 1_000_000}}`);
      return;
    }
    void this.forward(msg);
  }

  private async forward(msg: Msg): Promise<void> {
    const reply = msg.reply ?? '';
    const target = msg.headers?.get(NatsHeader.Target) ?? '';
    try {
      const message = decodeMessage(msg.data, msg.headers);
      const h = encodeHeaders(message, `sched:${msg.subject}`);
      const prior = msg.headers?.get(NatsHeader.Deliveries) ?? '';
      if (prior !== '') h.set(NatsHeader.Deliveries, prior); // a member of a batch message nacked with a delay (see batch.ts)
      await this.host.confirmer.publish(target, message.body, h);
      await this.host.confirmer.settle(reply, '+ACK');
    } catch (error) {
      const unroutable = (error as { code?: string }).code === 'UNROUTABLE';
      this.host.logger.warn(
        { target, err: error },
        unroutable
          ? 'nats: a scheduled message has no destination any more; dropped'
          : 'nats: forwarding a scheduled message failed; it is tried again',
      );
      try {
        this.host.nc.publish(reply, unroutable ? '+TERM' : '-NAK {"delay":1000000000}');
      } catch {
        // The connection closed (the transport is stopping): the server redelivers the unacked message.
      }
    }
  }
}
