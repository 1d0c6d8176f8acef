/**
 * The roles a child process plays, the same for every subject: `publisherRole`, `consumerRole`,
 * and `pairRole` (publisher and consumer in one process). The runner steps them through a
 * warm-up, a throughput phase (publish as fast as the window allows) and a latency phase
 * (publish at a fixed rate), over IPC.
 *
 * @example
 * ```ts
 * spawnChild('harness/roles.js', 'consumerRole', { subject: 'subjects/raw-amqp.js', args });
 * ```
 * @module
 */
import type { PairPlan } from './rounds.js';
import type { Ipc } from './ipc.js';
import { makeOrder, type Order, type Phase } from './payload.js';
import { thin } from './stats.js';
import type { SubjectArgs, SubjectModule, Publisher } from './subject.js';
import { nowUs, sleep } from './time.js';

/** This process's CPU time so far (user + system), µs. */
export function cpuNowUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** How many latency samples a consumer sends back at most. */
const MAX_SAMPLES = 50_000;

export async function loadSubject(path: string): Promise<SubjectModule> {
  return (await import(new URL(`../${path}`, import.meta.url).href)) as SubjectModule;
}

/** Publishes `count` messages keeping at most `window` unconfirmed; resolves when all are confirmed. */
export function publishWindowed(publisher: Publisher, count: number, window: number, phase: Phase, first = 0): Promise<void> {
  if (count <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let failed = false;
    const pump = (): void => {
      while (!failed && inFlight < window && next < count) {
        inFlight++;
        const n = first + next++;
        publisher.publish(makeOrder(n, phase)).then(
          () => {
            inFlight--;
            if (next >= count && inFlight === 0) resolve();
            else pump();
          },
          (error: unknown) => {
            failed = true;
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      }
    };
    pump();
  });
}

/**
 * Publishes `count` messages in batches of `batch`, each batch only after the previous one was
 * handled: the backlog never exceeds one batch (for measuring per-message cost without a queue).
 */
export async function publishBounded(publisher: Publisher, tally: Tally, count: number, batch: number, phase: Phase): Promise<void> {
  const base = tally.counts[phase];
  for (let sent = 0; sent < count;) {
    const n = Math.min(batch, count - sent);
    await publishWindowed(publisher, n, n, phase, sent);
    sent += n;
    await tally.reach(phase, base + sent, 60_000);
  }
}

/**
 * Publishes `count` messages at `rate` per second (timer ticks of ~1 ms, each sending what is due),
 * not waiting for confirms before the next is due; resolves when all are confirmed.
 */
export async function publishPaced(publisher: Publisher, count: number, rate: number, phase: Phase, first = 0): Promise<void> {
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) pending.push(publisher.publish(makeOrder(first + sent++, phase)));
    if (sent < count) await sleep(1);
  }
  await Promise.all(pending);
}

/** Counts handled messages per phase, the time of the last one, and latency samples of the `l` phase. */
export class Tally {
  readonly counts: Record<Phase, number> = { w: 0, t: 0, l: 0 };
  readonly lastAt: Record<Phase, number> = { w: 0, t: 0, l: 0 };
  readonly latencies: number[] = [];
  private waiter: { phase: Phase; count: number; resolve: () => void } | undefined;

  readonly onMessage = (order: Order): void => {
    const now = nowUs();
    const phase = order.phase;
    this.counts[phase]++;
    this.lastAt[phase] = now;
    if (phase === 'l') this.latencies.push(now - order.sentAt);
    const w = this.waiter;
    if (w !== undefined && w.phase === phase && this.counts[phase] >= w.count) {
      this.waiter = undefined;
      w.resolve();
    }
  };

  /** Resolves when `count` messages of `phase` were handled, or rejects after `timeoutMs`. */
  reach(phase: Phase, count: number, timeoutMs: number): Promise<void> {
    if (this.counts[phase] >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`only ${this.counts[phase]} of ${count} "${phase}" messages handled within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        phase,
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }
}

/** What the runner asks a publisher to do next. */
export type PublishCommand =
  | { readonly mode: 'window'; readonly count: number; readonly window: number; readonly phase: Phase; readonly first: number }
  | { readonly mode: 'paced'; readonly count: number; readonly rate: number; readonly phase: Phase; readonly first: number }
  | { readonly mode: 'stop' };

export interface RoleArgs {
  readonly subject: string;
  readonly args: SubjectArgs;
}

/** Publisher process: `ready`, then runs `publish` commands until `stop`, answering each with `published` {t0, t1}. */
export async function publisherRole({ subject, args }: RoleArgs, ipc: Ipc): Promise<unknown> {
  const mod = await loadSubject(subject);
  const publisher = await mod.createPublisher!(args);
  ipc.send('ready', {});
  for (;;) {
    const command = (await ipc.next('publish')) as PublishCommand;
    if (command.mode === 'stop') break;
    const t0 = nowUs();
    const cpu0 = cpuNowUs();
    if (command.mode === 'window') await publishWindowed(publisher, command.count, command.window, command.phase, command.first);
    else await publishPaced(publisher, command.count, command.rate, command.phase, command.first);
    ipc.send('published', { t0, t1: nowUs(), cpuUs: cpuNowUs() - cpu0 });
  }
  await publisher.close();
  return {};
}

export interface ConsumerResult {
  readonly counts: Record<Phase, number>;
  readonly lastAt: Record<Phase, number>;
  readonly latencies: number[];
  /** Resident set samples (bytes) taken every `sampleMs` while consuming, if asked. */
  readonly rssSamples: number[];
  /** From the role's start (before its subject's modules load) to subscribed. */
  readonly readyAfterMs: number;
  /** From the role's start to the first handled message. */
  readonly firstMessageAfterMs: number;
  /** From the subject's modules loaded (then `createConsumer` runs: for Missive, `createBus`) to the first handled message. */
  readonly createToFirstMessageMs: number;
  /** From the process's start (Node's time origin) to the first handled message. */
  readonly processToFirstMessageMs: number;
}

/**
 * Consumer process: subscribes, sends `ready`, reports `progress` (counts, CPU time) every 100 ms, and on `stop`
 * closes and returns its tally. With `args.sampleRss` it samples its own RSS every 250 ms.
 */
export async function consumerRole({ subject, args }: RoleArgs, ipc: Ipc): Promise<ConsumerResult> {
  const started = performance.now();
  const mod = await loadSubject(subject);
  const loadedAt = performance.now();
  const tally = new Tally();
  let firstMessageAt = Number.NaN;
  const onMessage = (order: Order) => {
    if (Number.isNaN(firstMessageAt)) firstMessageAt = performance.now();
    tally.onMessage(order);
  };
  const subscription = await mod.createConsumer!(args, onMessage);
  const readyAfterMs = performance.now() - started;
  const rssSamples: number[] = [];
  const progress = setInterval(
    () => {
      if (args['sampleRss'] === true) rssSamples.push(process.memoryUsage.rss());
      ipc.send('progress', { counts: tally.counts, lastAt: tally.lastAt, cpuUs: cpuNowUs() });
    },
    args['sampleRss'] === true ? 250 : 100,
  );
  ipc.send('ready', { readyAfterMs });
  await ipc.next('stop');
  clearInterval(progress);
  await subscription.close();
  return {
    counts: tally.counts,
    lastAt: tally.lastAt,
    latencies: thin(tally.latencies, MAX_SAMPLES),
    rssSamples,
    readyAfterMs,
    firstMessageAfterMs: firstMessageAt - started,
    createToFirstMessageMs: firstMessageAt - loadedAt,
    processToFirstMessageMs: firstMessageAt,
  };
}

/** What a pair role is told: the plan of `runPair`, less what only the parent uses. */
export interface PairArgs extends RoleArgs, Omit<PairPlan, 'execArgv'> {}

export interface PairResult {
  readonly throughput: number;
  readonly latencies: number[];
}

/** Publisher and consumer in one process (the memory scenario): warm-up, throughput, latency. */
export async function pairRole(a: PairArgs, _ipc: Ipc): Promise<PairResult> {
  const mod = await loadSubject(a.subject);
  const tally = new Tally();
  const publisher = await mod.createPair!(a.args, tally.onMessage);
  await publishWindowed(publisher, a.warmup, a.window, 'w');
  await tally.reach('w', a.warmup, a.timeoutMs);
  const t0 = nowUs();
  // `bounded`: publish a window, wait until it is handled, repeat (no backlog builds up).
  if (a.args['bounded'] === true) await publishBounded(publisher, tally, a.count, a.window, 't');
  else await publishWindowed(publisher, a.count, a.window, 't');
  await tally.reach('t', a.count, a.timeoutMs);
  const throughput = a.count / ((tally.lastAt.t - t0) / 1e6);
  await publishPaced(publisher, a.latencyCount, a.rate, 'l');
  await tally.reach('l', a.latencyCount, a.timeoutMs);
  await publisher.close();
  return { throughput, latencies: thin(tally.latencies, MAX_SAMPLES) };
}

/** Lets the event loop turn (for subjects that settle in the background). */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
