/**
 * What every system under test provides, whatever its API: a publisher, a consumer that calls
 * `onMessage` once per handled message (after which the system acks it), or both in one process.
 * A subject module exports `createPublisher` and `createConsumer`, or `createPair`.
 *
 * @example
 * ```ts
 * export const createPublisher: CreatePublisher<{ url: string }> = async ({ url }) => ({ publish, close });
 * ```
 * @module
 */
import type { Order } from './payload.js';

export interface Publisher {
  /** Resolves when the system says the message is accepted (durably, on a broker). */
  publish(order: Order): Promise<void>;
  close(): Promise<void>;
}

export interface Subscription {
  close(): Promise<void>;
}

export type OnMessage = (order: Order) => void;

/** Options every subject takes. Subjects read their own extra fields. */
export interface SubjectArgs {
  /** Unique per run: the name of the queue, exchange, stream or file to use. */
  readonly name: string;
  /** Unsettled deliveries a consumer holds (the broker's prefetch). */
  readonly prefetch: number;
  /** Handlers running at once in one consumer. */
  readonly concurrency: number;
  readonly [extra: string]: unknown;
}

export type CreatePublisher = (args: SubjectArgs) => Promise<Publisher>;
export type CreateConsumer = (args: SubjectArgs, onMessage: OnMessage) => Promise<Subscription>;
export type CreatePair = (args: SubjectArgs, onMessage: OnMessage) => Promise<Publisher>;

export interface SubjectModule {
  readonly createPublisher?: CreatePublisher;
  readonly createConsumer?: CreateConsumer;
  readonly createPair?: CreatePair;
  /** Deletes what the run created (queues, files); called once by the runner after the last round. */
  readonly cleanup?: (args: SubjectArgs) => Promise<void>;
}
