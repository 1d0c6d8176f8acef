/**
 * A virtual host of a test file's own on the local broker, made with `rabbitmqctl`: the file's
 * exchanges, queues and queue registry (`missive.registry`) meet no other run's. On the shared
 * default vhost every run ever made has appended to the registry, and each new connection reads it
 * (over half a second per transport there, against about a quarter in a new vhost). Where
 * `rabbitmqctl` cannot reach the broker (not installed, a remote `MISSIVE_RABBITMQ_URL`), the file
 * runs on the URL it was given, as before.
 *
 * @example
 * ```ts
 * let vhost: PrivateVhost | undefined;
 * beforeAll(async () => void (vhost = await privateVhost(rabbitUrl)), 60_000);
 * afterAll(() => vhost?.remove());
 * ```
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run('rabbitmqctl', args, { timeout: 60_000 });

/** A vhost made for one test file. */
export interface PrivateVhost {
  /** The broker URL with the vhost as its path (the given URL where no vhost could be made). */
  readonly url: string;
  /** Deletes the vhost and everything in it; a no-op where none was made. */
  remove(): Promise<void>;
}

/** Makes a vhost `missive-test-<random>` that guest may use fully, or falls back to `base` (see the module). */
export async function privateVhost(base: string): Promise<PrivateVhost> {
  const url = new URL(base);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') return { url: base, remove: async () => undefined };
  const name = `missive-test-${randomBytes(4).toString('hex')}`;
  try {
    await rabbitmqctl('add_vhost', name);
    await rabbitmqctl('set_permissions', '-p', name, decodeURIComponent(url.username || 'guest'), '.*', '.*', '.*');
  } catch {
    await rabbitmqctl('delete_vhost', name).catch(() => undefined);
    return { url: base, remove: async () => undefined };
  }
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async remove() {
      await rabbitmqctl('delete_vhost', name);
    },
  };
}
