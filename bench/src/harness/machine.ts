/**
 * The facts printed with every table: CPU, cores, memory, OS, Node, and the versions of the brokers
 * and client libraries a scenario used (asked of the servers themselves where they tell).
 *
 * @example
 * ```ts
 * const facts = await machineFacts({ rabbitmq: true });
 * ```
 * @module
 */
import { createRequire } from 'node:module';
import os from 'node:os';

/** The bench's own packages first, then the peers' (`bench/peers`, installed by `npm run bench`). */
const requires = [createRequire(import.meta.url), createRequire(new URL('../../peers/package.json', import.meta.url))];

export interface FactsWanted {
  readonly rabbitmq?: boolean;
  readonly redis?: boolean;
  readonly sqlite?: boolean;
  readonly packages?: readonly string[];
}

export const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';

/** `name@version` of an installed package as the bench (or its peers) resolves it, or `name: not installed`. */
export function packageVersion(name: string): string {
  for (const require of requires) {
    const found = versionFrom(require, name);
    if (found !== undefined) return found;
  }
  return `${name}: not installed`;
}

function versionFrom(require: NodeJS.Require, name: string): string | undefined {
  try {
    const path = require.resolve(`${name}/package.json`);
    return `${name}@${(require(path) as { version: string }).version}`;
  } catch {
    try {
      // Packages whose exports map hides package.json: find it beside the entry point.
      let dir = require.resolve(name);
      for (let i = 0; i < 5; i++) {
        dir = dir.slice(0, dir.lastIndexOf('/'));
        try {
          const pkg = require(`${dir}/package.json`) as { name?: string; version: string };
          if (pkg.name === name) return `${name}@${pkg.version}`;
        } catch {
          /* keep looking */
        }
      }
    } catch {
      /* not installed */
    }
    return undefined;
  }
}

export async function rabbitmqVersion(): Promise<string> {
  try {
    const amqp = (await import('amqplib')).default;
    const connection = await amqp.connect(AMQP_URL);
    const props = (connection as unknown as { connection: { serverProperties: Record<string, unknown> } }).connection.serverProperties;
    await connection.close();
    return `RabbitMQ ${String(props['version'])} (${typeof props['platform'] === 'string' ? props['platform'] : 'Erlang'})`;
  } catch (error) {
    return `RabbitMQ: not reachable (${(error as Error).message})`;
  }
}

export async function redisVersion(): Promise<string> {
  try {
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const info = await redis.info('server');
    redis.disconnect();
    return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`;
  } catch (error) {
    return `Redis: not reachable (${(error as Error).message})`;
  }
}

export async function sqliteVersion(): Promise<string> {
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(':memory:');
  const row = db.prepare('select sqlite_version() as v').get() as { v: string };
  db.close();
  return `SQLite ${row.v} (${packageVersion('better-sqlite3')})`;
}

/** A markdown bullet list of the machine's facts. */
export async function machineFacts(wanted: FactsWanted = {}): Promise<string> {
  const cpus = os.cpus();
  const lines = [
    `CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`,
    `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; OS: ${os.type()} ${os.release()}`,
    `Node ${process.version} (V8 ${process.versions.v8})`,
  ];
  if (wanted.rabbitmq === true) lines.push(await rabbitmqVersion());
  if (wanted.redis === true) lines.push(await redisVersion());
  if (wanted.sqlite === true) lines.push(await sqliteVersion());
  if (wanted.packages !== undefined && wanted.packages.length > 0)
    lines.push(`packages: ${wanted.packages.map(packageVersion).join(', ')}`);
  return lines.map((l) => `- ${l}`).join('\n');
}
