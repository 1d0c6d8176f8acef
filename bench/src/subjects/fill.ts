/**
 * Fills a Missive queue with a backlog of small messages, fast, bypassing the publish path: the queue
 * is declared through the transport (so it is exactly what the bus would create), then Missive-encoded
 * envelopes are written in bulk (RabbitMQ: persistent messages to the queue through the default
 * exchange on a confirm channel, pausing on back-pressure, all confirms awaited at the end; SQLite: rows in one transaction per 50,000).
 *
 * Role args: `url`, `name` (endpoint/queue), `count`.
 * @module
 */
import { createEnvelope, jsonCodec, silentLogger, systemClock } from '@missive/core';
import { loadTransport, parseTransportUrl } from '@missive/core/transport';
import { once } from 'node:events';
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import pg from 'pg';
import { makeOrder } from '../harness/payload.js';

interface FillArgs {
  readonly url: string;
  readonly name: string;
  readonly count: number;
}

async function declare(args: FillArgs): Promise<void> {
  const transport = await loadTransport(parseTransportUrl(args.url), { clock: systemClock, logger: silentLogger });
  await transport.connect();
  await transport.declare({ name: args.name, topics: [`bench.${args.name}`] });
  await transport.close();
}

function* messages(args: FillArgs): Generator<{ id: string; type: string; body: Buffer }> {
  const codec = jsonCodec();
  for (let n = 0; n < args.count; n++) {
    const envelope = createEnvelope({ type: `bench.${args.name}`, source: '/missive/bench-filler', data: makeOrder(n, 'w') });
    yield { id: envelope.id, type: envelope.type, body: Buffer.from(codec.encode(envelope)) };
  }
}

export async function fill(args: FillArgs): Promise<{ seconds: number }> {
  const started = performance.now();
  await declare(args);
  if (args.url.startsWith('amqp')) {
    const connection = await amqp.connect(args.url.replace(/\?.*$/, ''));
    const channel = await connection.createConfirmChannel();
    for (const m of messages(args)) {
      const ok = channel.sendToQueue(args.name, m.body, {
        persistent: process.env.BENCH_FILL_PERSISTENT === '1',
        messageId: m.id,
        type: m.type,
        contentType: 'application/cloudevents+json',
        headers: {},
      });
      if (!ok) await once(channel, 'drain');
    }
    await channel.waitForConfirms();
    await connection.close();
  } else if (args.url.startsWith('postgres')) {
    // One envelope as a template, numbered by PostgreSQL itself: a million rows in one statement.
    const url = new URL(args.url);
    const schema = url.searchParams.get('schema') ?? 'missive';
    url.searchParams.delete('schema');
    const first = messages({ ...args, count: 1 }).next().value!;
    const template = Buffer.from(first.body).toString('utf8').replaceAll(first.id, 'fill-__N__').replaceAll('"o-0"', '"o-__N__"');
    const client = new pg.Client({ connectionString: url.href });
    await client.connect();
    await client.query(
      `insert into "${schema}".messages (queue, id, type, body, headers)
       select $1, 'fill-' || (g - 1), $2, convert_to(replace($3, '__N__', (g - 1)::text), 'UTF8'), '{}' from generate_series(1, $4::int) g`,
      [args.name, first.type, template, args.count],
    );
    await client.query(`analyze "${schema}".messages`);
    await client.end();
  } else {
    const url = new URL(args.url);
    const db = new Database(decodeURIComponent(url.host + url.pathname));
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare("insert into missive_messages (queue, id, type, body, headers) values (?, ?, ?, ?, '{}')");
    const batch = db.transaction((rows: { id: string; type: string; body: Buffer }[]) => {
      for (const r of rows) insert.run(args.name, r.id, r.type, r.body);
    });
    let rows: { id: string; type: string; body: Buffer }[] = [];
    for (const m of messages(args)) {
      rows.push(m);
      if (rows.length === 50_000) {
        batch.immediate(rows);
        rows = [];
      }
    }
    batch.immediate(rows);
    db.close();
  }
  return { seconds: (performance.now() - started) / 1000 };
}
