/**
 * The entry of every measured child process. The parent forks it, sends `{ type: 'start', module,
 * fn, args }`; the child imports `module` (a path under `dist/`), calls `fn(args, ipc)`, and sends
 * back `{ type: 'result', result, maxRss }` (peak resident set, bytes) or `{ type: 'error' }`.
 *
 * @example
 * ```ts
 * const child = spawnChild('subjects/raw-amqp.js', 'consumer', { queue });
 * ```
 * @module
 */
import { Ipc, type RoleFn } from './harness/ipc.js';

const ipc = new Ipc();

async function main(): Promise<void> {
  const start = (await ipc.next('start')) as { module: string; fn: string; args: unknown };
  const mod = (await import(new URL(start.module, import.meta.url).href)) as Record<string, RoleFn | undefined>;
  const fn = mod[start.fn];
  if (typeof fn !== 'function') throw new Error(`${start.module} has no export ${start.fn}`);
  const result = await fn(start.args, ipc);
  ipc.send('result', { result, maxRss: process.resourceUsage().maxRSS * 1024 });
}

main().then(
  () => {
    process.disconnect?.();
    // Client libraries sometimes keep sockets or timers alive after close: the result is sent, so leave.
    setTimeout(() => process.exit(0), 200).unref();
  },
  (error: unknown) => {
    const e = error as Error;
    ipc.send('error', { message: e?.message ?? String(error), stack: e?.stack });
    process.disconnect?.();
    setTimeout(() => process.exit(1), 200).unref();
  },
);
