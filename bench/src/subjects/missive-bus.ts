/**
 * Missive over a transport URL (`amqp://…`, `sqlite://…`): a publisher bus with no endpoints, and a
 * consumer bus with one endpoint handling the run's own event type (so no other queue bound to the
 * topic gets copies). The payload is checked against its zod schema on publish and on receipt.
 *
 * Subject args: `url` (transport URL); the endpoint is `args.name`, the event type `bench.<name>`;
 * `transportModule` (optional): the path of another build of the URL's transport package (a
 * baseline: the same transport before a change), used through `createBus`'s `transports` option.
 * @module
 */
import { pathToFileURL } from 'node:url';
import { createBus, defineEvent, type TransportFactory } from '@missive/core';
import { orderSchema, type Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const contractOf = (args: SubjectArgs) => defineEvent(`bench.${args.name}`, orderSchema);

/** The `transports` option: the baseline build's factory for the URL's scheme, when one is named. */
async function transportsOf(args: SubjectArgs): Promise<Record<string, TransportFactory> | undefined> {
  const path = args['transportModule'];
  if (typeof path !== 'string') return undefined;
  const module = (await import(pathToFileURL(path).href)) as { createTransport: TransportFactory };
  return { [new URL(String(args['url'])).protocol]: module.createTransport };
}

export const createPublisher: CreatePublisher = async (args) => {
  const contract = contractOf(args);
  const bus = createBus({ service: 'bench-publisher', transport: String(args['url']), transports: await transportsOf(args) });
  await bus.start();
  return {
    publish: (order) => bus.publish(contract, order),
    close: () => bus.stop(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const contract = contractOf(args);
  const bus = createBus({ service: 'bench-consumer', transport: String(args['url']), stopTimeoutMs: 2000, transports: await transportsOf(args) });
  bus.endpoint(args.name, (e) => e.on(contract, (order) => onMessage(order as Order)), { concurrency: args.concurrency, prefetch: args.prefetch });
  await bus.start();
  return { close: () => bus.stop() };
};

/** Deletes the endpoint's queue (and its dead letters) and what the transport keeps for the topic. */
export async function cleanup(args: SubjectArgs): Promise<void> {
  const bus = createBus({ service: 'bench-cleanup', transport: String(args['url']) });
  await bus.start();
  try {
    await bus.transport.deleteQueue(args.name);
    await bus.transport.deleteTopic?.(contractOf(args).name);
  } finally {
    await bus.stop();
  }
}
