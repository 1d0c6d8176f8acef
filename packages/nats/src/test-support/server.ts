/**
 * What the NATS integration tests share: the server's URL, a run-unique prefix (so every stream a
 * test makes is its own), the check that skips a test with the reason when the server is not there
 * (or fails it under `MISSIVE_REQUIRE_BROKERS=1`), and removal of a prefix's streams.
 *
 * @example
 * ```ts
 * const url = natsUrlFor(uniquePrefix());
 * afterEach(() => removePrefix(url));
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connect } from 'nats';
import { brokersRequired } from '@missive/testing';

/** The server the tests use: `MISSIVE_NATS_URL`, else the local one. */
export const natsUrl = process.env.MISSIVE_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A prefix no other run uses. */
export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** The test URL with Missive's parameters added. */
export function natsUrlFor(prefix: string, params: Record<string, string> = {}, base: string = natsUrl): string {
  const url = new URL(base);
  url.searchParams.set('prefix', prefix);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

/** Whether something listens at the URL's host and port. */
export function reachable(target: string = natsUrl): Promise<boolean> {
  const parsed = new URL(target);
  return new Promise((resolve) => {
    const socket = netConnect({ host: parsed.hostname, port: Number(parsed.port || 4222) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
  });
}

/** True when the server answers; otherwise skips the test with the reason, or throws when brokers are required. */
export async function needNats(ctx: { skip: (note?: string) => void }, url: string = natsUrl): Promise<boolean> {
  if (await reachable(url)) return true;
  const problem = `NATS not reachable at ${new URL(url).host}`;
  if (brokersRequired()) throw new Error(`${problem} (MISSIVE_REQUIRE_BROKERS=1)`);
  ctx.skip(`${problem}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
  return false;
}

/** Deletes every stream whose name starts with the prefix of `url` (upper-cased, as the transport names them), and its key-value buckets. */
export async function removePrefix(url: string): Promise<void> {
  const parsed = new URL(url);
  const prefix = `${(parsed.searchParams.get('prefix') ?? 'missive').toUpperCase()}_`;
  const nc = await connect({ servers: `${parsed.hostname}:${parsed.port || 4222}`, maxReconnectAttempts: 0 });
  try {
    const jsm = await nc.jetstreamManager();
    for await (const info of jsm.streams.list()) {
      if (info.config.name.startsWith(prefix) || info.config.name.startsWith(`KV_${prefix}`))
        await jsm.streams.delete(info.config.name).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}
