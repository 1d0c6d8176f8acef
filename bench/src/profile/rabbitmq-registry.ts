/**
 * What reading the queue registry costs a new RabbitMQ connection: connects a transport, declares a
 * wire tap (which reads the registry up to a marker of its own) and prints wall and CPU
 * milliseconds, and how the read started (`starts`: after a snapshot, or from the first record).
 *
 * `--fill N` first appends N records to the registry as a day of tests leaves it (37 % markers, 40 %
 * types, 23 % queues). Fill only a broker of your own (a node started on another port): the
 * registry of a shared broker is everyone's. A second argument is another build of
 * `@missive/rabbitmq` (its `dist/index.js`), to compare in the same run.
 *
 * ```sh
 * node bench/dist/profile/rabbitmq-registry.js amqp://guest:guest@127.0.0.1:40463 --fill 100000
 * node bench/dist/profile/rabbitmq-registry.js amqp://guest:guest@127.0.0.1:40463 [path/to/other/@missive/rabbitmq/dist/index.js]
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import amqp from 'amqplib';
import { silentLogger } from '@missive/core';
import { RabbitMqTransport } from '@missive/rabbitmq';

const url = process.argv[2];
if (url === undefined) throw new Error('usage: rabbitmq-registry.js <amqp url> [--fill N | other dist/index.js]');

if (process.argv[3] === '--fill') {
  const count = Number(process.argv[4] ?? 100_000);
  const setup = new RabbitMqTransport({ url }, { logger: silentLogger });
  await setup.connect(); // declares the registry stream
  await setup.close();
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  for (let i = 0; i < count; i++) {
    const r = i % 100;
    const record =
      r < 37
        ? { marker: randomUUID() }
        : r < 77
          ? { types: [`fill-${i}.happened`] }
          : { name: `fill-q-${i}`, topics: [`fill-${i}.happened`], ordered: false };
    if (!channel.sendToQueue('missive.registry', Buffer.from(JSON.stringify(record)), { persistent: true }))
      await new Promise((resolve) => channel.once('drain', resolve));
    if (i % 5000 === 4999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
  await connection.close();
  process.stdout.write(`appended ${count} records\n`);
} else {
  const Transport =
    process.argv[3] === undefined
      ? RabbitMqTransport
      : ((await import(pathToFileURL(process.argv[3]).href)) as { RabbitMqTransport: typeof RabbitMqTransport }).RabbitMqTransport;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const transport = new Transport({ url }, { logger: silentLogger });
  await transport.connect();
  const name = `bench-registry-${process.pid}`;
  await transport.declare({ name, topics: [`${name}.#`] });
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  const view = (transport as unknown as { registry: { view: { starts?: unknown; types: Set<string> } } }).registry.view;
  process.stdout.write(
    `${JSON.stringify({ wallMs: Math.round(wallMs), cpuMs: Math.round((used.user + used.system) / 1000), starts: view.starts ?? 'first (no snapshots)', types: view.types.size })}\n`,
  );
  await transport.deleteQueue(name);
  await transport.close();
}
