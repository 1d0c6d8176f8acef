/**
 * Aggregates in the decide/apply shape: `decide(state, command)` returns the events a command
 * causes (or throws to refuse it), `apply(state, event)` folds one event into the state. The
 * state is never stored, only the events (and, every `snapshotEvery` events, a snapshot).
 * `execute` loads, decides and appends at the version it loaded; on a concurrent append it loads
 * again and decides again.
 *
 * @example
 * ```ts
 * type Events = { opened: { owner: string }; deposited: { amount: number } };
 * const Account = defineAggregate<{ balance: number }, Events, { deposit: number }>({
 *   name: 'account',
 *   initial: () => ({ balance: 0 }),
 *   apply: (s, e) => (e.type === 'deposited' ? { balance: s.balance + e.data.amount } : s),
 *   decide: (_s, c) => [{ type: 'deposited', data: { amount: c.deposit } }],
 * });
 * await Account.execute(store, 'a-1', { deposit: 5 });
 * ```
 * @module
 */
import { ConfigurationError } from '@missive/core';
import { ConcurrencyError, type EventStore, type RecordedEvent } from './event-store.js';

/** The union of an aggregate's typed events, from a map of event type to data. */
export type EventOf<Events extends Record<string, unknown>> = {
  [K in keyof Events & string]: { readonly type: K; readonly data: Events[K] };
}[keyof Events & string];

/** What {@link defineAggregate} takes. */
export interface AggregateDefinition<State, Events extends Record<string, unknown>, Command> {
  /** Names the streams: `<name>-<id>`. */
  readonly name: string;
  initial(): State;
  /** Folds one event into the state. Pure; must not throw for an event it once produced. */
  apply(state: State, event: EventOf<Events>): State;
  /** The events a command causes in this state; throw to refuse the command (nothing is appended). */
  decide(state: State, command: Command): readonly EventOf<Events>[];
  /** Save a snapshot each time the stream passes a multiple of this many events. Default: never. The state must survive JSON. */
  readonly snapshotEvery?: number;
}

/** An aggregate loaded from its stream. */
export interface Loaded<State> {
  readonly state: State;
  /** The stream's version the state reflects (0: no events). */
  readonly version: number;
}

/** What `execute` did. */
export interface Executed<State, Events extends Record<string, unknown>> extends Loaded<State> {
  /** The events appended (empty when the command caused none). */
  readonly events: readonly EventOf<Events>[];
  /** Global position of the last appended event (0 when none were appended). */
  readonly position: number;
}

/** Options of `execute`. */
export interface ExecuteOptions {
  /** Attached to every appended event. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Attempts on a concurrency conflict before the {@link ConcurrencyError} is thrown. Default 5. */
  readonly attempts?: number;
}

/** A defined aggregate: loads, folds and executes commands against an {@link EventStore}. */
export interface Aggregate<State, Events extends Record<string, unknown>, Command> {
  readonly name: string;
  /** The stream of one instance. */
  stream(id: string): string;
  /** Folds events (already recorded) onto a state, from `initial()` by default. */
  fold(events: readonly RecordedEvent[], from?: State): State;
  load(store: EventStore, id: string): Promise<Loaded<State>>;
  execute(store: EventStore, id: string, command: Command, options?: ExecuteOptions): Promise<Executed<State, Events>>;
}

/** Defines an aggregate. See the module example. */
export function defineAggregate<State, Events extends Record<string, unknown>, Command>(
  definition: AggregateDefinition<State, Events, Command>,
): Aggregate<State, Events, Command> {
  if (definition.name === '' || /\s/.test(definition.name))
    throw new ConfigurationError(`aggregate name must be a non-empty word, got ${JSON.stringify(definition.name)}`);
  const every = definition.snapshotEvery;
  if (every !== undefined && (!Number.isInteger(every) || every < 1))
    throw new ConfigurationError(`snapshotEvery must be an integer >= 1, got ${String(every)}`);
  const stream = (id: string) => `${definition.name}-${id}`;
  const fold = (events: readonly RecordedEvent[], from = definition.initial()) =>
    events.reduce((state, e) => definition.apply(state, { type: e.type, data: e.data } as EventOf<Events>), from);

  const load = async (store: EventStore, id: string): Promise<Loaded<State>> => {
    const name = stream(id);
    const snapshot = every === undefined ? undefined : await store.loadSnapshot(name);
    const from = snapshot === undefined ? definition.initial() : (snapshot.state as State);
    const events = await store.readStream(name, { fromVersion: (snapshot?.version ?? 0) + 1 });
    return { state: fold(events, from), version: events.at(-1)?.version ?? snapshot?.version ?? 0 };
  };

  const execute = async (
    store: EventStore,
    id: string,
    command: Command,
    options: ExecuteOptions = {},
  ): Promise<Executed<State, Events>> => {
    const attempts = options.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const loaded = await load(store, id);
      const events = definition.decide(loaded.state, command);
      if (events.length === 0) return { ...loaded, events, position: 0 };
      try {
        const result = await store.append(
          stream(id),
          events.map((e) => ({ type: e.type, data: e.data, metadata: options.metadata })),
          { expectedVersion: loaded.version },
        );
        const state = events.reduce((s, e) => definition.apply(s, e), loaded.state);
        if (every !== undefined && Math.floor(result.version / every) > Math.floor(loaded.version / every)) {
          await store.saveSnapshot(stream(id), { version: result.version, state });
        }
        return { state, version: result.version, events, position: result.position };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= attempts) throw error;
      }
    }
  };

  return { name: definition.name, stream, fold, load, execute };
}
