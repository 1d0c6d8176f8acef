/**
 * Captures the spans Missive creates, for tests: registers an OpenTelemetry tracer provider (the
 * SDK's, with an in-memory exporter) and an async-hooks context manager as the process's globals,
 * as an application registers its SDK.
 *
 * @example
 * ```ts
 * const capture = captureSpans();
 * await bus.publish(OrderPlaced, { orderId: 'o-1' });
 * const spans = capture.spans(); // ReadableSpan[], ended ones, oldest first
 * await capture.shutdown();
 * ```
 * @module
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** What {@link captureSpans} gives. */
export interface SpanCapture {
  /** The spans ended so far, oldest first. */
  spans(): ReadableSpan[];
  /** Forgets the spans captured so far. */
  reset(): void;
  /** Unregisters the provider and context manager. */
  shutdown(): Promise<void>;
}

/** Registers a capturing tracer provider as the global one (replacing any registered before). */
export function captureSpans(): SpanCapture {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  trace.disable();
  context.disable();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager);
  return {
    spans: () => [...exporter.getFinishedSpans()],
    reset: () => exporter.reset(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
