/**
 * Request/reply on a bus: each process has its own temporary reply queue
 * (`<service>.replies.<instanceId>`), declared on the first request. A request waits for the reply
 * whose causation id is its message id, until its timeout or its abort signal; a reply for no
 * pending request (it timed out) is dropped.
 *
 * @example
 * ```ts
 * const requests = new Requests({ service: 'shop', instanceId: 'a1', ... });
 * const stock = await requests.request(undefined, GetStock, { sku: 'abc' }, { timeoutMs: 5_000 });
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../clock.js';
import { BusStateError, ConfigurationError, ErrorCode, RemoteHandlerError, RequestTimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Codec } from '../message/codec.js';
import type { Envelope } from '../message/envelope.js';
import { replyTypeOf, type QueryContract } from '../contracts/contract.js';
import { validate } from '../contracts/validate.js';
import type { RequestOptions } from '../consume/context.js';
import type { Consumer, Transport } from '../transport/transport.js';
import { readEnvelope } from '../transport/read-envelope.js';
import type { BusState } from './bus-core.js';
import type { Outgoing } from './outgoing.js';
import { describe } from './outgoing-checks.js';

/** What request/reply takes from its bus. */
export interface RequestsOptions {
  readonly service: string;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly codec: Codec;
  readonly logger: Logger;
  /** Default request timeout, ms. */
  readonly timeoutMs: number;
  readonly outgoing: Outgoing;
  /** The connected transport; throws before `start`. */
  transport(): Transport;
  state(): BusState;
}

interface PendingRequest {
  readonly query: QueryContract;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
  readonly cleanup: () => void;
}

/** The pending requests of one bus and its reply queue. */
export class Requests {
  private readonly pending = new Map<string, PendingRequest>();
  private replyQueue: Promise<string> | undefined;
  private replyConsumer: Consumer | undefined;
  private replyLoop: Promise<void> | undefined;

  constructor(private readonly options: RequestsOptions) {}

  /** Requests waiting for their reply. */
  get size(): number {
    return this.pending.size;
  }

  /** Sends `query` (from the handled message `parent`, if any) and waits for its validated reply. */
  async request(parent: Envelope | undefined, query: QueryContract, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (query?.kind !== 'query') throw new ConfigurationError(`request takes a query contract; ${describe(query)} is not one`);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const replyTo = await this.ensureReplyQueue();
    const id = randomUUID();
    const clock = this.options.clock;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => {
        this.settleRequest(id)?.reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('request aborted'));
      };
      const timer = clock.setTimeout(() => this.settleRequest(id)?.reject(new RequestTimeoutError(query.name, timeoutMs)), timeoutMs);
      const cleanup = () => options.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { query, resolve, reject, timer, cleanup });
      if (options.signal?.aborted === true) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.options.outgoing
        .dispatch(parent, query, 'query', payload, { ...options, messageId: id, expiresInMs: timeoutMs }, options.to, undefined, replyTo)
        .catch((error: unknown) => this.settleRequest(id)?.reject(error as Error));
    });
  }

  /** Fails every pending request (the bus stopped) and closes the reply consumer. */
  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) {
      this.settleRequest(id)?.reject(new BusStateError(ErrorCode.Closed, `bus ${this.options.service} stopped before the reply came`));
    }
    await this.replyConsumer?.close();
    await this.replyLoop;
  }

  private settleRequest(id: string): PendingRequest | undefined {
    const pending = this.pending.get(id);
    if (pending === undefined) return undefined;
    this.pending.delete(id);
    this.options.clock.clearTimeout(pending.timer);
    pending.cleanup();
    return pending;
  }

  private ensureReplyQueue(): Promise<string> {
    this.replyQueue ??= (async () => {
      const name = `${this.options.service}.replies.${this.options.instanceId}`;
      const transport = this.options.transport();
      await transport.declare({ name, topics: [], temporary: true });
      const consumer = transport.consume(name, { prefetch: 64 });
      this.replyConsumer = consumer;
      this.replyLoop = this.consumeReplies(consumer);
      return name;
    })();
    return this.replyQueue;
  }

  private async consumeReplies(consumer: Consumer): Promise<void> {
    const logger = this.options.logger;
    try {
      for await (const delivery of consumer) {
        try {
          const envelope = readEnvelope(this.options.codec, delivery.message);
          const id = envelope.causationid;
          const pending = id === undefined ? undefined : this.settleRequest(id);
          if (pending === undefined) {
            logger.debug({ type: envelope.type }, 'reply for no pending request (it timed out or was aborted): dropped');
          } else if (envelope.replystatus === 'error') {
            const remote = (envelope.data ?? {}) as { name?: string; message?: string };
            pending.reject(new RemoteHandlerError(pending.query.name, String(remote.name ?? 'Error'), String(remote.message ?? '')));
          } else {
            try {
              const result = validate(pending.query.reply, replyTypeOf(pending.query), envelope.data);
              pending.resolve(result instanceof Promise ? await result : result);
            } catch (error) {
              pending.reject(error as Error);
            }
          }
        } catch (error) {
          logger.warn({ err: error }, 'an unreadable reply was dropped');
        }
        await delivery.ack();
      }
    } catch (error) {
      if (this.options.state() === 'started') logger.error({ err: error }, 'the reply consumer failed');
    }
  }
}
