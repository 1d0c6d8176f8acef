/**
 * Runs a role in a fresh Node process: the runner's side of `child-main`. Every measured run gets its
 * own process so its peak RSS, JIT state and garbage are its own.
 *
 * @example
 * ```ts
 * const consumer = spawnChild('subjects/raw-amqp.js', 'consumer', { queue: 'q' });
 * await consumer.next('ready');
 * const { result, maxRss } = await consumer.done;
 * ```
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Mailbox } from './ipc.js';

const CHILD_MAIN = fileURLToPath(new URL('../child-main.js', import.meta.url));

export interface ChildOutcome<R> {
  readonly result: R;
  /** Peak resident set of the child, bytes (getrusage ru_maxrss). */
  readonly maxRss: number;
}

export interface ChildHandle<R> {
  readonly pid: number;
  /** Resolves with the role's result; rejects when the role threw, the process died, or the time cap passed. */
  readonly done: Promise<ChildOutcome<R>>;
  next(type: string, timeoutMs?: number): Promise<unknown>;
  latest(type: string): unknown;
  send(type: string, data?: unknown): void;
  /** Current resident set, bytes (from /proc), or NaN once gone. */
  rss(): number;
  kill(): void;
  /** Resolves when the process has exited (a `--cpu-prof` profile is written at exit). */
  readonly exited: Promise<void>;
}

export interface SpawnOptions {
  /** Kill the child and reject `done` after this long. */
  readonly timeoutMs?: number;
  readonly execArgv?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** Forks `child-main` and starts `module`'s `fn` with `args`. `module` is a path under `dist/`. */
export function spawnChild<R = unknown>(module: string, fn: string, args: unknown, options: SpawnOptions = {}): ChildHandle<R> {
  const child: ChildProcess = fork(CHILD_MAIN, [], {
    execArgv: [...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  const mailbox = new Mailbox();
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-3000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('message', (message: { type: string; data: unknown }) => mailbox.deliver(message));
  const name = `${module}#${fn}`;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<ChildOutcome<R>>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${name}: ${why}${tail.trim() === '' ? '' : `\n--- child output (tail) ---\n${tail.trim()}`}`));
    };
    void mailbox.next('result').then((data) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(data as ChildOutcome<R>);
    });
    void mailbox
      .next('error')
      .then((data) => fail(`failed: ${(data as { stack?: string; message: string }).stack ?? (data as { message: string }).message}`));
    child.on('exit', (code, signal) => setTimeout(() => fail(`exited (${signal ?? code}) before sending a result`), 100));
    child.on('error', (error) => fail(`could not run: ${error.message}`));
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`killed after its time cap of ${Math.round(options.timeoutMs! / 1000)} s`);
      }, options.timeoutMs);
    }
  });
  done.catch(() => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ type: 'start', data: { module: `./${module}`, fn, args } });
  return {
    pid: child.pid ?? -1,
    done,
    next: (type, timeoutMs = 60_000) =>
      Promise.race([
        mailbox.next(type),
        done.then(
          () => Promise.reject(new Error(`${name} finished before sending "${type}"`)),
          (error: unknown) => Promise.reject(error as Error),
        ),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`${name}: no "${type}" within ${timeoutMs} ms`)), timeoutMs).unref(),
        ),
      ]),
    latest: (type) => mailbox.latest(type),
    send: (type, data = {}) => {
      if (child.connected) child.send({ type, data });
    },
    exited,
    rss: () => rssOf(child.pid),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Resident set of a process from /proc, bytes; NaN if unknown. */
export function rssOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match === null ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}
