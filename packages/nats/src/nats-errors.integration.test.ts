/**
 * What the NATS transport says when something is wrong: a token in the URL (`nats://TOKEN@host`)
 * never reaches an error, its cause chain or the logs; a closed transport refuses to send, publish
 * or consume with `BusStateError` `CLOSED` (not a `TransportError`, nor a consumer waiting for good).
 */
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { BusStateError, createBus, defineEvent, type Logger, type LogFields } from '@missive/core';
import type { TransportMessage } from '@missive/core/transport';
import { NatsTransport } from './nats-transport.js';
import { natsUrlFor, needNats, removePrefix, uniquePrefix } from './test-support/server.js';

const TOKEN = 'S3cr3tT0ken';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A port nothing listens on (one the OS just handed out and took back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A logger that keeps every call's arguments, printed in full (error causes and stacks included). */
function recordingLogger(): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const method = (first: LogFields | string, message?: string) => void lines.push(inspect([first, message], { depth: 20 }));
  const logger: Logger = { debug: method, info: method, warn: method, error: method, child: () => logger };
  return { logger, text: () => lines.join('\n') };
}

/** The error with its whole cause chain, as a logger that prints causes and stacks would. */
function fullText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    parts.push(inspect(e, { depth: 20 }), String((e as Error).message), String((e as Error).stack));
    if (parts.length > 60) break;
  }
  return parts.join('\n');
}

const Pinged = defineEvent('test.pinged', z.object({ n: z.number() }));

it('a token in the URL is in no error, cause or log line when the server cannot be reached', async () => {
  const url = `nats://${TOKEN}@127.0.0.1:${await closedPort()}?prefix=${uniquePrefix()}`;
  const log = recordingLogger();

  const transport = new NatsTransport({ url }, { logger: log.logger });
  const failed = await transport.connect().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failed).toBeInstanceOf(Error);
  expect((failed as Error).message).toContain('cannot connect to NATS at nats://***@127.0.0.1');
  expect(fullText(failed)).not.toContain(TOKEN);
  await transport.close();

  const bus = createBus({ service: 'token-test', transport: url, logger: log.logger });
  bus.endpoint('token-test', (e) => e.on(Pinged, () => undefined));
  const refused = await bus.start().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(Error);
  expect(fullText(refused)).not.toContain(TOKEN);
  await bus.stop().catch(() => undefined);
  expect(log.text()).not.toContain(TOKEN);
});

it('a closed transport refuses send, publish and consume with BusStateError CLOSED', async (ctx) => {
  if (!(await needNats(ctx))) return;
  const url = natsUrlFor(uniquePrefix());
  cleanups.push(() => removePrefix(url));
  const transport = new NatsTransport({ url });
  await transport.declare({ name: 'closed-work', topics: ['test.pinged'] });
  await transport.close();

  const message: TransportMessage = { id: 'm1', type: 'test.pinged', body: new TextEncoder().encode('{}'), headers: {} };
  const outcomes = [
    await transport.send('closed-work', message).then(
      () => undefined,
      (error: unknown) => error,
    ),
    await transport.publish('test.pinged', message).then(
      () => undefined,
      (error: unknown) => error,
    ),
    await transport.publish('test.pinged', message, { mandatory: true }).then(
      () => undefined,
      (error: unknown) => error,
    ),
    await transport.connect().then(
      () => undefined,
      (error: unknown) => error,
    ),
  ];
  let consumeError: unknown;
  try {
    transport.consume('closed-work', { prefetch: 1 });
  } catch (error) {
    consumeError = error;
  }
  for (const error of [...outcomes, consumeError]) {
    expect(error).toBeInstanceOf(BusStateError);
    expect((error as BusStateError).code).toBe('CLOSED');
  }
});
