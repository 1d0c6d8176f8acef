/**
 * Sagas: a business transaction across services, as a typed state machine. A saga names its state
 * schema, the messages that start it and those that continue it, how each message finds its
 * instance (correlation), the handlers that change state and send messages, its timeouts, and its
 * compensations.
 *
 * Each message is handled on a snapshot of the instance; the new state, the messages it sends, its
 * timeouts and the inbox entry commit in one transaction of the saga's store, with an optimistic
 * version check (two messages for one instance at once never lose an update: the loser retries).
 * Messages sent by a saga go out through the outbox after the commit.
 *
 * Compensation: a step registers what undoes it (`saga.addCompensation('release-stock', data)`);
 * `saga.compensate(reason)` runs the registered compensations in reverse order and finishes the
 * instance as `compensated`.
 *
 * @example
 * ```ts
 * const OrderSaga = defineSaga('order', z.object({ orderId: z.string(), status: z.string() }))
 *   .startedBy(OrderPlaced, {
 *     correlate: (m) => m.orderId,
 *     initial: (m) => ({ orderId: m.orderId, status: 'reserving' }),
 *     handle: (m, saga) => saga.send(ReserveStock, { orderId: m.orderId }),
 *   })
 *   .on(StockReserved, {
 *     correlate: (m) => m.orderId,
 *     handle: (m, saga) => {
 *       saga.addCompensation('release-stock', { orderId: m.orderId });
 *       saga.send(ChargeCard, { orderId: m.orderId });
 *       saga.scheduleTimeout('payment', { delayMs: 60_000 });
 *     },
 *   })
 *   .onTimeout('payment', (saga) => saga.compensate('payment timed out'))
 *   .compensation('release-stock', (data: { orderId: string }, saga) => saga.send(ReleaseStock, data));
 * bus.saga(OrderSaga, { store });
 * ```
 * @module
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { MessageContext, PublishOptions, SendOptions } from '../consume/context.js';
import type { CommandContract, EventContract, Payload, PayloadInput } from '../contracts/contract.js';
import { ConfigurationError } from '../errors.js';
import type { SagaStatus, SagaTimeoutRecord } from './message-store.js';

/** What to do with a message for an instance that does not exist. */
export type MissingInstanceRule = 'dead-letter' | 'ignore';

/** What a saga handler sees and changes. Sends are buffered and go out after the commit. */
export interface SagaContext<State> {
  /** The instance's correlation id. */
  readonly id: string;
  /** The instance's state: change it in place or assign a new value. */
  state: State;
  readonly status: SagaStatus;
  /** The message being handled (absent for timeouts, which have their own message). */
  readonly message: MessageContext;
  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): void;
  send<C extends CommandContract>(contract: C, payload: PayloadInput<C>, options?: SendOptions): void;
  /** Schedules a timeout by name (replacing a pending one of the same name); returns its id. */
  scheduleTimeout(name: string, when: { readonly delayMs: number } | { readonly at: number | Date }, data?: unknown): string;
  /** Cancels pending timeouts by name or id; returns how many. */
  cancelTimeout(nameOrId: string): number;
  /** Pending timeouts. */
  readonly timeouts: readonly SagaTimeoutRecord[];
  /** Registers a compensation to run if the saga compensates later. */
  addCompensation(name: string, data?: unknown): void;
  /** Runs the registered compensations in reverse order and finishes the instance as compensated. */
  compensate(reason: string): void;
  /** Finishes the instance as completed. */
  complete(): void;
  /** Finishes the instance as failed, without compensating. */
  fail(reason: string): void;
}

/** A step of a saga for one message type. */
export interface SagaStep<State, C extends EventContract | CommandContract> {
  /** The instance id a message belongs to. */
  readonly correlate: (payload: Payload<C>) => string;
  readonly handle: (payload: Payload<C>, saga: SagaContext<State>) => void | Promise<void>;
  /** For continuing messages with no instance: `dead-letter` (default) or `ignore`. */
  readonly missing?: MissingInstanceRule;
}

/** A step that may start an instance. */
export interface SagaStartStep<State, C extends EventContract | CommandContract> extends Omit<SagaStep<State, C>, 'missing' | 'handle'> {
  /** The state of a new instance. */
  readonly initial: (payload: Payload<C>) => State;
  readonly handle?: (payload: Payload<C>, saga: SagaContext<State>) => void | Promise<void>;
}

/** One registered message of a saga. */
export interface SagaMessage<State> {
  readonly contract: EventContract | CommandContract;
  readonly starts: boolean;
  readonly correlate: (payload: unknown) => string;
  readonly initial?: (payload: unknown) => State;
  readonly handle?: (payload: unknown, saga: SagaContext<State>) => void | Promise<void>;
  readonly missing: MissingInstanceRule;
}

/** A saga definition. Build it with {@link defineSaga}. */
export interface SagaDefinition<State> {
  readonly name: string;
  readonly stateSchema: StandardSchemaV1<unknown, State>;
  readonly messages: ReadonlyMap<string, SagaMessage<State>>;
  readonly timeouts: ReadonlyMap<string, (saga: SagaContext<State>, data: unknown) => void | Promise<void>>;
  readonly compensations: ReadonlyMap<string, (data: unknown, saga: SagaContext<State>) => void>;
  /** Adds a message that may start an instance (and continues one that exists). */
  startedBy<C extends EventContract | CommandContract>(contract: C, step: SagaStartStep<State, C>): SagaDefinition<State>;
  /** Adds a message that continues an existing instance. */
  on<C extends EventContract | CommandContract>(contract: C, step: SagaStep<State, C>): SagaDefinition<State>;
  /** Adds the handler of a named timeout. */
  onTimeout(name: string, handle: (saga: SagaContext<State>, data: unknown) => void | Promise<void>): SagaDefinition<State>;
  /** Adds a compensation: it sends what undoes a step. Runs synchronously inside `compensate`. */
  compensation<D>(name: string, run: (data: D, saga: SagaContext<State>) => void): SagaDefinition<State>;
}

const SAGA_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$/;

/**
 * Defines a saga with its state schema.
 * @example
 * ```ts
 * const OrderSaga = defineSaga('order', z.object({ orderId: z.string() }));
 * ```
 */
export function defineSaga<S extends StandardSchemaV1>(name: string, stateSchema: S): SagaDefinition<StandardSchemaV1.InferOutput<S>> {
  type State = StandardSchemaV1.InferOutput<S>;
  if (typeof name !== 'string' || !SAGA_NAME.test(name))
    throw new ConfigurationError(`saga name ${JSON.stringify(name)} is not valid: use dot-separated words`);
  if (typeof stateSchema !== 'object' || stateSchema === null || !('~standard' in stateSchema)) {
    throw new ConfigurationError(`saga ${name}: the state schema is not a Standard Schema`);
  }
  const messages = new Map<string, SagaMessage<State>>();
  const timeouts = new Map<string, (saga: SagaContext<State>, data: unknown) => void | Promise<void>>();
  const compensations = new Map<string, (data: unknown, saga: SagaContext<State>) => void>();
  const add = (contract: EventContract | CommandContract, message: Omit<SagaMessage<State>, 'contract'>) => {
    if (contract?.kind !== 'event' && contract?.kind !== 'command')
      throw new ConfigurationError(`saga ${name}: steps take event or command contracts`);
    if (messages.has(contract.name)) throw new ConfigurationError(`saga ${name}: ${contract.name} is handled twice`);
    if (typeof message.correlate !== 'function') throw new ConfigurationError(`saga ${name}: ${contract.name} needs a correlate function`);
    messages.set(contract.name, { contract, ...message });
  };
  const definition: SagaDefinition<State> = {
    name,
    stateSchema: stateSchema,
    messages,
    timeouts,
    compensations,
    startedBy(contract, step) {
      if (typeof step.initial !== 'function')
        throw new ConfigurationError(`saga ${name}: startedBy(${contract.name}) needs an initial state function`);
      add(contract, {
        starts: true,
        correlate: step.correlate,
        initial: step.initial,
        handle: step.handle,
        missing: 'dead-letter',
      });
      return definition;
    },
    on(contract, step) {
      if (typeof step.handle !== 'function') throw new ConfigurationError(`saga ${name}: on(${contract.name}) needs a handle function`);
      const missing = step.missing ?? 'dead-letter';
      if (missing !== 'dead-letter' && missing !== 'ignore')
        throw new ConfigurationError(`saga ${name}: missing must be "dead-letter" or "ignore"`);
      add(contract, { starts: false, correlate: step.correlate, handle: step.handle, missing });
      return definition;
    },
    onTimeout(timeoutName, handle) {
      if (timeouts.has(timeoutName)) throw new ConfigurationError(`saga ${name}: timeout ${timeoutName} is handled twice`);
      timeouts.set(timeoutName, handle);
      return definition;
    },
    compensation(compensationName, run) {
      if (compensations.has(compensationName))
        throw new ConfigurationError(`saga ${name}: compensation ${compensationName} is defined twice`);
      compensations.set(compensationName, run as (data: unknown, saga: SagaContext<State>) => void);
      return definition;
    },
  };
  return definition;
}
