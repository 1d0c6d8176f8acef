/**
 * A Redis that cannot be reached or refuses the credentials fails `start` with an error that names
 * what went wrong (ioredis alone says only "Connection is closed."), and the password appears
 * nowhere in it: not in the message, not in its `cause` (an AUTH reply error carries the command's
 * arguments, the password among them).
 */
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createBus, silentLogger } from '@missive/core';
import { createTransport } from './index.js';
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
});
