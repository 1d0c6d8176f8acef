/**
 * A Redis that cannot be reached or refuses the credentials fails `start` with an error that names
 * what went wrong (ioredis alone says only "Connection is closed."), and the password appears
 * nowhere in it: not in the message, not in its `cause` (an AUTH reply error carries the command's
 * arguments, the password among them). The same holds when the server refuses the password on a
 * reconnect (a rotated password): ioredis rejects every waiting command with that AUTH error, and
 * the logs (through a logger that keeps `err` whole, as pino does) never show the password.
 */
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, silentLogger, type Logger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { createTransport } from './index.js';
import { ownRedisUnavailable, startOwnRedis } from './test-support/own-redis.js';
import { needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const PASSWORD = 'pa55-w0rd-never-shown';

/** The error `start` fails with for `url`, with its whole cause chain as text. */
async function startFailure(url: string): Promise<{ error: Error; text: string }> {
  const bus = createBus({ service: 'connect', transport: url, transports: { redis: createTransport }, logger: silentLogger });
  const error = await bus.start().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  await bus.stop();
  if (error === undefined) throw new Error(`${url} connected`);
  return { error, text: `${inspect(error, { depth: 10 })} ${JSON.stringify(error, Object.getOwnPropertyNames(error))}` };
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('redis connect errors', () => {
  it('a wrong password is named, and the password is nowhere in the error or its cause', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const url = new URL(redisUrl);
    url.username = `nobody-${uniquePrefix()}`;
    url.password = PASSWORD;
    const { error, text } = await startFailure(url.href);
    expect(error.message).toMatch(/cannot connect to Redis at .*WRONGPASS/);
    expect(text).not.toContain(PASSWORD);
  });

  it('a refused connection is named, without the password', async () => {
    const { error, text } = await startFailure(`redis://:${PASSWORD}@127.0.0.1:${await closedPort()}`);
    expect(error.message).toMatch(/cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: connect ECONNREFUSED/);
    expect(text).not.toContain(PASSWORD);
  });

  it('a password refused on a reconnect is in no log line', async (ctx) => {
    const missing = await ownRedisUnavailable();
    if (missing !== undefined) return ctx.skip(missing);
    const server = await startOwnRedis();
    const admin = new Redis(server.url);
    admin.on('error', () => undefined);
    try {
      await admin.config('SET', 'requirepass', PASSWORD);
      const lines: string[] = [];
      const waiter = createWaiter({ timeoutMs: 20_000 });
      // Every field of every record, as a logger that serialises errors whole would write it.
      const keep = (record: unknown, message?: string) =>
        void (lines.push(`${message ?? ''} ${inspect(record, { depth: 8 })}`), waiter.notify());
      const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep, child: () => logger };
      const url = new URL(server.url);
      url.password = PASSWORD;
      url.searchParams.set('prefix', uniquePrefix());
      const bus = createBus({ service: 'rotated', transport: url.href, transports: { redis: createTransport }, logger });
      const Ping = defineEvent('rotated.ping', z.object({}));
      bus.endpoint('rotated', (e) => e.on(Ping, () => undefined));
      await bus.start();

      await admin.auth(PASSWORD);
      await admin.config('SET', 'requirepass', 'the-new-password');
      await admin.client('KILL', 'TYPE', 'normal').catch(() => undefined); // every connection, the bus's too
      await waiter.until(
        () => lines.some((l) => l.includes('WRONGPASS') && l.includes('command')),
        'a command failing with the AUTH error',
      );
      expect(lines.join('\n')).not.toContain(PASSWORD);
      await bus.stop({ timeoutMs: 0 });
    } finally {
      admin.disconnect();
      await server.stop();
    }
  });
});
