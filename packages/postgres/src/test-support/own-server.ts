/**
 * A PostgreSQL 15 instance of a test's own (never the shared server): `initdb` into a temporary
 * directory, started with `pg_ctl` on a free port, restarted or stopped at will, removed afterwards.
 * Runs as the `postgres` user when the tests run as root (initdb refuses root).
 *
 * @example
 * ```ts
 * const server = await startOwnServer();
 * await server.restart();
 * await server.destroy();
 * ```
 * @module
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = process.env.MISSIVE_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

/** A running private server. */
export interface OwnServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** Stops the server at once (`immediate`: as a crash would) and starts it again. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>;
}

/** Whether the PostgreSQL binaries are installed (the reason to skip when not). */
export async function ownServerUnavailable(): Promise<string | undefined> {
  try {
    await run(join(BIN, 'pg_ctl'), ['--version']);
    return undefined;
  } catch {
    return `PostgreSQL binaries not found in ${BIN} (set MISSIVE_PG_BIN)`;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function as(command: string, args: string[]): Promise<void> {
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args]);
  else await run(join(BIN, command), args);
}

/** Creates and starts a server. */
export async function startOwnServer(): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'missive-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  if (asRoot) await run('chown', ['postgres', dir]);
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const start = () =>
    as('pg_ctl', [
      'start',
      '-w',
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    ]);
  const stop = (mode: 'fast' | 'immediate' = 'fast') => as('pg_ctl', ['stop', '-w', '-D', data, '-m', mode]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async restart(mode = 'immediate') {
      await stop(mode);
      await start();
    },
    async destroy() {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
