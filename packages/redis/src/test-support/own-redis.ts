/**
 * A `redis-server` of a test's own (never the shared one): a free port on loopback, AOF with
 * `appendfsync always` in a temporary directory, SIGKILLed and started again on the same files.
 *
 * @example
 * ```ts
 * const server = await startOwnRedis();
 * await server.kill();
 * await server.start(); // same port, same data
 * await server.stop();
 * ```
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, type TestProcess } from '@missive/testing';

/** A running private server. */
export interface OwnRedis {
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Kills it and removes its files. */
  stop(): Promise<void>;
}

/** Why a private server cannot run here, or undefined. */
export function ownRedisUnavailable(): Promise<string | undefined> {
  return Promise.resolve(
    spawnSync('redis-server', ['--version']).error === undefined
      ? undefined
      : 'redis-server is not installed; the broker kill starts its own',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Starts a private server with AOF (`appendfsync always`). */
export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'missive-own-redis-'));
  const port = await freePort();
  let server: TestProcess | undefined;
  const start = async () => {
    server = startProcess('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
    ]);
    await server.waitFor(/Ready to accept connections/, 15_000);
  };
  const kill = async () => {
    server?.kill('SIGKILL');
    await server?.exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
