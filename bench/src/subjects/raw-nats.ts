/**
 * The raw NATS JetStream baseline with Missive's guarantees, written the fast way by hand: a file
 * stream, a publish as a core publish with a reply subject whose answer (the PubAck) is parsed
 * (resolves on it, rejects on an error or none), `Nats-Msg-Id` set; a durable pull consumer with
 * explicit acks, pulled with the same prefetch as a batch, refilled at half; one `+ACK` per message
 * after the handler. The body is the JSON of the payload; nothing is validated.
 *
 * Subject args: `prefix` (stream `<PREFIX>_RAW`, subject `<prefix>.raw`).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { AckPolicy, connect, createInbox, headers, nanos, RetentionPolicy, StorageType } from 'nats';
import { NATS_URL } from '../harness/machine.js';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const names = (args: SubjectArgs) => ({ stream: `${String(args['prefix']).toUpperCase()}_RAW`, subject: `${String(args['prefix'])}.raw` });
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
  const inbox = createInbox();
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  nc.subscribe(`${inbox}.*`, {
    callback: (_e, m) => {
      const id = Number(m.subject.slice(m.subject.lastIndexOf('.') + 1));
      const p = pending.get(id);
      if (p === undefined) return;
      pending.delete(id);
      const ack = JSON.parse(decoder.decode(m.data)) as { error?: unknown };
      if (ack.error !== undefined) p.reject(new Error('refused'));
      else p.resolve();
    },
  });
  let n = 0;
  const run = randomUUID(); // message ids unique across rounds: the duplicate window would drop repeats
  return {
    publish: (order: Order) =>
      new Promise<void>((resolve, reject) => {
        const id = n++;
        pending.set(id, { resolve, reject });
        const h = headers();
        h.set('Nats-Msg-Id', `${run}-${id}`);
        nc.publish(subject, encoder.encode(JSON.stringify(order)), { reply: `${inbox}.${id}`, headers: h });
      }),
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
  await jsm.consumers.add(stream, { durable_name: 'raw', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000) });
  const inbox = createInbox();
  let requested = 0;
  const pull = () => {
    const batch = args.prefetch - requested;
    requested += batch;
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.raw`, encoder.encode(JSON.stringify({ batch, expires: nanos(5_000) })), {
      reply: inbox,
    });
  };
  nc.subscribe(inbox, {
    callback: (_e, m) => {
      if (!m.reply) {
        requested = 0; // request expired or refused
        pull();
        return;
      }
      requested--;
      onMessage(JSON.parse(decoder.decode(m.data)) as Order);
      nc.publish(m.reply, '+ACK');
      if (requested * 2 <= args.prefetch) pull();
    },
  });
  pull();
  return { close: () => nc.close() };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const nc = await connect({ servers: servers() });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(names(args).stream).catch(() => undefined);
  await nc.close();
}
