/**
 * nats.js's own JetStream API with Missive's guarantees: `js.publish` (resolves on the PubAck,
 * `msgID` set) and a durable pull consumer read with `consumer.consume({ max_messages })`, each
 * message acked after the handler. The body is the JSON of the payload; nothing is validated.
 *
 * Subject args: `prefix` (stream `<PREFIX>_JS`, subject `<prefix>.js`).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { AckPolicy, connect, nanos, RetentionPolicy, StorageType } from 'nats';
import { NATS_URL } from '../harness/machine.js';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const names = (args: SubjectArgs) => ({ stream: `${String(args['prefix']).toUpperCase()}_JS`, subject: `${String(args['prefix'])}.js` });
const servers = () => new URL(NATS_URL).host;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const createPublisher: CreatePublisher = async (args) => {
  const { stream, subject } = names(args);
  const nc = await connect({ servers: servers() });
  const jsm = await nc.jetstreamManager();
  await jsm.streams
    .add({ name: stream, subjects: [subject], storage: StorageType.File, retention: RetentionPolicy.Interest })
    .catch(() => undefined);
  const js = nc.jetstream();
  let n = 0;
  const run = randomUUID(); // message ids unique across rounds: the duplicate window would drop repeats
  return {
    publish: async (order: Order) => {
      await js.publish(subject, encoder.encode(JSON.stringify(order)), { msgID: `${run}-${n++}` });
    },
    close: () => nc.close(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const { stream, subject } = names(args);
  const nc = await connect({ servers: servers() });
  const jsm = await nc.jetstreamManager();
  await jsm.streams
    .add({ name: stream, subjects: [subject], storage: StorageType.File, retention: RetentionPolicy.Interest })
    .catch(() => undefined);
  await jsm.consumers.add(stream, { durable_name: 'js', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000) });
  const consumer = await nc.jetstream().consumers.get(stream, 'js');
  const messages = await consumer.consume({ max_messages: args.prefetch });
  void (async () => {
    for await (const m of messages) {
      onMessage(JSON.parse(decoder.decode(m.data)) as Order);
      m.ack();
    }
  })();
  return {
    close: async () => {
      await messages.close();
      await nc.close();
    },
  };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const nc = await connect({ servers: servers() });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(names(args).stream).catch(() => undefined);
  await nc.close();
}
