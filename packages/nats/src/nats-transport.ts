/**
 * The NATS JetStream transport. See the package README for the mapping of topics and queues onto
 * streams, subjects and durable pull consumers, and for what each promise rests on.
 *
 * In short: every message goes into one interest-retention stream, `<P>_MSG`, under
 * `<p>.<slot>.t.<topic>` (publish) or `<p>.<slot>.q.<queue>` (send). A queue is a set of durable
 * pull consumers of that stream ("lanes"), one per subject it takes; every queue whose lane matches
 * a subject keeps its own copy (fan-out), and the instances of a queue pull from the same lanes
 * (competing consumers). The stream drops a message once every lane that took it acked it.
 *
 * @example
 * ```ts
 * const transport = new NatsTransport({ url: 'nats://127.0.0.1:4222' });
 * await transport.connect();
 * ```
 * @module
 */
import { AckPolicy, connect, DeliverPolicy, Events, nanos, RetentionPolicy, StorageType, type ConsumerConfig, type JetStreamManager, type NatsConnection, type StreamConfig } from 'nats';
import {
  BusStateError,
  ConfigurationError,
  ErrorCode,
  silentLogger,
  TransportError,
  UnroutableError,
  type DeadLetterFailure,
  type Logger,
  type QueueInfo,
  type Transport,
  type TransportCapabilities,
  type TransportMessage,
} from '@missive/core';
import { checkTopicPattern, type Consumer, type ConsumeOptions, type EnqueueOptions, type QueueSpec } from '@missive/core/transport';
import { Bindings, laneOf, type LaneInfo } from './bindings.js';
import { Confirmer } from './confirmer.js';
import { encodeHeaders, NatsHeader } from './message-codec.js';
import { NatsConsumer, type ConsumerHost } from './nats-consumer.js';
import { NatsDeadLetters } from './nats-dead-letters.js';
import { resolveNatsOptions, type NatsOptions, type ResolvedNatsOptions } from './nats-options.js';
import { Naming, patternSubjects, queueFromToken, queueToken, shortHash, slotOf, SLOTS } from './naming.js';
import { Scheduler } from './scheduler.js';
import { TemporaryQueue } from './temporary-queue.js';

/** Dependencies of a {@link NatsTransport}. */
export interface NatsDeps {
  readonly logger?: Logger;
}

const DUPLICATE_WINDOW_MS = 120_000;
const STORED_HEADERS_MAX_AGE_MS = 7 * 24 * 3600_000;

function apiCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } }).api_error?.err_code;
}

/** A connection to NATS with JetStream. */
export class NatsTransport implements Transport, ConsumerHost {
  readonly kind = 'nats';
  readonly capabilities: TransportCapabilities = { delayedDelivery: true, cancelScheduled: true, orderingKeys: true, multiProcess: true };
  readonly options: ResolvedNatsOptions;
  readonly names: Naming;
  readonly logger: Logger;
  readonly deadLetters: NatsDeadLetters;
  private nc_: NatsConnection | undefined;
  private jsm_: JetStreamManager | undefined;
  private confirmer_: Confirmer | undefined;
  private bindings: Bindings;
  private scheduler: Scheduler | undefined;
  private readonly consumers = new Set<NatsConsumer>();
  private readonly temporary = new Map<string, TemporaryQueue>();
  private readonly routed = new Map<string, boolean>();
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: NatsOptions, deps: NatsDeps = {}) {
    this.options = resolveNatsOptions(options);
    this.names = new Naming(this.options.prefix);
    this.logger = deps.logger ?? silentLogger;
    this.bindings = new Bindings(() => this.jsm(), this.names);
    this.deadLetters = new NatsDeadLetters(this);
  }

  get nc(): NatsConnection {
    if (this.nc_ === undefined) throw new BusStateError(ErrorCode.NotStarted, 'the nats transport is not connected: call connect() first');
    return this.nc_;
  }

  get confirmer(): Confirmer {
    if (this.confirmer_ === undefined) throw new BusStateError(ErrorCode.NotStarted, 'the nats transport is not connected: call connect() first');
    return this.confirmer_;
  }

  get stream(): string {
    return this.names.messages;
  }

  get ackWaitMs(): number {
    return this.options.ackWaitMs;
  }

  get confirmAcks(): boolean {
    return this.options.confirmAcks;
  }

  jsm(): JetStreamManager {
    if (this.jsm_ === undefined) throw new BusStateError(ErrorCode.NotStarted, 'the nats transport is not connected: call connect() first');
    return this.jsm_;
  }

  connect(): Promise<void> {
    this.connecting ??= this.open().catch(async (error: unknown) => {
      // A failed start can be tried again (a cluster still electing its JetStream leader).
      this.confirmer_?.close();
      await this.nc_?.close().catch(() => undefined);
      this.nc_ = this.jsm_ = this.confirmer_ = undefined;
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const o = this.options;
    try {
      this.nc_ = await connect({
        servers: o.servers,
        name: o.name,
        user: o.user,
        pass: o.pass,
        token: o.token,
        tls: o.tls as never,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 5_000,
        maxPingOut: 2,
      });
    } catch (error) {
      throw new TransportError(`cannot connect to NATS at ${o.shown}: ${(error as Error).message}`, { cause: error });
    }
    try {
      this.jsm_ = await this.nc_.jetstreamManager();
    } catch (error) {
      throw new ConfigurationError(`NATS at ${o.shown} has no JetStream: start nats-server with -js (${(error as Error).message})`, { cause: error });
    }
    this.confirmer_ = new Confirmer(this.nc_, o.publishTimeoutMs);
    this.scheduler = new Scheduler({ nc: this.nc_, confirmer: this.confirmer_, stream: this.names.scheduled, consumer: this.names.scheduler, logger: this.logger });
    await this.ensureStreams();
    void this.watchStatus(this.nc_);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      const server = typeof status.data === 'string' ? status.data : undefined;
      if (status.type === Events.Reconnect) {
        this.logger.info({ server }, 'nats: reconnected');
        for (const consumer of this.consumers) consumer.reset();
        if (this.scheduler?.running === true) this.scheduler.reset();
      } else if (status.type === Events.Disconnect) {
        this.logger.warn({ server }, 'nats: disconnected; reconnecting');
      }
    }
  }

  private async ensureStream(config: Partial<StreamConfig> & { name: string }): Promise<void> {
    const jsm = this.jsm();
    try {
      await jsm.streams.info(config.name);
      return;
    } catch (error) {
      if (apiCode(error) !== 10059) throw error;
    }
    try {
      await jsm.streams.add({ storage: StorageType.File, num_replicas: this.options.replicas, ...config });
    } catch (error) {
      // Another process may have created it first (the server then says "name already in use" or
      // "subjects overlap"): fine if it is there now.
      await jsm.streams.info(config.name).catch(() => {
        throw error;
      });
    }
  }

  private async ensureStreams(): Promise<void> {
    const p = this.names.prefix;
    await Promise.all([
      this.ensureStream({ name: this.names.messages, subjects: [`${p}.*.t.>`, `${p}.*.q.>`], retention: RetentionPolicy.Interest, duplicate_window: nanos(DUPLICATE_WINDOW_MS) }),
      this.ensureStream({ name: this.names.deadLetters, subjects: [`${p}.x.dlq.>`], retention: RetentionPolicy.Limits, duplicate_window: nanos(DUPLICATE_WINDOW_MS) }),
      this.ensureStream({ name: this.names.scheduled, subjects: [`${p}.x.sched.>`], retention: RetentionPolicy.Workqueue, duplicate_window: nanos(DUPLICATE_WINDOW_MS) }),
      this.ensureStream({ name: this.names.retries, subjects: [`${p}.x.retry.>`], retention: RetentionPolicy.Limits, max_msgs_per_subject: 1, max_age: nanos(STORED_HEADERS_MAX_AGE_MS) }),
    ]);
    await this.ensureConsumer(this.names.scheduled, {
      durable_name: this.names.scheduler,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      max_deliver: -1,
      max_ack_pending: 100_000,
    });
  }

  private async ensureConsumer(stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
    try {
      await this.jsm().consumers.add(stream, config);
    } catch (error) {
      const code = apiCode(error);
      if (code !== 10148 && code !== 10013) throw error; // exists with another configuration: keep it
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.connecting?.catch(() => undefined);
      for (const consumer of [...this.consumers]) consumer.drop();
      for (const queue of this.temporary.values()) await queue.close();
      this.temporary.clear();
      this.scheduler?.stop();
      const nc = this.nc_;
      if (nc === undefined || nc.isClosed()) return;
      this.confirmer_?.flush(); // acks and nacks of this turn go out before the connection flushes
      try {
        await nc.flush();
      } catch {
        /* closing anyway */
      }
      this.confirmer_?.close();
      await nc.close();
    })();
    return this.closing;
  }

  private lanesFor(spec: QueueSpec, ordered: boolean): { config: Partial<ConsumerConfig> & { durable_name: string }; lane: LaneInfo }[] {
    const token = queueToken(spec.name);
    const out: { config: Partial<ConsumerConfig> & { durable_name: string }; lane: LaneInfo }[] = [];
    const subjects: { kind: string; filter: (slot: string) => string; pattern: string | undefined }[] = [{ kind: 'd', filter: (slot) => this.names.queueSubject(spec.name, slot), pattern: undefined }];
    for (const pattern of spec.topics) {
      checkTopicPattern(pattern);
      const filters = patternSubjects(pattern);
      if (filters === undefined) throw new ConfigurationError(`topic pattern "${pattern}" has "#" before its end, which NATS subjects cannot express: put "#" last or use "*"`);
      for (const f of filters) subjects.push({ kind: `t${shortHash(f)}`, filter: (slot) => this.names.topicSubject(f, slot), pattern });
    }
    for (const s of subjects) {
      for (const slot of ordered ? SLOTS : ['*']) {
        const serial = ordered && slot !== '_';
        const name = `${token}!${s.kind}${ordered ? `!${slot}` : ''}`;
        const filter = s.filter(slot);
        out.push({
          config: {
            durable_name: name,
            filter_subject: filter,
            description: s.pattern,
            ack_policy: AckPolicy.Explicit,
            ack_wait: nanos(this.options.ackWaitMs),
            max_deliver: this.options.maxDeliver,
            max_ack_pending: serial ? 1 : 20_000,
            deliver_policy: DeliverPolicy.New,
          },
          lane: { name, queue: spec.name, filter, pattern: s.pattern, serial, pending: 0, ackPending: 0 },
        });
      }
    }
    return out;
  }

  async declare(spec: QueueSpec): Promise<void> {
    await this.connect();
    if (spec.temporary === true) {
      if (spec.topics.length > 0) throw new ConfigurationError(`temporary queue ${spec.name} cannot take topics on NATS (it lives on core NATS only)`);
      if (!this.temporary.has(spec.name)) this.temporary.set(spec.name, new TemporaryQueue(this.nc, this.names.temporarySubject(spec.name)));
      return;
    }
    await this.bindings.refresh();
    const existing = this.bindings.lanesOf(spec.name);
    const ordered = existing.length > 0 ? existing.some((l) => l.name.endsWith('!_')) : spec.ordered === true;
    if (existing.length > 0 && ordered !== (spec.ordered === true) && spec.ordered === true) {
      this.logger.warn({ queue: spec.name }, 'nats: queue was declared unordered first; it stays unordered (delete it to make it ordered)');
    }
    const wanted = this.lanesFor(spec, ordered).filter((w) => !existing.some((l) => l.name === w.lane.name));
    await Promise.all(wanted.map((w) => this.ensureConsumer(this.names.messages, w.config)));
    this.bindings.add(wanted.map((w) => w.lane));
    this.routed.clear();
  }

  private routes(subject: string): boolean {
    let known = this.routed.get(subject);
    if (known === undefined) {
      known = this.bindings.routes(subject);
      if (known) this.routed.set(subject, known);
    }
    return known;
  }

  async declared(queue: string): Promise<boolean> {
    if (this.bindings.has(queue)) return true;
    await this.bindings.refresh();
    this.routed.clear();
    return this.bindings.has(queue);
  }

  async publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    if (this.confirmer_ === undefined) await this.connect();
    const subject = this.names.topicSubject(topic, slotOf(message.partitionKey));
    if (options?.mandatory === true && !this.routes(subject)) {
      await this.bindings.refresh();
      this.routed.clear();
      if (!this.routes(subject)) throw new UnroutableError(topic);
    }
    if (options?.notBefore !== undefined && options.notBefore > Date.now()) return this.schedule(subject, message, options.notBefore, options.scheduleId);
    await this.confirmer.publish(subject, message.body, encodeHeaders(message));
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    if (this.confirmer_ === undefined) await this.connect();
    if (!this.bindings.has(queue)) {
      if (options?.notBefore === undefined) {
        try {
          await this.confirmer.publish(this.names.temporarySubject(queue), message.body, encodeHeaders(message), 'unroutable');
          return;
        } catch (error) {
          if ((error as { code?: string }).code !== ErrorCode.Unroutable) throw error;
        }
      }
      if (!(await this.declared(queue))) throw new UnroutableError(queue, 'no such queue');
    }
    const subject = this.names.queueSubject(queue, slotOf(message.partitionKey));
    if (options?.notBefore !== undefined && options.notBefore > Date.now()) return this.schedule(subject, message, options.notBefore, options.scheduleId);
    await this.confirmer.publish(subject, message.body, encodeHeaders(message));
  }

  private async schedule(target: string, message: TransportMessage, notBefore: number, scheduleId: string | undefined): Promise<void> {
    const id = scheduleId ?? `m:${message.id}`;
    const h = encodeHeaders(message, `sched:${id}`);
    h.set(NatsHeader.Due, String(notBefore));
    h.set(NatsHeader.Target, target);
    await this.confirmer.publish(this.names.scheduleSubject(id), message.body, h);
  }

  async cancelScheduled(scheduleId: string): Promise<boolean> {
    await this.connect();
    // Delete the one message, not a purge: on 2.9 a filtered purge moves the scheduler consumer's
    // ack floor past messages it still holds (nacked until due), which would lose them.
    let seq: number;
    try {
      seq = (await this.jsm().streams.getMessage(this.names.scheduled, { last_by_subj: this.names.scheduleSubject(scheduleId) })).seq;
    } catch (error) {
      if (apiCode(error) === 10037) return false;
      throw error;
    }
    try {
      return await this.jsm().streams.deleteMessage(this.names.scheduled, seq, false);
    } catch (error) {
      if (apiCode(error) === 10037) return false; // forwarded (or cancelled) meanwhile
      throw error;
    }
  }

  consume(queue: string, options: ConsumeOptions): Consumer {
    const temporary = this.temporary.get(queue);
    if (temporary !== undefined) return temporary;
    const lanes = (async () => {
      await this.connect();
      if (!(await this.declared(queue))) throw new UnroutableError(queue, 'the queue is not declared');
      this.scheduler?.start();
      return this.bindings.lanesOf(queue);
    })();
    const consumer = new NatsConsumer(this, queue, Math.max(1, options.prefetch), lanes);
    this.consumers.add(consumer);
    return consumer;
  }

  forget(consumer: NatsConsumer): void {
    this.consumers.delete(consumer);
  }

  async queues(): Promise<QueueInfo[]> {
    await this.connect();
    const lanes: LaneInfo[] = [];
    for await (const info of this.jsm().consumers.list(this.names.messages)) {
      const lane = laneOf(info);
      if (lane !== undefined) lanes.push(lane);
    }
    const dead = await this.deadLetters.counts();
    const byQueue = new Map<string, { depth: number; inFlight: number; topics: Set<string> }>();
    for (const lane of lanes) {
      const entry = byQueue.get(lane.queue) ?? { depth: 0, inFlight: 0, topics: new Set<string>() };
      entry.depth += lane.pending;
      entry.inFlight += lane.ackPending;
      if (lane.pattern !== undefined) entry.topics.add(lane.pattern);
      byQueue.set(lane.queue, entry);
    }
    for (const token of dead.keys()) {
      const name = queueFromToken(token);
      if (!byQueue.has(name)) byQueue.set(name, { depth: 0, inFlight: 0, topics: new Set() });
    }
    return [...byQueue].map(([name, e]) => ({ name, depth: e.depth, inFlight: e.inFlight, deadLetters: dead.get(queueToken(name)) ?? 0, topics: [...e.topics] }));
  }

  async deleteQueue(name: string): Promise<void> {
    await this.connect();
    const temporary = this.temporary.get(name);
    if (temporary !== undefined) {
      await temporary.close();
      this.temporary.delete(name);
      return;
    }
    await this.bindings.refresh();
    for (const lane of this.bindings.lanesOf(name)) {
      try {
        await this.jsm().consumers.delete(this.names.messages, lane.name);
      } catch (error) {
        if (apiCode(error) !== 10014) throw error;
      }
    }
    this.bindings.remove(name);
    this.routed.clear();
    await this.deadLetters.purgeQueue(name);
  }

  // --- ConsumerHost ---------------------------------------------------------------------------

  async storedHeaders(lane: string, streamSeq: number): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const stored = await this.jsm().streams.getMessage(this.names.retries, { last_by_subj: this.names.retrySubject(lane, streamSeq) });
      return JSON.parse(new TextDecoder().decode(stored.data)) as Record<string, string>;
    } catch (error) {
      if (apiCode(error) === 10037) return undefined;
      throw error;
    }
  }

  async storeHeaders(lane: string, streamSeq: number, headers: Readonly<Record<string, string>>): Promise<void> {
    await this.confirmer.publish(this.names.retrySubject(lane, streamSeq), new TextEncoder().encode(JSON.stringify(headers)), undefined);
  }

  forgetHeaders(lane: string, streamSeq: number): void {
    this.jsm()
      .streams.purge(this.names.retries, { filter: this.names.retrySubject(lane, streamSeq) })
      .catch((error: unknown) => this.logger.debug({ err: error }, 'nats: stored headers not purged (they age out)'));
  }

  deadLetter(queue: string, message: TransportMessage, failure: DeadLetterFailure, dedupId: string): Promise<void> {
    return this.deadLetters.store(queue, message, failure, dedupId);
  }
}
