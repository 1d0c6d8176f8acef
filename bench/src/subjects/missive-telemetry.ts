/**
 * Missive with and without the OpenTelemetry SDK: the memory pair and the broker publisher and
 * consumer of `missive-memory` and `missive-bus`, where `args.sdk` registers the SDK first (tracer
 * provider with a batching span processor and a meter provider, both feeding exporters that
 * discard what they get), and `args.core` (optional) loads another build of `@missive/core` (the
 * baseline: the commit before observability) by path.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type * as CoreModule from '@missive/core';
import { startTelemetry } from '@missive/otel';
import { ORDER_TOPIC, orderSchema, type Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePair, CreatePublisher, SubjectArgs } from '../harness/subject.js';

type Core = typeof CoreModule;

/** A span exporter that drops everything (the cost measured is the SDK's, not a collector's). */
class DiscardingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

async function setUp(args: SubjectArgs, service: string): Promise<{ core: Core; stop: () => Promise<void> }> {
  const telemetry =
    args['sdk'] === true ? startTelemetry({ service, spanExporter: new DiscardingExporter(), prometheus: true }) : undefined;
  const path = args['core'];
  const core = (typeof path === 'string' ? await import(pathToFileURL(path).href) : await import('@missive/core')) as Core;
  return { core, stop: async () => telemetry?.shutdown() };
}

export const createPair: CreatePair = async (args, onMessage) => {
  const { core, stop } = await setUp(args, 'bench');
  const OrderPlaced = core.defineEvent(ORDER_TOPIC, orderSchema);
  const bus = core.createBus({ service: 'bench', transport: 'memory://' });
  bus.endpoint(args.name, (e) => e.on(OrderPlaced, (order) => onMessage(order as Order)), {
    concurrency: args.concurrency,
    prefetch: args.prefetch,
  });
  await bus.start();
  return {
    publish: (order) => bus.publish(OrderPlaced, order),
    close: async () => {
      await bus.stop();
      await stop();
    },
  };
};

export const createPublisher: CreatePublisher = async (args) => {
  const { core, stop } = await setUp(args, 'bench-publisher');
  const contract = core.defineEvent(`bench.${args.name}`, orderSchema);
  const bus = core.createBus({ service: 'bench-publisher', transport: String(args['url']) });
  await bus.start();
  return {
    publish: (order) => bus.publish(contract, order),
    close: async () => {
      await bus.stop();
      await stop();
    },
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const { core, stop } = await setUp(args, 'bench-consumer');
  const contract = core.defineEvent(`bench.${args.name}`, orderSchema);
  const bus = core.createBus({ service: 'bench-consumer', transport: String(args['url']), stopTimeoutMs: 2000 });
  bus.endpoint(args.name, (e) => e.on(contract, (order) => onMessage(order as Order)), {
    concurrency: args.concurrency,
    prefetch: args.prefetch,
  });
  await bus.start();
  return {
    close: async () => {
      await bus.stop();
      await stop();
    },
  };
};

export { cleanup } from './missive-bus.js';
