/**
 * A process that consumes a queue on the PostgreSQL transport and never settles (a consumer about to
 * be killed). Argument: JSON `{ url, schema, queue }`. Prints `ready` once it consumes.
 *
 * @example
 * ```sh
 * node --import tsx --conditions=@missive/source consumer-process.ts '{"url":"postgres://…","schema":"t_x","queue":"q"}'
 * ```
 * @module
 */
import { silentLogger } from '@missive/core';
import { PostgresTransport } from '../pg-transport.js';

const { url, schema, queue } = JSON.parse(process.argv[2] ?? '{}') as { url: string; schema: string; queue: string };
const transport = new PostgresTransport({ connectionString: url, schema, poolSize: 2 }, { logger: silentLogger });
await transport.connect();
await transport.declare({ name: queue, topics: [] });
const consumer = transport.consume(queue, { prefetch: 1 });
await consumer.ready;
process.stdout.write('ready\n');
for await (const delivery of consumer) void delivery; // holds what it gets until it is killed
