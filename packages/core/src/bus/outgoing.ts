/**
 * The bus's outgoing side: builds each message's envelope (validated, traced, correlated with the
 * message being handled), runs publish middleware, and hands the encoded message to the
 * transport. Also what the outbox needs: `prepare` (build now, inside a transaction) and
 * `dispatchPrepared` (send the committed bytes later), and replies to queries.
 *
 * @example
 * ```ts
 * const outgoing = new Outgoing({ service: 'shop', clock, codec, ... });
 * await outgoing.dispatch(undefined, OrderPlaced, 'event', { orderId: 'o-1' }, undefined, undefined, undefined);
 * ```
 * @module
 */
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import { BusStateError, ConfigurationError, ErrorCode, UnroutableError, rejection, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Codec } from '../message/codec.js';
import { createEnvelope, sourceOf, type Envelope, type MessageKind } from '../message/envelope.js';
import { Timestamps } from '../message/timestamps.js';
import { replyTypeOf, type AnyContract, type CommandContract, type EventContract, type QueryContract } from '../contracts/contract.js';
import { validate } from '../contracts/validate.js';
import type { PublishOptions, SendOptions } from '../consume/context.js';
import { compose } from '../consume/pipeline.js';
import { InFlightList } from '../transport/in-flight-list.js';
import { InProcessMessage } from '../transport/in-process-message.js';
import { BinaryMessage } from '../transport/binary-message.js';
import type { Transport, TransportMessage } from '../transport/transport.js';
import type { OutboxRecord } from '../workflows/message-store.js';
import { faultContractOf, type Fault } from '../observe/fault-events.js';
import type { BusMetrics } from '../observe/metrics.js';
import { spanContextOf } from '../observe/trace-context.js';
import type { MessageTracing, ProducerSpan } from '../observe/tracing.js';
import type { BusState } from './bus-core.js';
import { LoopTurns } from './loop-turns.js';
import { describe, dueTime } from './outgoing-checks.js';
import type { PublishContext, PublishMiddleware } from './publish-context.js';

/** What the outgoing side takes from its bus. */
export interface OutgoingOptions {
  readonly service: string;
  readonly clock: Clock;
  readonly codec: Codec;
  readonly logger: Logger;
  readonly tracing: MessageTracing;
  readonly metrics: BusMetrics;
  readonly validateOutgoing: boolean;
  readonly middleware: readonly PublishMiddleware[];
  /** Publish fault events of dead letters. */
  readonly faultEvents: boolean;
  /** The connected transport; throws before `start`. */
  transport(): Transport;
  state(): BusState;
}

const SCHEDULE_ID = Symbol('scheduleId');
const PREPARED = Symbol('prepared');
const EMPTY_ITEMS = new Map<unknown, unknown>();
const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The bus's outgoing side. */
export class Outgoing {
  /** The contracts sent so far, by name. */
  private readonly sentTypes = new Map<string, AnyContract>();
  private readonly clock: Clock;
  private readonly codec: Codec;
  private readonly validateOutgoing: boolean;
  private readonly tracing: MessageTracing;
  private readonly meters: BusMetrics;
  private readonly source: string;
  private readonly timestamps = new Timestamps();
  /** Lets the event loop turn at least every 10 ms while sends complete without I/O. */
  private readonly turns = new LoopTurns(10);
  /** Sends under way; `stop` waits for them before it closes the transport. */
  private readonly sending = new InFlightList<Promise<void>>();
  private readonly outgoing: ((ctx: PublishContext) => Promise<void>) | undefined;
  private readonly faultContracts: Map<string, EventContract> | undefined;
  /** The last outbox message relayed: when, and how long after its commit. */
  private lastRelay_: { readonly at: number; readonly lagMs: number } | undefined;

  constructor(private readonly options: OutgoingOptions) {
    this.clock = options.clock;
    this.codec = options.codec;
    this.validateOutgoing = options.validateOutgoing;
    this.tracing = options.tracing;
    this.meters = options.metrics;
    this.source = sourceOf(options.service);
    this.faultContracts = options.faultEvents ? new Map() : undefined;
    this.outgoing = options.middleware.length === 0 ? undefined : compose(options.middleware, (ctx) => this.deliver(ctx));
  }

  /** The last outbox message relayed: when, and how long after its commit. */
  get lastRelay(): { readonly at: number; readonly lagMs: number } | undefined {
    return this.lastRelay_;
  }

  /** Settles when every send under way has (`stop` waits for it before closing the transport). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.sending.toArray());
  }

  publishFrom(parent: Envelope | undefined, contract: EventContract, payload: unknown, options?: PublishOptions): Promise<void> {
    if (contract?.kind !== 'event')
      return Promise.reject(
        new ConfigurationError(`publish takes an event contract; ${describe(contract)} is not one (use send for commands)`),
      );
    return this.dispatch(parent, contract, 'event', payload, options, undefined, undefined);
  }

  sendFrom(parent: Envelope | undefined, contract: CommandContract, payload: unknown, options?: SendOptions): Promise<void> {
    if (contract?.kind !== 'command')
      return Promise.reject(new ConfigurationError(`send takes a command contract; ${describe(contract)} is not one`));
    return this.dispatch(parent, contract, 'command', payload, options, options?.to, undefined);
  }

  /** The contracts sent so far, each once (see `Bus.describe`). */
  sentContracts(): AnyContract[] {
    return [...this.sentTypes.values()];
  }

  /**
   * Builds, validates, encodes and hands one message to the transport. Not `async`: a synchronous
   * schema and a transport that takes the message at once cost one promise (the transport's) and
   * one reaction to it; the result is the same as an async function's (a throw becomes a rejection).
   */
  dispatch(
    parent: Envelope | undefined,
    contract: AnyContract,
    kind: MessageKind,
    payload: unknown,
    options: (PublishOptions & { readonly to?: string | undefined }) | undefined,
    to: string | undefined,
    scheduleId: string | undefined,
    replyTo?: string,
  ): Promise<void> {
    const state = this.options.state();
    if (state !== 'started' && state !== 'stopping') {
      return Promise.reject(
        new BusStateError(
          state === 'stopped' ? ErrorCode.Closed : ErrorCode.NotStarted,
          `bus ${this.options.service} is ${state === 'stopped' ? 'stopped' : 'not started'}: cannot send ${contract.name}`,
        ),
      );
    }
    if (!this.sentTypes.has(contract.name)) this.sentTypes.set(contract.name, contract);
    if (!this.validateOutgoing) return this.dispatchValid(parent, contract, kind, payload, payload, options, to, scheduleId, replyTo);
    let data: unknown;
    try {
      data = validate(contract.schema, contract.name, payload);
    } catch (error) {
      return rejection(error);
    }
    if (data instanceof Promise) {
      return data.then((valid: unknown) => this.dispatchValid(parent, contract, kind, payload, valid, options, to, scheduleId, replyTo));
    }
    return this.dispatchValid(parent, contract, kind, payload, data, options, to, scheduleId, replyTo);
  }

  /** {@link dispatch} once the payload is valid (`data`: what the schema made of it). */
  private dispatchValid(
    parent: Envelope | undefined,
    contract: AnyContract,
    kind: MessageKind,
    payload: unknown,
    data: unknown,
    options: (PublishOptions & { readonly to?: string | undefined }) | undefined,
    to: string | undefined,
    scheduleId: string | undefined,
    replyTo: string | undefined,
  ): Promise<void> {
    let notBefore: number | undefined;
    // Undefined with no provider registered (neither traces nor metrics): nothing is started, measured or ended.
    let producer: ProducerSpan | undefined;
    try {
      notBefore = dueTime(this.clock, options?.at, options?.delayMs);
      if (this.meters.recording || this.tracing.tracingOn()) {
        producer = this.tracing.startProducer(kind === 'event' ? 'publish' : 'send', to ?? contract.name, parent, this.startedAt());
      }
    } catch (error) {
      return rejection(error);
    }
    let sent: Promise<void>;
    try {
      const envelope = this.envelopeFor(parent, contract, kind, payload, data, options, replyTo, producer);
      if (producer !== undefined) this.tracing.message(producer.span, envelope);
      if (this.outgoing === undefined) {
        sent = this.enqueue(envelope, to === undefined ? 'topic' : 'queue', to ?? contract.name, notBefore, scheduleId);
      } else {
        sent = this.outgoing({
          envelope,
          destination: to === undefined ? { kind: 'topic', name: contract.name } : { kind: 'queue', name: to },
          notBefore,
          items: scheduleId === undefined ? EMPTY_ITEMS : new Map([[SCHEDULE_ID, scheduleId]]),
        });
      }
    } catch (error) {
      if (producer !== undefined) this.sent(producer, error);
      return rejection(error);
    }
    this.sending.add(sent);
    return sent.then(
      () => {
        this.sending.remove(sent);
        if (producer !== undefined) this.sent(producer);
        return this.turns.due();
      },
      (error: unknown) => {
        this.sending.remove(sent);
        if (producer !== undefined) this.sent(producer, error);
        throw error;
      },
    );
  }

  private envelopeFor(
    parent: Envelope | undefined,
    contract: AnyContract,
    kind: MessageKind,
    payload: unknown,
    validated: unknown,
    options: PublishOptions | undefined,
    replyTo: string | undefined,
    producer: ProducerSpan | undefined,
  ): Envelope {
    const partitionKey = options?.partitionKey ?? (contract.partitionKey === undefined ? undefined : contract.partitionKey(validated));
    const now = this.clock.now();
    return createEnvelope({
      type: contract.name,
      source: this.source,
      data: payload,
      kind,
      version: contract.version,
      id: options?.messageId,
      time: this.timestamps.format(now),
      correlationId: options?.correlationId ?? parent?.correlationid,
      conversationId: parent?.conversationid,
      causationId: parent?.id,
      // No producer span: the parent's trace context, carried as it is.
      traceparent: producer === undefined ? parent?.traceparent : producer.traceparent,
      tracestate: producer === undefined ? parent?.tracestate : producer.tracestate,
      partitionKey,
      replyTo,
      expiresAt: options?.expiresInMs === undefined ? undefined : now + options.expiresInMs,
      subject: options?.subject,
    });
  }

  /**
   * Builds an outgoing message synchronously, for the outbox: validated (synchronous schemas
   * only), encoded, with its destination. Nothing is sent.
   */
  prepare(
    parent: Envelope | undefined,
    contract: EventContract | CommandContract,
    payload: unknown,
    options: (SendOptions & { readonly scheduleId?: string }) | undefined,
  ): OutboxRecord {
    if (contract?.kind !== 'event' && contract?.kind !== 'command') {
      throw new ConfigurationError(`the outbox takes event and command contracts; ${describe(contract)} is neither`);
    }
    let data = payload;
    if (this.validateOutgoing) {
      const result = validate(contract.schema, contract.name, payload);
      if (result instanceof Promise) {
        result.catch(() => undefined);
        throw new ConfigurationError(
          `${contract.name} has an asynchronous schema; outbox messages are built inside a synchronous transaction`,
        );
      }
      data = result;
    }
    const to = contract.kind === 'command' ? options?.to : undefined;
    const producer = this.tracing.startProducer('create', to ?? contract.name, parent, -1);
    const envelope = this.envelopeFor(parent, contract, contract.kind, payload, data, options, undefined, producer);
    this.tracing.message(producer.span, envelope);
    this.tracing.end(producer.span);
    return {
      id: envelope.id,
      destination:
        to === undefined
          ? { kind: 'topic', name: contract.name, mandatory: contract.kind === 'command' }
          : { kind: 'queue', name: to, mandatory: true },
      message: {
        id: envelope.id,
        type: envelope.type,
        body: this.codec.encode(envelope),
        headers: EMPTY_HEADERS,
        partitionKey: envelope.partitionkey,
      },
      notBefore: dueTime(this.clock, options?.at, options?.delayMs),
      scheduleId: options?.scheduleId,
      createdAt: this.clock.now(),
    };
  }

  /**
   * Hands an outbox message to the transport. Resolves when the broker has it durably. Publish
   * middleware sees it (decoded) on the way; the bytes sent are the ones committed.
   */
  async dispatchPrepared(record: OutboxRecord): Promise<void> {
    const envelope = this.codec.decode(record.message.body);
    if (this.outgoing === undefined) return this.sendPrepared(record, envelope);
    const ctx: PublishContext = {
      envelope,
      destination: { kind: record.destination.kind, name: record.destination.name },
      notBefore: record.notBefore,
      items: new Map<unknown, unknown>([[PREPARED, record]]),
    };
    await this.outgoing(ctx);
  }

  /** Sends an outbox message in a producer span that continues the trace of its `create` span. */
  private async sendPrepared(record: OutboxRecord, envelope: Envelope): Promise<void> {
    const transport = this.options.transport();
    const options = record.notBefore === undefined ? undefined : { notBefore: record.notBefore, scheduleId: record.scheduleId };
    const created = spanContextOf(envelope.traceparent, envelope.tracestate);
    const producer = this.tracing.startProducer(
      envelope.messagekind === 'event' ? 'publish' : 'send',
      record.destination.name,
      envelope,
      this.startedAt(),
      created === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, created),
    );
    this.tracing.message(producer.span, envelope);
    try {
      if (record.destination.kind === 'queue') await transport.send(record.destination.name, record.message, options);
      else
        await transport.publish(
          record.destination.name,
          record.message,
          record.destination.mandatory ? { ...options, mandatory: true } : options,
        );
      this.sent(producer);
      this.meters.relayed(this.clock.now() - record.createdAt);
      this.lastRelay_ = { at: this.clock.now(), lagMs: this.clock.now() - record.createdAt };
    } catch (error) {
      this.sent(producer, error);
      throw error;
    }
  }

  /** `performance.now()` for a send's duration while metrics record it; else -1 (no clock read). */
  private startedAt(): number {
    return this.meters.recording ? performance.now() : -1;
  }

  /** Ends a producer span and counts the send (`error` when it failed). */
  private sent(producer: ProducerSpan, error?: unknown): void {
    const failure = error === undefined ? undefined : toError(error);
    this.tracing.end(producer.span, failure);
    this.meters.sent(producer, failure);
  }

  /** The last publish step: encode and hand to the transport. */
  private async deliver(ctx: PublishContext): Promise<void> {
    const prepared = ctx.items.get(PREPARED) as OutboxRecord | undefined;
    if (prepared !== undefined) return this.sendPrepared(prepared, ctx.envelope);
    await this.enqueue(
      ctx.envelope,
      ctx.destination.kind,
      ctx.destination.name,
      ctx.notBefore,
      ctx.items.get(SCHEDULE_ID) as string | undefined,
    );
  }

  /**
   * Encodes the envelope and hands it to the transport. Throws (rather than rejects) what it refuses.
   * An in-process transport gets the codec's copy of the envelope instead (see `InProcessMessage`).
   */
  private enqueue(
    envelope: Envelope,
    kind: 'topic' | 'queue',
    name: string,
    notBefore: number | undefined,
    scheduleId: string | undefined,
  ): Promise<void> {
    const transport = this.options.transport();
    const held = transport.capabilities.inProcess === true ? this.codec.copy?.(envelope) : undefined;
    const message: TransportMessage =
      held !== undefined
        ? new InProcessMessage(held, this.codec, EMPTY_HEADERS, envelope.partitionkey)
        : this.messageOf(envelope, transport);
    if (notBefore !== undefined && !transport.capabilities.delayedDelivery) {
      throw new ConfigurationError(`the ${transport.kind} transport has no delayed delivery; ${envelope.type} cannot be scheduled`);
    }
    const options = notBefore === undefined ? undefined : { notBefore, scheduleId };
    if (kind === 'queue') return transport.send(name, message, options);
    const mandatory = envelope.messagekind !== 'event';
    return transport.publish(name, message, mandatory ? { ...options, mandatory } : options);
  }

  /**
   * The envelope as the transport carries it: a `BinaryMessage` for a transport that carries
   * attributes beside the data, when the codec makes binary forms; else encoded whole.
   */
  private messageOf(envelope: Envelope, transport: Transport): TransportMessage {
    const form = transport.capabilities.binaryContent === true ? this.codec.toBinary?.(envelope) : undefined;
    if (form !== undefined) return new BinaryMessage(form, EMPTY_HEADERS, envelope.partitionkey);
    return {
      id: envelope.id,
      type: envelope.type,
      body: this.codec.encode(envelope),
      headers: EMPTY_HEADERS,
      partitionKey: envelope.partitionkey,
    };
  }

  /** Publishes the fault event of a dead letter, in its conversation and trace. Faults of faults are not published. Absent without `faultEvents`. */
  get publishFault(): ((parent: Envelope | undefined, fault: Fault) => Promise<void>) | undefined {
    return this.faultContracts === undefined ? undefined : (parent, fault) => this.sendFault(parent, fault);
  }

  private async sendFault(parent: Envelope | undefined, fault: Fault): Promise<void> {
    if (this.faultContracts === undefined || fault.messageType.startsWith('missive.fault.')) return;
    let contract = this.faultContracts.get(fault.messageType);
    if (contract === undefined) {
      contract = faultContractOf(fault.messageType);
      this.faultContracts.set(fault.messageType, contract);
    }
    await this.dispatch(parent, contract, 'event', fault, undefined, undefined, undefined);
  }

  /** Sends a reply (or an error reply) to the requester of `request`; a requester that is gone is not an error. */
  async sendReply(request: Envelope, query: QueryContract | undefined, payload: unknown, status: 'ok' | 'error'): Promise<void> {
    if (request.replyto === undefined) return;
    if (status === 'ok' && query !== undefined && this.validateOutgoing) {
      const result = validate(query.reply, replyTypeOf(query), payload);
      if (result instanceof Promise) await result;
    }
    const producer = this.tracing.startProducer('send', request.replyto, request, this.startedAt());
    const envelope = createEnvelope({
      type: replyTypeOf(request.type),
      source: this.source,
      data: payload,
      kind: 'reply',
      version: 1,
      time: this.timestamps.format(this.clock.now()),
      correlationId: request.correlationid,
      conversationId: request.conversationid,
      causationId: request.id,
      traceparent: producer.traceparent,
      tracestate: producer.tracestate,
      replyStatus: status,
    });
    this.tracing.message(producer.span, envelope);
    try {
      const transport = this.options.transport();
      await transport.send(request.replyto, this.messageOf(envelope, transport));
      this.sent(producer);
    } catch (error) {
      this.sent(producer, error);
      if (error instanceof UnroutableError) {
        this.options.logger.debug({ type: envelope.type }, 'the requester is gone; reply dropped');
        return;
      }
      throw error;
    }
  }
}
