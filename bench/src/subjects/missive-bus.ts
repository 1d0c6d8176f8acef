/**
 * Missive over a transport URL (`amqp://…`, `sqlite://…`): a publisher bus with no endpoints, and a
 * consumer bus with one endpoint handling the run's own event type (so no other queue bound to the
 * topic gets copies). The payload is checked against its zod schema on publish and on receipt.
 *
 * Subject args: `url` (transport URL); the endpoint is `args.name`, the event type `bench.<name>`;
 * `transportModule` (optional): a file path to another build of the URL scheme's transport package
 * (its `createTransport`), to measure an earlier build side by side; `fullEnvelope` (optional): write
 * every envelope attribute, as the codec did before the lean wire form (2026-11-30), to measure the
 * envelope's size side by side (readers read both).
 * @module
 */
import { pathToFileURL } from 'node:url';
import { createBus, defineEvent, jsonCodec, type Codec, type TransportFactories } from '@missive/core';
import { orderSchema, type Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const contractOf = (args: SubjectArgs) => defineEvent(`bench.${args.name}`, orderSchema);

/** The `transports` option for `args.transportModule`, if given. */
async function transportsOf(args: SubjectArgs): Promise<{ transports?: TransportFactories }> {
  if (typeof args['transportModule'] !== 'string') return {};
  const scheme = new URL(String(args['url'])).protocol.slice(0, -1);
  const mod = (await import(pathToFileURL(args['transportModule']).href)) as { createTransport: TransportFactories[string] };
  return { transports: { [scheme]: mod.createTransport } };
}

/** The `codec` option for `args.fullEnvelope`: the JSON codec writing the whole envelope. */
function codecOf(args: SubjectArgs): { codec?: Codec } {
  if (args['fullEnvelope'] !== true) return {};
  const codec = jsonCodec();
  return { codec: { ...codec, encode: (envelope) => Buffer.from(JSON.stringify(envelope), 'utf8') } };
}

export const createPublisher: CreatePublisher = async (args) => {
  const contract = contractOf(args);
  const bus = createBus({ service: 'bench-publisher', transport: String(args['url']), ...(await transportsOf(args)), ...codecOf(args) });
  await bus.start();
  return {
    publish: (order) => bus.publish(contract, order),
    close: () => bus.stop(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const contract = contractOf(args);
  const bus = createBus({ service: 'bench-consumer', transport: String(args['url']), stopTimeoutMs: 2000, ...(await transportsOf(args)) });
  bus.endpoint(args.name, (e) => e.on(contract, (order) => onMessage(order as Order)), {
    concurrency: args.concurrency,
    prefetch: args.prefetch,
  });
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
