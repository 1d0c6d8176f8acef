/**
 * Runs one endpoint on a started bus: declares its queue, consumes it, runs each delivery through
 * the consume pipeline with at most `concurrency` handlers at once, settles every delivery exactly
 * once, pauses consumption while its circuit is open, and drains on stop.
 *
 * @example
 * ```ts
 * const runtime = new EndpointRuntime(definition, busInternals);
 * await runtime.start();
 * await runtime.stop(10_000);
 * ```
 * @module
 */
// The module's binding, not the global: `globalThis.performance` is a lazy accessor, about 150 instructions a read.
import { performance } from 'node:perf_hooks';
import { CircuitBreaker, type CircuitState } from '../policies/circuit-breaker.js';
import { RateLimiter } from '../policies/rate-limiter.js';
import { claimCommands } from '../transport/command-owners.js';
import { BufferedConsumer } from '../transport/buffered-consumer.js';
import { InFlightList } from '../transport/in-flight-list.js';
import { SETTLED } from '../transport/settle-once-delivery.js';
import type { Consumer, Delivery } from '../transport/transport.js';
import { consumePipeline } from '../consume/consume-pipeline.js';
import type { Attempt } from '../consume/steps/retry.js';
import { ConsumeState } from '../consume/consume-state.js';
import { prefetchOf, type EndpointDefinition } from '../consume/endpoint.js';
import type { Envelope } from '../message/envelope.js';
import { Header } from '../message/headers.js';
import { isRetryable, MissiveError, toError, UnrecoverableError } from '../errors.js';
import { childLogger, type Logger } from '../logger.js';
import { messageLogFields } from '../observe/message-log.js';
import type { EndpointHealth } from '../observe/health.js';
import type { ProcessSpan } from '../observe/tracing.js';
import type { BusInternals } from './bus-core.js';
import type { EndpointStats } from './bus-options.js';
import { deadLetterFailure, faultOf, reportHandled } from './delivery-reports.js';
import { HandlerContext } from './handler-context.js';

const DONE: Promise<void> = Promise.resolve();

/**
 * A delivery in flight: its pipeline state and, for the stop deadline, when it is done. One object
 * per delivery (the state is the entry of the in-flight list, not wrapped in one).
 */
class InFlight extends ConsumeState {
  /** Settles when the delivery is settled (or handed back). Set right after the entry is made. */
  done: Promise<void> = DONE;
}

/** Whether `await value` would wait for it: an object or function with a `then` method. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The runtime of one endpoint. */
export class EndpointRuntime {
  readonly stats: EndpointStats = {
    handled: 0,
    failed: 0,
    retried: 0,
    redelivered: 0,
    deadLettered: 0,
    expired: 0,
    inFlight: 0,
    circuit: 'closed',
  };
  private readonly pipeline: (state: ConsumeState) => Promise<void> | undefined;
  private readonly inFlight = new InFlightList<InFlight>();
  private readonly breaker: CircuitBreaker | undefined;
  private readonly limiter: RateLimiter | undefined;
  private readonly stopController = new AbortController();
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private limit: number;
  private slotWaiter: (() => void) | undefined;
  private control: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly log: Logger;
  /** Set when the consumer loop ended on its own (cleared when a new consumer opens). */
  private stoppedBecause: string | undefined;
  private consumerReady = false;
  private lastError: { readonly message: string; readonly at: string } | undefined;
  private failure_: Error | undefined;

  constructor(
    readonly definition: EndpointDefinition,
    private readonly bus: BusInternals,
  ) {
    this.limit = definition.concurrency;
    this.log = childLogger(bus.logger, { endpoint: definition.name });
    this.breaker = definition.circuitBreaker === false ? undefined : new CircuitBreaker(definition.circuitBreaker, bus.clock);
    this.limiter = definition.rateLimit === undefined ? undefined : new RateLimiter(definition.rateLimit, bus.clock);
    this.pipeline = consumePipeline({
      definition,
      codec: bus.codec,
      clock: bus.clock,
      onExpired: (state, action) => {
        this.stats.expired++;
        bus.onExpired({ endpoint: definition.name, messageId: state.envelope.id, type: state.envelope.type, action });
      },
      onRetry: (event, state) => {
        bus.metrics.retried(definition.name, event.mode);
        if (event.mode === 'immediate') this.stats.retried++;
        else {
          this.stats.redelivered++;
          this.log.info(
            { ...messageLogFields(state), delayMs: event.delayMs, err: event.error },
            `redelivery in ${event.delayMs} ms scheduled`,
          );
        }
        bus.onRetry(event);
      },
      observe: (state, attempt) => this.observe(state, attempt),
      middleware: [...bus.middleware, ...definition.middleware],
      handler: (state) => this.invoke(state),
    });
    this.breaker?.onChange((state, previous) => this.onCircuit(state, previous));
  }

  /** Why the endpoint's consumer failed and stopped consuming, or undefined while it consumes. */
  get failure(): Error | undefined {
    return this.failure_;
  }

  /** Claims the endpoint's command types (see `command-owners.ts`), declares the queue and starts consuming. */
  async start(): Promise<void> {
    const { name, commands, takeOver } = this.definition;
    await claimCommands(
      this.bus.transport.commandOwners,
      { queue: name, service: this.bus.service, types: commands, takeOver },
      this.bus.logger,
    );
    await this.bus.transport.declare({ name: this.definition.name, topics: this.definition.topics, ordered: this.definition.ordered });
    this.open(prefetchOf(this.definition, this.bus.transport.capabilities), this.definition.concurrency);
    await this.consumer?.ready;
  }

  /**
   * Stops taking deliveries, waits up to `deadlineMs` for in-flight handlers, then hands the rest
   * back to the queue (their handlers' signal aborts; their results are ignored).
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.breaker?.dispose();
    this.stopController.abort(new MissiveError('CLOSED', `endpoint ${this.definition.name} is stopping`));
    await this.closeConsumer();
    await this.control;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      });
      await Promise.race([Promise.allSettled(this.inFlight.toArray().map((flight) => flight.done)), deadline]);
      clearTimeout(timer);
    }
    for (const flight of this.inFlight.toArray()) {
      flight.handedBack = true;
      flight.abort(new MissiveError('CLOSED', `stop deadline of ${deadlineMs} ms passed; the message was handed back for redelivery`));
      try {
        await flight.received.nack();
      } catch (error) {
        this.log.warn({ err: error }, 'could not hand a delivery back at stop; the broker will redeliver it');
      }
    }
    this.inFlight.clear();
  }

  /** The endpoint's health: consumer running and ready, circuit, last handler error. */
  health(): EndpointHealth {
    return {
      running: this.stoppedBecause === undefined,
      ready: this.consumerReady || this.stats.circuit !== 'closed',
      circuit: this.stats.circuit,
      inFlight: this.stats.inFlight,
      stoppedBecause: this.stoppedBecause,
      lastError: this.lastError,
    };
  }

  private open(prefetch: number, concurrency: number): void {
    if (this.stopping) return;
    const consumer = this.bus.transport.consume(this.definition.name, { prefetch });
    this.consumer = consumer;
    this.stoppedBecause = undefined;
    this.consumerReady = consumer.ready === undefined;
    consumer.ready?.then(
      () => {
        if (this.consumer === consumer) this.consumerReady = true;
      },
      () => undefined,
    );
    this.limit = concurrency;
    this.loop = this.run(consumer);
  }

  private async closeConsumer(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer === undefined) return;
    await consumer.close();
    this.wakeSlot();
    await this.loop;
  }

  /**
   * The consumer loop. Nothing one message does ends it: the pipeline settles every delivery and
   * never throws, and a hand-back that fails is logged. Only the consumer's own iterator failing
   * ends it, and that is reported (`onConsumerFailed`), never a silent stop.
   */
  private async run(consumer: Consumer): Promise<void> {
    // A consumer of the transport kit hands over the deliveries already waiting without a turn of
    // the iterator (a promise and a result object) for each.
    const waiting = consumer instanceof BufferedConsumer ? consumer : undefined;
    try {
      consuming: for await (const first of consumer) {
        let delivery: Delivery | undefined = first;
        while (delivery !== undefined) {
          if (this.consumer !== consumer) {
            await this.handBack(delivery);
            break consuming;
          }
          while (this.inFlight.size >= this.limit && this.consumer === consumer)
            await new Promise<void>((resolve) => (this.slotWaiter = resolve));
          if (this.limiter !== undefined && this.consumer === consumer) {
            try {
              await this.limiter.take(this.stopController.signal);
            } catch {
              /* stopping */
            }
          }
          if (this.consumer !== consumer) {
            await this.handBack(delivery);
            break consuming;
          }
          this.track(delivery);
          delivery = waiting?.takeWaiting();
        }
      }
      if (!this.stopping && this.consumer === consumer) {
        this.stoppedBecause = 'the transport ended its deliveries';
        this.log.error('consumer stopped: the transport ended its deliveries');
      }
    } catch (thrown) {
      if (this.stopping || this.consumer !== consumer) return;
      const error = toError(thrown);
      this.failure_ = error;
      this.stoppedBecause = error.message;
      this.consumer = undefined;
      void consumer.close().catch(() => undefined);
      this.bus.onConsumerFailed({ endpoint: this.definition.name, error });
    }
  }

  /**
   * Returns a delivery the loop took but will not run, without counting it where the transport can
   * (`release`: its handler never started); a failure is logged (the broker redelivers it).
   */
  private async handBack(delivery: Delivery): Promise<void> {
    try {
      await (delivery.release === undefined ? delivery.nack() : delivery.release());
    } catch (error) {
      this.log.warn({ messageId: delivery.message.id, err: error }, 'could not hand a delivery back; the broker will redeliver it');
    }
  }

  private wakeSlot(): void {
    const waiter = this.slotWaiter;
    this.slotWaiter = undefined;
    waiter?.();
  }

  private track(delivery: Delivery): void {
    const flight = new InFlight(this.bus.service, this.definition.name, delivery);
    this.stats.inFlight++;
    const metrics = this.bus.metrics;
    if (metrics.recording) metrics.consumed(this.definition.name);
    // The entry exists before `process` can end and remove it.
    this.inFlight.add(flight);
    flight.done = this.process(flight);
  }

  /**
   * Runs the pipeline and settles the delivery exactly once, then frees its slot. Never throws or
   * rejects. A pipeline that ended at once (see `consumePipeline`) goes straight to the settle.
   */
  private process(flight: InFlight): Promise<void> {
    const startedAt = this.bus.observesHandled() ? performance.now() : -1;
    let pending: Promise<void> | undefined;
    try {
      pending = this.pipeline(flight);
    } catch (thrown) {
      return this.finish(flight, toError(thrown), startedAt);
    }
    if (pending === undefined) return this.finish(flight, undefined, startedAt);
    return pending.then(
      () => this.finish(flight, undefined, startedAt),
      (thrown: unknown) => this.finish(flight, toError(thrown), startedAt),
    );
  }

  /** Settles the delivery as the pipeline ended (`error`: it threw), counts and reports it, then frees its slot. Never rejects. */
  private finish(flight: InFlight, error: Error | undefined, startedAt: number): Promise<void> {
    if (flight.handedBack) {
      this.release(flight);
      return DONE;
    }
    let settling: Promise<void>;
    try {
      settling = this.settle(flight, error);
    } catch (settleError) {
      this.settleFailed(flight, settleError);
      return DONE;
    }
    // A settle done by the time it returned (the kit's `SETTLED`) goes on at once, without a reaction.
    if (settling === SETTLED) {
      this.afterSettle(flight, error, startedAt);
      return DONE;
    }
    return settling.then(
      () => this.afterSettle(flight, error, startedAt),
      (settleError: unknown) => this.settleFailed(flight, settleError),
    );
  }

  /** Counts and reports a settled delivery, then frees its slot. Never throws. */
  private afterSettle(flight: InFlight, error: Error | undefined, startedAt: number): void {
    try {
      if (error === undefined && flight.settlement.kind === 'ack') this.stats.handled++;
      if (startedAt >= 0) this.reportHandled(flight, error, startedAt);
    } catch (reportError) {
      this.settleFailed(flight, reportError);
      return;
    }
    this.release(flight);
  }

  private settleFailed(flight: InFlight, settleError: unknown): void {
    try {
      this.log.error({ ...messageLogFields(flight), err: settleError }, 'could not settle a delivery; the broker will deliver it again');
    } finally {
      this.release(flight);
    }
  }

  /** Frees the delivery's slot. */
  private release(flight: InFlight): void {
    this.stats.inFlight--;
    this.inFlight.remove(flight);
    this.wakeSlot();
  }

  /** Reports a settled delivery to the bus's handled observers and `handled` listeners. */
  private reportHandled(state: ConsumeState, error: Error | undefined, startedAt: number): void {
    reportHandled(state, error, startedAt, this.bus.service, this.definition.name, this.bus.onHandled);
  }

  /** Dead-letters the delivery for `error`, or settles it as the pipeline decided. */
  private settle(state: ConsumeState, error: Error | undefined): Promise<void> {
    if (error !== undefined) return this.deadLetter(state, error);
    const settlement = state.settlement;
    if (settlement.kind === 'redeliver') return state.received.nack({ delayMs: settlement.delayMs, headers: settlement.headers });
    return state.received.ack();
  }

  private async deadLetter(state: ConsumeState, error: Error): Promise<void> {
    const envelope = state.envelope as Envelope | undefined;
    const reason = error instanceof MissiveError ? error.code : 'HANDLER_FAILED';
    await state.received.deadLetter(deadLetterFailure(state, error, reason, this.definition.name, this.bus));
    this.stats.deadLettered++;
    this.log.error({ ...messageLogFields(state), reason, err: error }, `message dead-lettered: ${reason}`);
    this.bus.tracing.deadLettered(envelope, state.received.message.id, this.definition.name, reason, error);
    this.bus.metrics.deadLettered(this.definition.name, reason);
    if (this.bus.publishFault !== undefined) await this.publishFault(state, envelope, reason, error);
    this.bus.onDeadLettered({
      endpoint: this.definition.name,
      messageId: state.received.message.id,
      type: state.received.message.type,
      reason,
      error,
    });
    if (envelope?.messagekind === 'query' && envelope.replyto !== undefined) {
      await this.bus
        .replyTo(envelope, undefined, { name: error.name, message: error.message }, 'error')
        .catch((replyError: unknown) => this.log.debug({ err: replyError }, 'could not send an error reply'));
    }
  }

  /** Publishes the fault event of a dead letter; a failure to publish it is logged, never thrown. */
  private async publishFault(state: ConsumeState, envelope: Envelope | undefined, reason: string, error: Error): Promise<void> {
    const fault = faultOf(state, envelope, reason, error, this.definition.name, this.bus);
    try {
      await this.bus.publishFault!(envelope, fault);
    } catch (publishError) {
      this.log.warn({ ...messageLogFields(state), err: publishError }, 'could not publish the fault event of a dead letter');
    }
  }

  /**
   * Counts outcomes for the circuit breaker; message faults (non-retryable) do not count. An
   * attempt that ended at once is noted at once, without a promise (see `consumePipeline`).
   */
  private observe(state: ConsumeState, attempt: Attempt): Promise<void> | undefined {
    // With no provider registered (no metrics, no tracing) the attempt runs with nothing around it:
    // no clock read, no span, no metrics call. Written out rather than through observeTimed: with the
    // extra call V8 compiled more per message (callgrind, docs/BENCHMARKS.md, issue 15 no-provider pass).
    if (this.bus.metrics.recording || this.bus.tracing.tracingOn()) return this.observeInstrumented(state, attempt);
    let pending: Promise<void> | undefined;
    try {
      pending = attempt(state);
      if (pending === undefined) {
        this.breaker?.record(true);
        return undefined;
      }
    } catch (thrown) {
      return this.failed(state, -1, thrown);
    }
    return pending.then(
      () => {
        try {
          this.breaker?.record(true);
        } catch (thrown) {
          this.failed(state, -1, thrown);
        }
      },
      (thrown: unknown) => this.failed(state, -1, thrown),
    );
  }

  /** {@link observe} with metrics or tracing on: the attempt's start time and `process` span (when recorded). */
  private observeInstrumented(state: ConsumeState, attempt: Attempt): Promise<void> | undefined {
    // The attempt's duration is only recorded by metrics: no clock read when they are off.
    const startedAt = this.bus.metrics.recording ? performance.now() : -1;
    const tracing = this.bus.tracing;
    // When the trace is not sampled, the span is not recorded and the attempt runs as it would without one.
    const span = tracing.tracingOn()
      ? tracing.startProcess(
          state.envelope,
          this.definition.name,
          state.attempt,
          state.received.message.headers[Header.ReplayedAt] !== undefined,
        )
      : undefined;
    if (span !== undefined) return this.observeTraced(state, attempt, startedAt, span);
    return this.observeTimed(state, attempt, startedAt);
  }

  /** Runs an attempt with no span around it; `startedAt` as for `BusMetrics.processed` (negative: not timed). */
  private observeTimed(state: ConsumeState, attempt: Attempt, startedAt: number): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    try {
      pending = attempt(state);
      if (pending === undefined) {
        this.succeeded(startedAt);
        return undefined;
      }
    } catch (thrown) {
      return this.failed(state, startedAt, thrown);
    }
    return pending.then(
      () => {
        try {
          this.succeeded(startedAt);
        } catch (thrown) {
          this.failed(state, startedAt, thrown);
        }
      },
      (thrown: unknown) => this.failed(state, startedAt, thrown),
    );
  }

  /**
   * {@link observe} with the attempt's recorded `process` span around it. Like observe, no promise
   * of its own when the attempt ends at once (a synchronous handler): with the Node SDK's context
   * manager every promise of the process pays its hook.
   */
  private observeTraced(state: ConsumeState, attempt: Attempt, startedAt: number, span: ProcessSpan): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    try {
      pending = this.bus.tracing.inProcess(span, attempt, state);
      if (pending === undefined) {
        this.tracedSucceeded(state, startedAt, span);
        return undefined;
      }
    } catch (thrown) {
      return this.tracedFailed(state, startedAt, span, thrown);
    }
    return pending.then(
      () => this.tracedSucceeded(state, startedAt, span),
      (thrown: unknown) => this.tracedFailed(state, startedAt, span, thrown),
    );
  }

  /** Ends the `process` span of an attempt that succeeded and notes it (a failure to note it fails the attempt). */
  private tracedSucceeded(state: ConsumeState, startedAt: number, span: ProcessSpan): void {
    span.span.end();
    try {
      this.succeeded(startedAt);
    } catch (thrown) {
      this.failed(state, startedAt, thrown);
    }
  }

  /** Ends the `process` span of a failed attempt with its error (unless ended already), notes it and throws the error. */
  private tracedFailed(state: ConsumeState, startedAt: number, span: ProcessSpan, thrown: unknown): never {
    // An ended span no longer records: it is not ended twice.
    if (span.span.isRecording()) this.bus.tracing.end(span.span, toError(thrown));
    return this.failed(state, startedAt, thrown);
  }

  private succeeded(startedAt: number): void {
    this.bus.metrics.processed(this.definition.name, startedAt, undefined);
    this.breaker?.record(true);
  }

  /** Notes a failed attempt and throws its error. */
  private failed(state: ConsumeState, startedAt: number, thrown: unknown): never {
    const error = toError(thrown);
    this.stats.failed++;
    this.bus.metrics.processed(this.definition.name, startedAt, error);
    this.log.warn({ ...messageLogFields(state), err: error }, 'handler failed');
    this.lastError = { message: `${error.name}: ${error.message}`, at: new Date(this.bus.clock.now()).toISOString() };
    if (isRetryable(error)) this.breaker?.record(false);
    throw error;
  }

  /** Calls the handler: undefined when it returned no promise (or other thenable), else a promise of its end. */
  private invoke(state: ConsumeState): Promise<void> | undefined {
    const route = state.route;
    const ctx = new HandlerContext(state, this.bus);
    if (route.kind === 'responder') return this.respond(state, ctx);
    const result = (route.run as (p: unknown, c: HandlerContext) => unknown)(state.payload, ctx);
    return isThenable(result) ? (Promise.resolve(result) as Promise<void>) : undefined;
  }

  private async respond(state: ConsumeState, ctx: HandlerContext): Promise<void> {
    const result = await (state.route.run as (p: unknown, c: HandlerContext) => unknown)(state.payload, ctx);
    if (!ctx.replied) {
      if (result === undefined)
        throw new UnrecoverableError(`responder of ${state.envelope.type} returned no reply and did not call ctx.reply`);
      await ctx.reply(result);
    }
  }

  private onCircuit(next: CircuitState, previous: CircuitState): void {
    this.stats.circuit = next;
    this.bus.onCircuit({ endpoint: this.definition.name, state: next, previous });
    if (this.stopping) return;
    this.control = this.control.then(async () => {
      if (this.stopping) return;
      if (next === 'open') {
        await this.closeConsumer();
      } else if (next === 'half-open') {
        await this.closeConsumer();
        this.open(1, 1);
      } else {
        await this.closeConsumer();
        this.open(prefetchOf(this.definition, this.bus.transport.capabilities), this.definition.concurrency);
      }
    });
  }
}
