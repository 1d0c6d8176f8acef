/**
 * Runs a saga on a bus: an endpoint (named after the saga unless told otherwise) handles every
 * message of the saga and its timeouts. Each message: load the instance, run the step on a draft,
 * validate the new state, then commit state + inbox entry + outgoing messages in one transaction
 * with an optimistic version check. A conflict is retryable: the retry step runs the message again
 * on the fresh instance.
 *
 * A message for an instance that does not exist: a start message creates it; any other is
 * dead-lettered (default) or ignored, by the step's `missing` rule — never silently lost. A message
 * for a finished instance is acknowledged and ignored (it is late, not lost).
 *
 * Timeouts are scheduled messages to the saga's own queue, sent through the outbox. The instance
 * records its pending timeouts; cancelling or rescheduling removes the record, and a timeout
 * message with no record is ignored, so cancellation is correct on every transport. Where the
 * transport can cancel a scheduled message (`capabilities.cancelScheduled`: memory, SQLite,
 * RabbitMQ), a timeout is scheduled under its id and cancelled for real once the instance has
 * dropped it (cancelled, rescheduled, or the saga finished) and that is committed, so no stale
 * timeout waits in the queue (one the relay had not yet sent is cancelled after a flush of the
 * outbox). The cancel runs after the message's handler, which does not wait for it: on RabbitMQ it
 * is a broker round trip (a queue deletion), and an endpoint slot held for it was most of what a
 * saga step cost there; the bus waits for cancels under way when it stops. Where the transport
 * cannot cancel, or when the cancel fails, or the timeout was due before its cancel, the stale
 * timeout is delivered and ignored.
 *
 * @example
 * ```ts
 * bus.saga(OrderSaga, { store, concurrency: 4 });
 * const active = await store.listSagas('order', { status: 'active' });
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { BusCore } from '../bus/bus-core.js';
import type { MessageContext, PublishOptions, SendOptions } from '../consume/context.js';
import { defineCommand, type CommandContract, type EventContract } from '../contracts/contract.js';
import type { EndpointOptions } from '../consume/endpoint.js';
import { ConfigurationError, UnrecoverableError } from '../errors.js';
import type { MessageStore, OutboxRecord, SagaCompensationRecord, SagaRecord, SagaStatus, SagaTimeoutRecord } from './message-store.js';
import type { Outbox, OutboxOptions } from './outbox.js';
import type { SagaContext, SagaDefinition } from './saga.js';
import { validate } from '../contracts/validate.js';

/** Options of `bus.saga`. */
export interface SagaOptions<Tx> extends EndpointOptions {
  /** Where instances, the outbox and the inbox live. */
  readonly store: MessageStore<Tx>;
  /** The endpoint (queue) name. Default: the saga's name. */
  readonly endpoint?: string;
  /** Options of the outbox created for the store, if the bus has none for it yet. */
  readonly outbox?: OutboxOptions;
}

/** The payload of a saga timeout message. */
export interface SagaTimeoutPayload {
  readonly sagaId: string;
  readonly timeoutId: string;
  readonly name: string;
  readonly data?: unknown;
}

const timeoutSchema: StandardSchemaV1<SagaTimeoutPayload, SagaTimeoutPayload> = {
  '~standard': {
    version: 1,
    vendor: 'missive',
    validate(value) {
      const v = value as Partial<SagaTimeoutPayload> | null;
      if (typeof v !== 'object' || v === null) return { issues: [{ message: 'expected an object' }] };
      for (const key of ['sagaId', 'timeoutId', 'name'] as const) {
        if (typeof v[key] !== 'string') return { issues: [{ message: `expected a string`, path: [key] }] };
      }
      return { value: v as SagaTimeoutPayload };
    },
  },
};

/** The contract of a saga's timeout messages: `<saga>.timeout`. */
export function sagaTimeoutContract(saga: string): CommandContract<string, typeof timeoutSchema> {
  return defineCommand(`${saga}.timeout`, timeoutSchema);
}

/** Installs a saga on a bus (what `bus.saga` calls). */
export function installSaga<State, Tx>(
  bus: BusCore,
  definition: SagaDefinition<State>,
  outbox: Outbox<Tx>,
  options: SagaOptions<Tx>,
): void {
  if (definition.messages.size === 0) throw new ConfigurationError(`saga ${definition.name} has no messages: add startedBy and on steps`);
  if (![...definition.messages.values()].some((m) => m.starts))
    throw new ConfigurationError(`saga ${definition.name} has no startedBy step: nothing can create an instance`);
  const endpoint = options.endpoint ?? definition.name;
  const Timeout = sagaTimeoutContract(definition.name);
  const runtime = new SagaRuntime(bus, definition, outbox, endpoint, Timeout);
  bus.attach({ start: async () => undefined, stop: () => runtime.cancelsDone() });
  const { store: _store, endpoint: _endpoint, outbox: _outbox, ...endpointOptions } = options;
  bus.endpoint(
    endpoint,
    (e) => {
      for (const message of definition.messages.values()) {
        e.on(message.contract, (payload, ctx) => runtime.handle(message.contract.name, payload, ctx));
      }
      e.on(Timeout, (payload, ctx) => runtime.timeout(payload, ctx));
    },
    { ...endpointOptions, retry: endpointOptions.retry ?? { immediate: 5, delayed: { attempts: 3, initialMs: 1000, factor: 5 } } },
  );
}

class SagaRuntime<State, Tx> {
  /** Cancels of dropped timeouts under way (see `cancelLater`). */
  private readonly cancelling = new Set<Promise<void>>();

  constructor(
    private readonly bus: BusCore,
    private readonly definition: SagaDefinition<State>,
    private readonly outbox: Outbox<Tx>,
    private readonly endpoint: string,
    private readonly timeoutContract: CommandContract,
  ) {}

  async handle(type: string, payload: unknown, ctx: MessageContext): Promise<void> {
    const step = this.definition.messages.get(type)!;
    const id = step.correlate(payload);
    if (typeof id !== 'string' || id === '')
      throw new UnrecoverableError(`saga ${this.definition.name}: correlate(${type}) returned no id`);
    const record = await this.outbox.store.loadSaga(this.definition.name, id);
    if (record === undefined && !step.starts) {
      if (step.missing === 'ignore') {
        this.bus.environment.logger.info(
          { messageId: ctx.messageId },
          `saga ${this.definition.name}: no instance ${id} for ${type}; ignored by rule`,
        );
        return;
      }
      throw new UnrecoverableError(`saga ${this.definition.name} has no instance ${id} for ${type} (missing rule: dead-letter)`);
    }
    if (record !== undefined && record.status !== 'active') {
      this.bus.environment.logger.debug(`saga ${this.definition.name}: instance ${id} is ${record.status}; late ${type} ignored`);
      return;
    }
    const base = record ?? this.newRecord(id, step.initial!(payload));
    const draft = new SagaDraft(base, ctx, this);
    if (step.handle !== undefined) await step.handle(payload, draft);
    await this.save(draft, record?.version ?? 0, ctx);
  }

  async timeout(payload: unknown, ctx: MessageContext): Promise<void> {
    const timeout = payload as SagaTimeoutPayload;
    const record = await this.outbox.store.loadSaga(this.definition.name, timeout.sagaId);
    if (record === undefined || record.status !== 'active' || !record.timeouts.some((t) => t.id === timeout.timeoutId)) return;
    const handle = this.definition.timeouts.get(timeout.name);
    if (handle === undefined) throw new UnrecoverableError(`saga ${this.definition.name} has no handler for timeout ${timeout.name}`);
    const draft = new SagaDraft(record, ctx, this);
    draft.timeouts = draft.timeouts.filter((t) => t.id !== timeout.timeoutId);
    await handle(draft, timeout.data);
    await this.save(draft, record.version, ctx, timeout.timeoutId);
  }

  prepare(
    parent: MessageContext,
    contract: EventContract | CommandContract,
    payload: unknown,
    options?: SendOptions & { scheduleId?: string },
  ): OutboxRecord {
    return this.bus.prepare(parent.envelope, contract, payload, options);
  }

  timeoutRecord(parent: MessageContext, sagaId: string, timeout: SagaTimeoutRecord): OutboxRecord {
    const payload: SagaTimeoutPayload = { sagaId, timeoutId: timeout.id, name: timeout.name, data: timeout.data };
    // Scheduled under its id where the transport can cancel it (see the module comment).
    const scheduleId = this.cancellable() ? timeout.id : undefined;
    return this.prepare(parent, this.timeoutContract, payload, {
      to: this.endpoint,
      at: timeout.due,
      ...(scheduleId === undefined ? {} : { scheduleId }),
    });
  }

  private cancellable(): boolean {
    return this.bus.transport.capabilities.cancelScheduled;
  }

  /** Resolves once the cancels under way are done (the bus waits for them when it stops). */
  async cancelsDone(): Promise<void> {
    while (this.cancelling.size > 0) await Promise.allSettled([...this.cancelling]);
  }

  /**
   * Cancels on the transport, in the background, the timeouts `draft` dropped, after its commit:
   * those the instance had before this step (the fired one aside) that the saved record no longer
   * holds. (One scheduled and dropped within the step is never sent: see `SagaDraft.outgoing`.)
   */
  private cancelLater(draft: SagaDraft<State, Tx>, kept: readonly SagaTimeoutRecord[], fired: string | undefined): void {
    if (!this.cancellable()) return;
    const keep = new Set(kept.map((t) => t.id));
    const dropped = draft.base.timeouts.map((t) => t.id).filter((id) => id !== fired && !keep.has(id));
    if (dropped.length === 0) return;
    const cancelling = this.cancelDropped(dropped).finally(() => this.cancelling.delete(cancelling));
    this.cancelling.add(cancelling);
  }

  /**
   * A timeout the transport does not hold may still wait in the outbox (the relay had not sent it
   * when the step committed): the outbox is flushed and the cancel tried again, so the race with
   * the relay cannot let a dropped timeout through. Best effort beyond that: one not cancelled
   * arrives when due and is ignored. Never rejects.
   */
  private async cancelDropped(dropped: readonly string[]): Promise<void> {
    const missed: string[] = [];
    for (const id of dropped) if (!(await this.cancel(id))) missed.push(id);
    if (missed.length === 0) return;
    await this.outbox.flush().catch(() => 0); // a failed relay run is logged by the relay
    for (const id of missed) await this.cancel(id);
  }

  /** Cancels one scheduled timeout: true if the transport held it. */
  private async cancel(id: string): Promise<boolean> {
    return this.bus.transport.cancelScheduled(id).catch((error: unknown) => {
      this.bus.environment.logger.warn(
        { err: error },
        `saga ${this.definition.name}: could not cancel timeout ${id}; it will be ignored when due`,
      );
      return true; // not a miss: flushing the outbox would not help
    });
  }

  compensation(name: string): (data: unknown, saga: SagaContext<State>) => void {
    const run = this.definition.compensations.get(name);
    if (run === undefined) throw new ConfigurationError(`saga ${this.definition.name} has no compensation named ${name}`);
    return run;
  }

  now(): number {
    return this.bus.environment.clock.now();
  }

  private newRecord(id: string, state: State): SagaRecord {
    const now = this.now();
    return {
      saga: this.definition.name,
      id,
      state,
      status: 'active',
      version: 0,
      timeouts: [],
      compensations: [],
      createdAt: now,
      updatedAt: now,
    };
  }

  private async save(draft: SagaDraft<State, Tx>, expectedVersion: number, ctx: MessageContext, fired?: string): Promise<void> {
    const checked = validate(this.definition.stateSchema, `${this.definition.name} saga state`, draft.state);
    const state = checked instanceof Promise ? await checked : checked;
    const now = this.now();
    const finished = draft.status !== 'active';
    const record: SagaRecord = {
      ...draft.base,
      state,
      status: draft.status,
      version: expectedVersion + 1,
      timeouts: finished ? [] : draft.timeouts,
      compensations: draft.compensations,
      reason: draft.reason,
      updatedAt: now,
      finishedAt: finished ? now : undefined,
    };
    await this.outbox.commit({
      inbox: { endpoint: this.endpoint, messageId: ctx.messageId, at: now },
      saga: { record, expectedVersion },
      outbox: draft.outgoing(record.timeouts),
    });
    this.cancelLater(draft, record.timeouts, fired);
  }
}

/** A handler's working copy of an instance. */
class SagaDraft<State, Tx> implements SagaContext<State> {
  state: State;
  status: SagaStatus;
  timeouts: SagaTimeoutRecord[];
  compensations: SagaCompensationRecord[];
  reason: string | undefined;
  readonly records: OutboxRecord[] = [];
  /** The outgoing records of the timeouts scheduled by this step, by timeout id. */
  private readonly scheduledRecords = new Map<string, OutboxRecord>();

  /** What this step sends: its records, less those of timeouts it scheduled that `kept` no longer holds. */
  outgoing(kept: readonly SagaTimeoutRecord[]): OutboxRecord[] {
    const keep = new Set(kept.map((t) => t.id));
    const unsent = new Set([...this.scheduledRecords].filter(([id]) => !keep.has(id)).map(([, record]) => record));
    return unsent.size === 0 ? this.records : this.records.filter((r) => !unsent.has(r));
  }

  constructor(
    readonly base: SagaRecord,
    readonly message: MessageContext,
    private readonly runtime: SagaRuntime<State, Tx>,
  ) {
    this.state = structuredClone(base.state) as State;
    this.status = base.status;
    this.timeouts = [...base.timeouts];
    this.compensations = [...base.compensations];
    this.reason = base.reason;
  }

  get id(): string {
    return this.base.id;
  }

  publish<C extends EventContract>(contract: C, payload: unknown, options?: PublishOptions): void {
    this.records.push(this.runtime.prepare(this.message, contract, payload, options));
  }

  send<C extends CommandContract>(contract: C, payload: unknown, options?: SendOptions): void {
    this.records.push(this.runtime.prepare(this.message, contract, payload, options));
  }

  scheduleTimeout(name: string, when: { readonly delayMs: number } | { readonly at: number | Date }, data?: unknown): string {
    this.cancelTimeout(name);
    const due = 'delayMs' in when ? this.runtime.now() + when.delayMs : when.at instanceof Date ? when.at.getTime() : when.at;
    if (!Number.isFinite(due)) throw new ConfigurationError(`saga timeout ${name}: not a valid time`);
    const timeout: SagaTimeoutRecord = { id: randomUUID(), name, due, data };
    this.timeouts.push(timeout);
    const record = this.runtime.timeoutRecord(this.message, this.id, timeout);
    this.scheduledRecords.set(timeout.id, record);
    this.records.push(record);
    return timeout.id;
  }

  cancelTimeout(nameOrId: string): number {
    const before = this.timeouts.length;
    this.timeouts = this.timeouts.filter((t) => t.name !== nameOrId && t.id !== nameOrId);
    return before - this.timeouts.length;
  }

  addCompensation(name: string, data?: unknown): void {
    this.runtime.compensation(name);
    this.compensations.push({ name, data });
  }

  compensate(reason: string): void {
    this.ensureActive('compensate');
    for (const step of [...this.compensations].reverse()) this.runtime.compensation(step.name)(step.data, this);
    this.status = 'compensated';
    this.reason = reason;
  }

  complete(): void {
    this.ensureActive('complete');
    this.status = 'completed';
  }

  fail(reason: string): void {
    this.ensureActive('fail');
    this.status = 'failed';
    this.reason = reason;
  }

  private ensureActive(what: string): void {
    if (this.status !== 'active') throw new UnrecoverableError(`saga instance ${this.id} is already ${this.status}; cannot ${what}`);
  }
}
