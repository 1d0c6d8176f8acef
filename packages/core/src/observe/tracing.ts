/**
 * Message tracing through `@opentelemetry/api` alone, after the OpenTelemetry messaging semantic
 * conventions: a producer span for each publish (`publish <topic>`), send (`send <queue>`) and
 * outbox-built message (`create <destination>`), whose context travels in the envelope; a consumer
 * span for each handler attempt (`process <queue>`), child of the message's context, so retries and
 * redeliveries are spans of their own with their attempt; a `settle` span when a message is
 * dead-lettered. A replayed dead letter starts a new trace linked to its first one.
 *
 * The application registers a provider as usual (the OpenTelemetry Node SDK); without one every
 * span is a non-recording no-op and the trace context of an incoming message is carried forward
 * unchanged.
 *
 * @example
 * ```ts
 * const tracing = new MessageTracing('shop');
 * const span = tracing.startProducer('publish', 'shop.order-placed', undefined, performance.now());
 * const envelope = createEnvelope({ ..., traceparent: span.traceparent });
 * ```
 * @module
 */
import {
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { Envelope } from '../message/envelope.js';
import { MissiveError } from '../errors.js';
import { rootContextWith } from './span-only-context.js';
import { spanContextOf, traceparentOf } from './trace-context.js';

/** The instrumentation scope's name and version, as spans and metrics carry them. */
export const INSTRUMENTATION_SCOPE = { name: '@missive/core', version: '0.1.0' } as const;

/** Attribute names (OpenTelemetry messaging semantic conventions, and Missive's own). */
export const Attr = {
  System: 'messaging.system',
  Destination: 'messaging.destination.name',
  OperationType: 'messaging.operation.type',
  OperationName: 'messaging.operation.name',
  MessageId: 'messaging.message.id',
  ConversationId: 'messaging.message.conversation_id',
  ConsumerGroup: 'messaging.consumer.group.name',
  ErrorType: 'error.type',
  MessageType: 'missive.message.type',
  Attempt: 'missive.attempt',
  Service: 'missive.service',
  DeadLetterReason: 'missive.dead_letter.reason',
} as const;

/** Producer operations: `publish` to a topic, `send` to a queue, `create` for an outbox message. */
export type ProducerOperation = 'publish' | 'send' | 'create';

/** A started producer span and the trace context to write into the message. */
export interface ProducerSpan {
  readonly span: Span;
  readonly operation: ProducerOperation;
  readonly destination: string;
  /** `performance.now()` at the start, for the operation's duration; negative when not read (metrics off). */
  readonly startedAt: number;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
}

/** A recorded `process` span and the context its handler attempt runs in (see {@link MessageTracing.startProcess}). */
export interface ProcessSpan {
  readonly span: Span;
  readonly context: Context;
}

/** The error type attribute of an error: a Missive error code, else the error's name. */
export function errorType(error: Error): string {
  return error instanceof MissiveError ? error.code : error.name;
}

/** The key of the value that tells whether a context manager is registered. */
const PROBE = createContextKey('missive.context-probe');

const PRODUCER = Object.freeze({ kind: SpanKind.PRODUCER });
const CONSUMER = Object.freeze({ kind: SpanKind.CONSUMER });

/** The span of a message sent while no provider is registered (a no-op). */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Tracing of one bus. */
export class MessageTracing {
  /**
   * The provider {@link tracer} was made from: the API's proxy, which a provider registered later
   * (`trace.setGlobalTracerProvider`, the SDK's `register()`) becomes the delegate of.
   */
  private readonly provider = trace.getTracerProvider();
  /**
   * The proxy of {@link provider}, or undefined when the provider is not one (then the tracer records
   * from the start).
   */
  private readonly proxy = this.provider instanceof ProxyTracerProvider ? this.provider : undefined;
  private readonly tracer: Tracer = this.provider.getTracer(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
  /** The context of each message being handled (its process span), for what its handler sends. */
  private readonly handling = new WeakMap<Envelope, Context>();
  private system_ = 'missive';

  /** `messaging.system`: the transport's kind, known at start. */
  get system(): string {
    return this.system_;
  }

  set system(system: string) {
    this.system_ = system;
    this.producerAttributeSets.clear();
    this.processAttributeSets.clear();
  }
  /** Set once a tracer provider is registered (it stays so: the check is then skipped). */
  private enabled = false;
  /** Span names (`publish shop.order-placed`, `process billing`) by operation and destination, built once each. */
  private readonly names = new Map<string, Map<string, string>>();
  /** Producer span attributes by operation and destination (see producerAttributes). */
  private readonly producerAttributeSets = new Map<ProducerOperation, Map<string, Attributes>>();
  /** Process span attributes by queue (see processAttributes). */
  private readonly processAttributeSets = new Map<string, Attributes>();
  /** Whether a context manager carries the active context into handlers (see contextPropagates); undefined until checked. */
  private propagates: boolean | undefined;

  private spanName(operation: string, destination: string): string {
    let byDestination = this.names.get(operation);
    if (byDestination === undefined) this.names.set(operation, (byDestination = new Map()));
    let name = byDestination.get(destination);
    if (name === undefined) byDestination.set(destination, (name = `${operation} ${destination}`));
    return name;
  }

  /**
   * Whether a tracer provider is registered: whether the bus's tracer has a delegate, which it gets
   * whenever one is registered, before or after the bus started. Without one, no producer or process
   * span is started (the parent's trace context is carried forward as it is): no span objects, no
   * context parsing. Asked per message, so it reads the tracer's own proxy (one property) rather than
   * the API's global (a lookup on `globalThis` by symbol, a dictionary probe: about 3 times the cost).
   */
  tracingOn(): boolean {
    if (this.enabled) return true;
    this.enabled =
      this.proxy === undefined || this.proxy.getDelegateTracer(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version) !== undefined;
    return this.enabled;
  }

  /**
   * The context a message caused by `parent` continues: the active span when there is one (an
   * instrumented HTTP server, a span of the handler's own), else the process span of `parent`, else
   * the trace context `parent` carries.
   */
  parentContext(parent: Envelope | undefined): Context {
    const active = context.active();
    if (parent === undefined || trace.getSpan(active) !== undefined) return active;
    const handling = this.handling.get(parent);
    if (handling !== undefined) return handling;
    const remote = spanContextOf(parent.traceparent, parent.tracestate);
    return remote === undefined ? active : trace.setSpanContext(active, remote);
  }

  /**
   * Starts a producer span for a message to `destination`; end it with {@link MessageTracing.end}.
   * `startedAt`: `performance.now()` for the operation's duration, or negative when metrics do not
   * record it.
   */
  startProducer(
    operation: ProducerOperation,
    destination: string,
    parent: Envelope | undefined,
    startedAt: number,
    parentContext?: Context,
  ): ProducerSpan {
    if (!this.tracingOn())
      return { span: NO_SPAN, operation, destination, startedAt, traceparent: parent?.traceparent, tracestate: parent?.tracestate };
    const span = this.tracer.startSpan(this.spanName(operation, destination), PRODUCER, parentContext ?? this.parentContext(parent));
    if (span.isRecording()) span.setAttributes(this.producerAttributes(operation, destination));
    const spanContext = span.spanContext();
    const traceparent = traceparentOf(spanContext);
    const tracestate = traceparent === undefined ? parent?.tracestate : spanContext.traceState?.serialize();
    return {
      span,
      operation,
      destination,
      startedAt,
      traceparent: traceparent ?? parent?.traceparent,
      tracestate: tracestate === '' ? undefined : tracestate,
    };
  }

  /** Notes the message a producer span sent. */
  message(span: Span, envelope: Envelope): void {
    if (!span.isRecording()) return;
    // One by one: the SDK copies the attributes of an object key by key anyway, and no object is made per message.
    span.setAttribute(Attr.MessageId, envelope.id);
    span.setAttribute(Attr.ConversationId, envelope.conversationid);
    span.setAttribute(Attr.MessageType, envelope.type);
  }

  /** Ends a span, marking it failed when `error` is given. */
  end(span: Span, error?: Error): void {
    if (error !== undefined && span.isRecording()) {
      span.recordException(error);
      span.setAttribute(Attr.ErrorType, errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    span.end();
  }

  /**
   * Starts the `process` span of one handler attempt of `envelope` on `queue`: a child of the
   * message's trace context, or, for a replayed dead letter, a new trace linked to it. Undefined
   * when nothing is recorded (no provider, or the sampler left this trace out): run the attempt as
   * it is. Otherwise run it through {@link MessageTracing.inProcess} and end the span with
   * {@link MessageTracing.end}. No closure and no promise of its own per message.
   */
  startProcess(envelope: Envelope, queue: string, attempt: number, replayed: boolean): ProcessSpan | undefined {
    if (!this.tracingOn()) return undefined;
    const remote = spanContextOf(envelope.traceparent, envelope.tracestate);
    let parent: Context = ROOT_CONTEXT;
    let links: Link[] | undefined;
    if (remote !== undefined) {
      if (replayed) links = [{ context: remote, attributes: { 'missive.link': 'replayed-from' } }];
      else parent = rootContextWith(trace.wrapSpanContext(remote));
    }
    const span = this.tracer.startSpan(
      this.spanName('process', queue),
      links === undefined ? CONSUMER : { kind: SpanKind.CONSUMER, links },
      parent,
    );
    // Not recorded (not sampled): what the handler sends carries the message's own trace context
    // forward (see parentContext), and nothing else needs doing; a non-recording span needs no end.
    if (!span.isRecording()) return undefined;
    span.setAttributes(this.processAttributes(queue));
    span.setAttribute(Attr.MessageId, envelope.id);
    span.setAttribute(Attr.ConversationId, envelope.conversationid);
    span.setAttribute(Attr.MessageType, envelope.type);
    span.setAttribute(Attr.Attempt, attempt);
    // The parent is in the span already: the handler's context needs only the span.
    const active = rootContextWith(span);
    if (!this.contextPropagates()) this.handling.set(envelope, active);
    return { span, context: active };
  }

  /** Runs `run(arg)` with `process` as the active context (what the handler sends continues its trace). */
  inProcess<A, R>(process: ProcessSpan, run: (arg: A) => R, arg: A): R {
    return context.with(process.context, run, undefined, arg);
  }

  /**
   * Whether a context manager is registered (the Node SDK's async-hooks one): then what a handler
   * sends finds its process span as the active context, and the bus need not remember it per
   * message. Checked once tracing is on.
   */
  private contextPropagates(): boolean {
    if (this.propagates === undefined) {
      const probe = ROOT_CONTEXT.setValue(PROBE, true);
      this.propagates = context.with(probe, () => context.active() === probe);
    }
    return this.propagates;
  }

  /** Records a dead-lettering as a `settle` span in the message's trace (`envelope` absent when it could not be decoded). */
  deadLettered(envelope: Envelope | undefined, messageId: string, queue: string, reason: string, error: Error): void {
    if (!this.tracingOn()) return;
    const remote = envelope === undefined ? undefined : spanContextOf(envelope.traceparent, envelope.tracestate);
    const parent = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
    const span = this.tracer.startSpan(`dead_letter ${queue}`, { kind: SpanKind.CONSUMER }, parent);
    if (span.isRecording()) {
      const attributes: Attributes = {
        [Attr.System]: this.system,
        [Attr.Destination]: queue,
        [Attr.ConsumerGroup]: queue,
        [Attr.OperationType]: 'settle',
        [Attr.OperationName]: 'dead_letter',
        [Attr.MessageId]: messageId,
        [Attr.DeadLetterReason]: reason,
      };
      if (envelope !== undefined) attributes[Attr.ConversationId] = envelope.conversationid;
      span.setAttributes(attributes);
    }
    this.end(span, error);
  }

  /** The attributes every producer span of `operation` to `destination` has, made once each (the SDK copies them). */
  private producerAttributes(operation: ProducerOperation, destination: string): Attributes {
    let byDestination = this.producerAttributeSets.get(operation);
    if (byDestination === undefined) this.producerAttributeSets.set(operation, (byDestination = new Map()));
    let attributes = byDestination.get(destination);
    if (attributes === undefined) {
      attributes = Object.freeze({
        [Attr.System]: this.system,
        [Attr.Destination]: destination,
        [Attr.OperationType]: operation === 'create' ? 'create' : 'send',
        [Attr.OperationName]: operation,
      });
      byDestination.set(destination, attributes);
    }
    return attributes;
  }

  /** The attributes every process span on `queue` has, made once each (the per-message ones are set one by one). */
  private processAttributes(queue: string): Attributes {
    let attributes = this.processAttributeSets.get(queue);
    if (attributes === undefined) {
      attributes = Object.freeze({
        [Attr.System]: this.system,
        [Attr.Destination]: queue,
        [Attr.ConsumerGroup]: queue,
        [Attr.OperationType]: 'process',
        [Attr.OperationName]: 'process',
      });
      this.processAttributeSets.set(queue, attributes);
    }
    return attributes;
  }
}
