/**
 * The raw NATS JetStream baseline with Missive's guarantees, written the fast way by hand: a file
 * stream, a publish as a core publish with a reply subject whose answer (the PubAck) is parsed
 * (resolves on it, rejects on an error or none), `Nats-Msg-Id` set; a durable pull consumer with
 * explicit acks, pulled with the same prefetch as a batch, refilled at half; one `+ACK` per message
 * after the handler. The body is the JSON of the payload; nothing is validated.
 *
 * Subject args: `prefix` (stream `<PREFIX>_RAW`, subject `<prefix>.raw`); `form` (optional): the
 * publisher writes each order as Missive's envelope would travel, `structured` (the envelope's JSON
 * as the payload, `Nats-Msg-Id` alone in the headers) or `binary` (the order as the payload, the
 * other attributes in `ce-` headers), to measure what each form costs nats-server with the clients'
 * work the same; `topology` (optional): `lanes` lays the stream out as Missive does (subjects
 * `<prefix>.*.t.>` and `<prefix>.*.q.>`, the publish to `<prefix>._.t.raw`, the consumer filtered on
 * `<prefix>.*.t.raw` and a second, idle one on `<prefix>.*.q.raw` as a queue's direct lane), to measure
 * what that layout costs nats-server with the clients' work the same; `wild`: the same without the idle
 * lane. Not the baseline: a diagnosis.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { AckPolicy, connect, createInbox, headers, nanos, RetentionPolicy, StorageType, type MsgHdrs } from 'nats';
import { createEnvelope, jsonCodec } from '@missive/core';
import { NATS_URL } from '../harness/machine.js';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const lanesOf = (args: SubjectArgs) => args['topology'] === 'lanes' || args['topology'] === 'wild';
const names = (args: SubjectArgs) => {
  const p = String(args['prefix']);
  return lanesOf(args)
    ? {
        stream: `${p.toUpperCase()}_RAW`,
        subject: `${p}._.t.raw`,
        subjects: [`${p}.*.t.>`, `${p}.*.q.>`],
        filter: `${p}.*.t.raw`,
        idle: args['topology'] === 'lanes' ? `${p}.*.q.raw` : undefined,
      }
    : { stream: `${p.toUpperCase()}_RAW`, subject: `${p}.raw`, subjects: [`${p}.raw`], filter: undefined, idle: undefined };
};
const servers = () => new URL(NATS_URL).host;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const createPublisher: CreatePublisher = async (args) => {
  const { stream, subject, subjects } = names(args);
  const nc = await connect({ servers: servers() });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects, storage: StorageType.File, retention: RetentionPolicy.Interest }).catch(() => undefined);
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
  const form = args['form'] as 'structured' | 'binary' | undefined;
  const codec = jsonCodec();
  const run = randomUUID(); // message ids unique across rounds: the duplicate window would drop repeats
  return {
    publish: (order: Order) =>
      new Promise<void>((resolve, reject) => {
        const id = n++;
        pending.set(id, { resolve, reject });
        if (form !== undefined) {
          const envelope = createEnvelope({ type: 'bench.raw', source: '/missive/bench-publisher', data: order, id: `${run}-${id}` });
          const binary = form === 'binary';
          const block = binary
            ? `NATS/1.0\r\nNats-Msg-Id: ${envelope.id}\r\nce-source: ${envelope.source}\r\nce-time: ${envelope.time}\r\n\r\n`
            : `NATS/1.0\r\nNats-Msg-Id: ${envelope.id}\r\n\r\n`;
          const data = binary ? encoder.encode(JSON.stringify(order)) : codec.encode(envelope);
          nc.publish(subject, data, { reply: `${inbox}.${id}`, headers: { encode: () => encoder.encode(block) } as unknown as MsgHdrs });
          return;
        }
        const h = headers();
        h.set('Nats-Msg-Id', `${run}-${id}`);
        nc.publish(subject, encoder.encode(JSON.stringify(order)), { reply: `${inbox}.${id}`, headers: h });
      }),
    close: () => nc.close(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const { stream, subjects, filter, idle } = names(args);
  const nc = await connect({ servers: servers() });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects, storage: StorageType.File, retention: RetentionPolicy.Interest }).catch(() => undefined);
  await jsm.consumers.add(stream, { durable_name: 'raw', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), filter_subject: filter });
  if (idle !== undefined) await jsm.consumers.add(stream, { durable_name: 'idle', ack_policy: AckPolicy.Explicit, filter_subject: idle });
  const inbox = createInbox();
  const structured = args['form'] === 'structured';
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
      const body = JSON.parse(decoder.decode(m.data)) as Order | { data: Order };
      onMessage(structured ? (body as { data: Order }).data : (body as Order));
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
