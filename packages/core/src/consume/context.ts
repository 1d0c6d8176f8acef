/**
 * What a handler and a consume middleware see of a message. Messages sent from a handler's
 * context carry the conversation forward: the same correlation and conversation ids, the
 * handled message's id as causation id, and its trace context.
 *
 * @example
 * ```ts
 * e.on(OrderPlaced, async (order, ctx) => {
 *   await ctx.send(ChargeCard, { orderId: order.orderId, amount: order.total }); // correlated with the order
 * });
 * ```
 * @module
 */
import type {
  AnyContract,
  CommandContract,
  EventContract,
  Payload,
  PayloadInput,
  QueryContract,
  Reply,
  ReplyInput,
} from '../contracts/contract.js';
import type { Envelope } from '../message/envelope.js';

/** Options of `publish`. */
export interface PublishOptions {
  /** Deliver no earlier than this many ms from now. */
  readonly delayMs?: number;
  /** Deliver no earlier than this time. */
  readonly at?: Date | number;
  /** The ordering key; defaults to the contract's `partitionKey(payload)`. */
  readonly partitionKey?: string;
  /** The message is not handled after this many ms from now. */
  readonly expiresInMs?: number;
  /** Joins an existing business transaction. Default: the message starts its own (or continues the handled one). */
  readonly correlationId?: string;
  /** A chosen message id (for idempotent publishing). Default: a random UUID. */
  readonly messageId?: string;
  /** CloudEvents subject. */
  readonly subject?: string;
}

/** Options of `send`. */
export interface SendOptions extends PublishOptions {
  /** Send straight to this queue instead of routing by the command's name. */
  readonly to?: string;
}

/** Options of `request`. */
export interface RequestOptions {
  /** How long to wait for the reply. Default: the bus's `requestTimeoutMs` (30 s). */
  readonly timeoutMs?: number;
  readonly partitionKey?: string;
  readonly to?: string;
  readonly correlationId?: string;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

/** What can send messages: the bus, and every handler context. */
export interface Sender {
  /** Publishes an event to every endpoint subscribed to it. Resolves when the broker has it durably. */
  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): Promise<void>;
  /** Sends a command to the endpoint that handles it. Rejects with `UnroutableError` when none is bound. */
  send<C extends CommandContract>(contract: C, payload: PayloadInput<C>, options?: SendOptions): Promise<void>;
  /** Sends a query and waits for its typed reply; `RequestTimeoutError` names the query and the time. */
  request<Q extends QueryContract>(query: Q, payload: PayloadInput<Q>, options?: RequestOptions): Promise<Reply<Q>>;
}

/** A handler's view of the message it handles. */
export interface MessageContext extends Sender {
  readonly envelope: Envelope;
  readonly messageId: string;
  readonly type: string;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  readonly conversationId: string;
  readonly partitionKey: string | undefined;
  /** Handler invocations for this message so far, this one included (1 on the first try). */
  readonly attempt: number;
  /** True when the message came back from the dead-letter queue by a replay. */
  readonly replayed: boolean;
  readonly endpoint: string;
  readonly service: string;
  /** Aborted when the bus stops and the handler overran the stop deadline. */
  readonly signal: AbortSignal;
}

/** A responder's context: `reply` answers the query (or return the reply from the responder). */
export interface ReplyContext<Q extends QueryContract> extends MessageContext {
  /** Sends the reply. A second reply is refused. */
  reply(payload: ReplyInput<Q>): Promise<void>;
}

/** A handler of an event or command. */
export type Handler<C extends EventContract | CommandContract> = (payload: Payload<C>, ctx: MessageContext) => void | Promise<void>;

/** A responder of a query: returns the reply, or calls `ctx.reply`. */
export type Responder<Q extends QueryContract> = (
  payload: Payload<Q>,
  ctx: ReplyContext<Q>,
) => ReplyInput<Q> | undefined | Promise<ReplyInput<Q> | undefined>;

/** A wire-tap handler: sees every matching message as an envelope, whatever its type. */
export type TapHandler = (envelope: Envelope, ctx: MessageContext) => void | Promise<void>;

/**
 * What consume middleware may know of a delivery: facts, never a way to settle it (the endpoint
 * settles every delivery exactly once, after the pipeline).
 */
export interface DeliveryFacts {
  /** The transport message's id (the envelope's id). */
  readonly messageId: string;
  /** The message type as the transport carries it. */
  readonly type: string;
  /** The transport headers of this delivery (attempt counters, replay marks; see `Header`). */
  readonly headers: Readonly<Record<string, string>>;
  /** 1 on the first delivery, growing with each redelivery (clamped to be trustworthy). */
  readonly deliveryCount: number;
}

/**
 * The context consume middleware sees: one delivery on its way through the endpoint's pipeline.
 * `envelope` is set once decoding has run (user middleware always runs after it).
 */
export interface ConsumeContext {
  readonly service: string;
  readonly endpoint: string;
  readonly delivery: DeliveryFacts;
  readonly envelope: Envelope;
  /** The contract of the handler chosen for the message, or undefined for a wire tap. */
  readonly contract: AnyContract | undefined;
  /** Handler invocations for this message so far, this one included. */
  readonly attempt: number;
  /** Free slots for middleware to share values along one delivery. */
  readonly items: Map<unknown, unknown>;
}
