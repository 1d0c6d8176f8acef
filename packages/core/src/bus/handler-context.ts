/**
 * The context a handler receives: the message's facts, and sending that carries the conversation
 * forward (same correlation and conversation, the handled message as causation, its trace).
 *
 * @example
 * ```ts
 * e.on(OrderPlaced, async (order, ctx) => ctx.send(ChargeCard, { orderId: order.orderId, amount: order.total }));
 * ```
 * @module
 */
import type { MessageContext, PublishOptions, RequestOptions, SendOptions } from '../consume/context.js';
import type { ConsumeState } from '../consume/consume-state.js';
import type { CommandContract, EventContract, QueryContract, ReplyInput } from '../contracts/contract.js';
import { UnrecoverableError } from '../errors.js';
import type { Envelope } from '../message/envelope.js';
import type { BusInternals } from './bus-core.js';

/** The context handed to handlers. */
export class HandlerContext implements MessageContext {
  replied = false;

  constructor(
    private readonly state: ConsumeState,
    private readonly bus: BusInternals,
  ) {}

  get envelope(): Envelope {
    return this.state.envelope;
  }
  get messageId(): string {
    return this.state.envelope.id;
  }
  get type(): string {
    return this.state.envelope.type;
  }
  get correlationId(): string {
    return this.state.envelope.correlationid;
  }
  get causationId(): string | undefined {
    return this.state.envelope.causationid;
  }
  get conversationId(): string {
    return this.state.envelope.conversationid;
  }
  get partitionKey(): string | undefined {
    return this.state.envelope.partitionkey;
  }
  get attempt(): number {
    return this.state.attempt;
  }
  get replayed(): boolean {
    return this.state.received.message.headers['missive-replayed-at'] !== undefined;
  }
  get endpoint(): string {
    return this.state.endpoint;
  }
  get service(): string {
    return this.state.service;
  }
  get signal(): AbortSignal {
    return this.state.signal;
  }

  publish<C extends EventContract>(contract: C, payload: unknown, options?: PublishOptions): Promise<void> {
    return this.bus.publishFrom(this.state.envelope, contract, payload, options);
  }

  send<C extends CommandContract>(contract: C, payload: unknown, options?: SendOptions): Promise<void> {
    return this.bus.sendFrom(this.state.envelope, contract, payload, options);
  }

  request<Q extends QueryContract>(query: Q, payload: unknown, options?: RequestOptions): Promise<never> {
    return this.bus.requestFrom(this.state.envelope, query, payload, options) as Promise<never>;
  }

  async reply(payload: ReplyInput<QueryContract>): Promise<void> {
    if (this.state.envelope.replyto === undefined)
      throw new UnrecoverableError(`${this.state.envelope.type} has no reply-to address; nothing to reply to`);
    if (this.replied) throw new UnrecoverableError(`${this.state.envelope.type} was already replied to`);
    this.replied = true;
    await this.bus.replyTo(this.state.envelope, this.state.route.contract as QueryContract, payload, 'ok');
  }
}
