/**
 * The NATS JetStream transport. See the package README for the mapping of topics and queues onto
 * streams, subjects and durable pull consumers, and for what each promise rests on.
 *
 * In short: every message goes into one interest-retention stream, `<P>_MSG`, under
 * `<p>.<slot>.t.<topic>` (publish) or `<p>.<slot>.q.<queue>` (send). A queue is a set of durable
 * pull consumers of that stream ("lanes"), one per subject it takes; every queue whose lane matches
 * a subject keeps its own copy (fan-out), and the instances of a queue pull from the same lanes
 * (competing consumers). The stream drops a message once every lane that took it acked it. With
 * the `batch` option, the unkeyed publishes and sends of one turn to one subject share JetStream
 * messages (`batch.ts`).
 *
 * @example
 * ```ts
 * const transport = new NatsTransport({ url: 'nats://127.0.0.1:4222' });
 * await transport.connect();
 * ```
 * @module
 */
import { connect, Events, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
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
import type { CommandOwnership, ConsumeOptions, Consumer, EnqueueOptions, QueueSpec } from '@missive/core/transport';
import { apiCode, ApiError } from './api-errors.js';
import { PublishBatcher } from './batch.js';
import { Bindings } from './bindings.js';
import { Confirmer } from './confirmer.js';
import { Handovers, type LaneStarts } from './handover.js';
import { encodeHeaders, NatsHeader, wireOf } from './message-codec.js';
import { NatsCommandOwners } from './nats-command-owners.js';
import { NatsConsumer, type ConsumerHost } from './nats-consumer.js';
import { NatsDeadLetters } from './nats-dead-letters.js';
import { resolveNatsOptions, type NatsOptions, type ResolvedNatsOptions } from './nats-options.js';
import { Naming, slotOf } from './naming.js';
import { Presence } from './presence.js';
import { listQueues } from './queue-listing.js';
import { Scheduler } from './scheduler.js';
import { ensureConsumer, ensureStreams, lanesFor } from './topology.js';
import { TemporaryQueue } from './temporary-queue.js';

/** Dependencies of a {@link NatsTransport}. */
export interface NatsDeps {
  readonly logger?: Logger;
}

/** A connection to NATS with JetStream. */
export class NatsTransport implements Transport, ConsumerHost {
  readonly kind = 'nats';
  readonly capabilities: TransportCapabilities;
  readonly options: ResolvedNatsOptions;
  readonly names: Naming;
  readonly logger: Logger;
  readonly deadLetters: NatsDeadLetters;
  /** The command owners, in the KV bucket `<PREFIX>_OWNERS` (see `nats-command-owners.ts`). */
  readonly commandOwners: CommandOwnership;
  /** Which queues have consumers, in the KV bucket `<PREFIX>_SEEN` (see `presence.ts`). */
  readonly presence: Presence;
  readonly bindings: Bindings;
  private readonly owners: NatsCommandOwners;
  private readonly handovers: Handovers;
  private nc_: NatsConnection | undefined;
  private jsm_: JetStreamManager | undefined;
  private js_: JetStreamClient | undefined;
  private confirmer_: Confirmer | undefined;
  /** This turn's batch messages (`batch` option above 1; see `batch.ts`). */
  private batcher: PublishBatcher | undefined;
  private scheduler: Scheduler | undefined;
  private readonly consumers = new Set<NatsConsumer>();
  private readonly temporary = new Map<string, TemporaryQueue>();
  private readonly routed = new Map<string, boolean>();
  /** The subject of each topic for unkeyed messages (see {@link topicSubject}). */
  private readonly unkeyed = new Map<string, string>();
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: NatsOptions, deps: NatsDeps = {}) {
    this.options = resolveNatsOptions(options);
    this.capabilities = {
      delayedDelivery: true,
      cancelScheduled: true,
      orderingKeys: true,
      multiProcess: true,
      binaryContent: this.options.contentMode === 'binary',
    };
    this.names = new Naming(this.options.prefix);
    this.logger = deps.logger ?? silentLogger;
    this.bindings = new Bindings(() => this.jsm(), this.names);
    this.deadLetters = new NatsDeadLetters(this);
    this.owners = new NatsCommandOwners(this, this.options.ownersBucket ?? this.names.owners);
    this.commandOwners = this.owners;
    this.presence = new Presence(this, this.names.seen);
    this.handovers = new Handovers(this);
  }

  get replicas(): number {
    return this.options.replicas;
  }

  js(): JetStreamClient {
    this.js_ ??= this.nc.jetstream();
    return this.js_;
  }

  /** Moves `from`'s lanes of `type` aside: `to` took it over (see `handover.ts`). */
  unbind(from: string, type: string, to: string): Promise<void> {
    return this.handovers.begin(from, type, to);
  }

  /** Records a running consumer of `queue` (see `presence.ts`); the function records its stop. */
  present(queue: string): () => Promise<void> {
    return this.presence.join(queue);
  }

  get nc(): NatsConnection {
    if (this.nc_ === undefined) throw new BusStateError(ErrorCode.NotStarted, 'the nats transport is not connected: call connect() first');
    return this.nc_;
  }

  get confirmer(): Confirmer {
    if (this.confirmer_ === undefined)
      throw new BusStateError(ErrorCode.NotStarted, 'the nats transport is not connected: call connect() first');
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

  /** Throws `BusStateError` `CLOSED` once `close()` was called: a closed connection would hang a consumer or fail as a `TransportError`. */
  private checkOpen(): void {
    if (this.closing !== undefined) throw new BusStateError(ErrorCode.Closed, 'the nats transport is closed');
  }

  connect(): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new BusStateError(ErrorCode.Closed, 'the nats transport is closed'));
    this.connecting ??= this.open().catch(async (error: unknown) => {
      // A failed start can be tried again (a cluster still electing its JetStream leader).
      this.confirmer_?.close();
      await this.nc_?.close().catch(() => undefined);
      this.nc_ = this.jsm_ = this.js_ = this.confirmer_ = this.batcher = undefined;
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
      throw new ConfigurationError(`NATS at ${o.shown} has no JetStream: start nats-server with -js (${(error as Error).message})`, {
        cause: error,
      });
    }
    this.confirmer_ = new Confirmer(this.nc_, o.publishTimeoutMs);
    if (o.batch > 1) this.batcher = new PublishBatcher(this.confirmer_, o.batch);
    this.scheduler = new Scheduler({
      nc: this.nc_,
      confirmer: this.confirmer_,
      stream: this.names.scheduled,
      consumer: this.names.scheduler,
      logger: this.logger,
    });
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

  private async ensureStreams(): Promise<void> {
    await ensureStreams(this.jsm(), this.names, this.options.replicas);
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
      await this.handovers.finishAll();
      await this.presence.settle();
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

  async declare(spec: QueueSpec): Promise<void> {
    await this.connect();
    if (spec.temporary === true) {
      if (spec.topics.length > 0)
        throw new ConfigurationError(`temporary queue ${spec.name} cannot take topics on NATS (it lives on core NATS only)`);
      if (!this.temporary.has(spec.name))
        this.temporary.set(spec.name, new TemporaryQueue(this.nc, this.names.temporarySubject(spec.name)));
      return;
    }
    await this.bindings.refresh();
    const existing = this.bindings.lanesOf(spec.name);
    const ordered = existing.length > 0 ? existing.some((l) => l.name.endsWith('!_')) : spec.ordered === true;
    if (existing.length > 0 && ordered !== (spec.ordered === true) && spec.ordered === true) {
      this.logger.warn({ queue: spec.name }, 'nats: queue was declared unordered first; it stays unordered (delete it to make it ordered)');
    }
    const wanted = lanesFor(spec, ordered, this.names, this.options).filter((w) => !existing.some((l) => l.name === w.lane.name));
    const created = await Promise.all(wanted.map((w) => ensureConsumer(this.jsm(), this.names.messages, w.config)));
    this.bindings.add(wanted.map((w) => w.lane));
    this.routed.clear();
    // A lane made here has every message after its start; one that existed has had them all along.
    const starts: LaneStarts = [
      ...wanted.map((w, i) => ({ filter: w.lane.filter, after: created[i]?.delivered.stream_seq ?? 0 })),
      ...existing.map((l) => ({ filter: l.filter, after: 0 })),
    ];
    await this.handovers.finish(spec.name, starts);
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

  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    // An event published now (the usual case): straight to the confirmer, no async frame of its own.
    if (this.confirmer_ !== undefined && this.closing === undefined && options?.mandatory !== true && options?.notBefore === undefined) {
      try {
        const wire = wireOf(message, topic);
        const subject = this.topicSubject(topic, message.partitionKey);
        if (this.batcher !== undefined && message.partitionKey === undefined) return this.batcher.add(subject, wire, message.id);
        return this.confirmer_.publish(subject, wire.data, wire.headers);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error))); // a header value nats.js refuses: a rejection, as from the checked path
      }
    }
    return this.publishChecked(topic, message, options);
  }

  /** The subject of `topic` for a message with `partitionKey` (the unkeyed one kept per topic). */
  private topicSubject(topic: string, partitionKey: string | undefined): string {
    if (partitionKey !== undefined) return this.names.topicSubject(topic, slotOf(partitionKey));
    let subject = this.unkeyed.get(topic);
    if (subject === undefined) {
      subject = this.names.topicSubject(topic, slotOf(undefined));
      if (this.unkeyed.size >= 10_000) this.unkeyed.clear(); // topics are the application's message types: a few; bounded all the same
      this.unkeyed.set(topic, subject);
    }
    return subject;
  }

  private async publishChecked(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    this.checkOpen();
    if (this.confirmer_ === undefined) await this.connect();
    const subject = this.topicSubject(topic, message.partitionKey);
    if (options?.mandatory === true && !this.routes(subject)) {
      await this.bindings.refresh();
      this.routed.clear();
      if (!this.routes(subject)) throw new UnroutableError(topic);
    }
    if (options?.notBefore !== undefined && options.notBefore > Date.now())
      return this.schedule(subject, message, options.notBefore, options.scheduleId);
    const wire = wireOf(message, topic);
    await this.confirmer.publish(subject, wire.data, wire.headers);
  }

  async send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    this.checkOpen();
    if (this.confirmer_ === undefined) await this.connect();
    if (!this.bindings.has(queue)) {
      if (options?.notBefore === undefined) {
        try {
          const wire = wireOf(message);
          await this.confirmer.publish(this.names.temporarySubject(queue), wire.data, wire.headers, 'unroutable');
          return;
        } catch (error) {
          if ((error as { code?: string }).code !== ErrorCode.Unroutable) throw error;
        }
      }
      if (!(await this.declared(queue))) throw new UnroutableError(queue, 'no such queue');
    }
    const subject = this.names.queueSubject(queue, slotOf(message.partitionKey));
    if (options?.notBefore !== undefined && options.notBefore > Date.now())
      return this.schedule(subject, message, options.notBefore, options.scheduleId);
    const wire = wireOf(message);
    // Sends of one turn to one queue share batch messages too (unkeyed ones: a key has its own subject and lane).
    if (this.batcher !== undefined && message.partitionKey === undefined) await this.batcher.add(subject, wire, message.id);
    else await this.confirmer.publish(subject, wire.data, wire.headers);
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
      if (apiCode(error) === ApiError.NoMessageFound) return false;
      throw error;
    }
    try {
      return await this.jsm().streams.deleteMessage(this.names.scheduled, seq, false);
    } catch (error) {
      if (apiCode(error) === ApiError.NoMessageFound) return false; // forwarded (or cancelled) meanwhile
      throw error;
    }
  }

  consume(queue: string, options: ConsumeOptions): Consumer {
    this.checkOpen(); // not a consumer that waits on a closed connection for good: say why
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
    return listQueues(this);
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
        if (apiCode(error) !== ApiError.ConsumerNotFound) throw error;
      }
    }
    this.bindings.remove(name);
    this.routed.clear();
    await this.deadLetters.purgeQueue(name);
    await this.owners.release(name);
    await this.presence.forget(name);
  }

  // --- ConsumerHost ---------------------------------------------------------------------------

  async storedHeaders(lane: string, streamSeq: number): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const stored = await this.jsm().streams.getMessage(this.names.retries, { last_by_subj: this.names.retrySubject(lane, streamSeq) });
      return JSON.parse(new TextDecoder().decode(stored.data)) as Record<string, string>;
    } catch (error) {
      if (apiCode(error) === ApiError.NoMessageFound) return undefined;
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

  async deadLettered(queue: string, id: string, dedupId: string): Promise<boolean> {
    return (await this.deadLetters.dedupIdOf(queue, id)) === dedupId;
  }

  directSubject(queue: string): string {
    return this.names.queueSubject(queue, slotOf(undefined));
  }

  scheduleSubject(scheduleId: string): string {
    return this.names.scheduleSubject(scheduleId);
  }
}
