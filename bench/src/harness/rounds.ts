/**
 * Rounds and alternation. Every subject of a scenario runs once per round, in an order rotated each
 * round (A B C, B C A, C A B ...), each run in fresh processes, so drift of the machine (page cache,
 * broker state, thermal) spreads over all subjects instead of favouring one. A subject that fails is
 * reported with its error and not run again; a scenario stops starting rounds when its time is up.
 *
 * @example
 * ```ts
 * const rows = await alternate(subjects, { rounds: 5, deadline }, (subject, row, round) => runPair(subject, row));
 * ```
 * @module
 */
import { spawnChild } from './child.js';
import type { PairArgs, PairResult, PublishCommand } from './roles.js';
import type { ConsumerResult } from './roles.js';
import { newRow, recordCpu, recordRss, type Row } from './report.js';
import type { SubjectArgs } from './subject.js';
import { sleep } from './time.js';

export interface Subject {
  readonly label: string;
  /** Module path under dist/ (e.g. `subjects/raw-amqp.js`). */
  readonly module: string;
  readonly args: SubjectArgs;
  readonly note?: string;
  /** Runs in at most this many rounds (for a subject too slow to repeat within the time cap). */
  readonly maxRounds?: number;
  /** Changes to the scenario's plan for this subject only. */
  readonly plan?: Partial<BrokerPlan>;
}

export interface AlternateOptions {
  readonly rounds: number;
  /** Epoch ms after which no new round starts. */
  readonly deadline: number;
  /** Logs progress to stderr. */
  readonly log: (line: string) => void;
}

/** Runs `once` for every subject in every round, rotating the order; returns one row per subject. */
export async function alternate(
  subjects: readonly Subject[],
  options: AlternateOptions,
  once: (subject: Subject, row: Row, round: number) => Promise<void>,
): Promise<{ rows: Row[]; rounds: number }> {
  const rows = subjects.map((s) => newRow(s.label, s.note));
  const failed = new Set<number>();
  let rounds = 0;
  for (let round = 0; round < options.rounds; round++) {
    if (round > 0 && Date.now() > options.deadline) {
      options.log(`time cap reached: ${round} of ${options.rounds} rounds run`);
      break;
    }
    rounds++;
    for (let k = 0; k < subjects.length; k++) {
      const i = (k + round) % subjects.length;
      const subject = subjects[i]!;
      if (failed.has(i) || round >= (subject.maxRounds ?? Number.POSITIVE_INFINITY)) continue;
      const row = rows[i]!;
      const started = Date.now();
      try {
        await once(subject, row, round);
        options.log(
          `  round ${round + 1} ${subject.label}: ${Math.round(row.throughput[row.throughput.length - 1] ?? 0).toLocaleString('en-US')} msg/s (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        );
      } catch (error) {
        const message = (error as Error).message;
        (row as { error?: string }).error = firstLine(message);
        options.log(`  round ${round + 1} ${subject.label}: FAILED ${message}`);
        failed.add(i);
      }
    }
  }
  return { rows, rounds };
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? text;
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

export interface PairPlan {
  readonly warmup: number;
  readonly count: number;
  readonly window: number;
  readonly latencyCount: number;
  readonly rate: number;
  readonly timeoutMs: number;
  readonly execArgv?: readonly string[];
}

/** One round of an in-process subject: one child runs warm-up, throughput and latency. */
export async function runPair(subject: Subject, row: Row, plan: PairPlan): Promise<void> {
  const args: PairArgs = { subject: subject.module, args: subject.args, ...plan };
  const child = spawnChild<PairResult>('harness/roles.js', 'pairRole', args, {
    timeoutMs: plan.timeoutMs + 10_000,
    execArgv: plan.execArgv,
  });
  const { result, maxRss } = await child.done;
  row.throughput.push(result.throughput);
  row.latencies.push(...result.latencies);
  recordRss(row, 'process', maxRss);
}

export interface BrokerPlan {
  readonly consumers: number;
  readonly warmup: number;
  readonly count: number;
  readonly window: number;
  readonly latencyCount: number;
  readonly rate: number;
  /** Cap of one round, ms. */
  readonly timeoutMs: number;
  /** Node options of the consumer processes and of the publisher process (`--cpu-prof`, …). */
  readonly execArgv?: { readonly consumer: readonly string[]; readonly publisher: readonly string[] };
}

type Progress = { counts: { w: number; t: number; l: number }; lastAt: { w: number; t: number; l: number }; cpuUs?: number };

/**
 * One round of a broker subject: `plan.consumers` consumer processes and one publisher process.
 * Throughput is the count over the time from the publisher's first publish to the last consumer's
 * last handled message; latency is measured at `plan.rate` in a second phase. CPU per message of
 * the throughput phase is recorded for the publisher (its publishing) and each consumer (from just
 * before the phase to just after its last message: progress reports, 100 ms apart, bracket it).
 */
export async function runBroker(subject: Subject, row: Row, scenarioPlan: BrokerPlan): Promise<void> {
  const plan = { ...scenarioPlan, ...subject.plan };
  const deadline = Date.now() + plan.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const role = { subject: subject.module, args: subject.args };
  const consumers = Array.from({ length: plan.consumers }, () =>
    spawnChild<ConsumerResult>('harness/roles.js', 'consumerRole', role, {
      timeoutMs: plan.timeoutMs + 15_000,
      execArgv: plan.execArgv?.consumer,
    }),
  );
  const publisher = spawnChild('harness/roles.js', 'publisherRole', role, {
    timeoutMs: plan.timeoutMs + 15_000,
    execArgv: plan.execArgv?.publisher,
  });
  const all = [...consumers, publisher];
  try {
    await Promise.all(consumers.map((c) => c.next('ready', left())));
    await publisher.next('ready', left());
    const progress: Progress[] = consumers.map(() => ({ counts: { w: 0, t: 0, l: 0 }, lastAt: { w: 0, t: 0, l: 0 } }));
    const waitFor = async (phase: 'w' | 't' | 'l', count: number) => {
      for (;;) {
        consumers.forEach((c, i) => {
          const p = c.latest('progress') as Progress | undefined;
          if (p !== undefined) progress[i] = p;
        });
        const total = progress.reduce((sum, p) => sum + p.counts[phase], 0);
        if (total >= count) return;
        if (Date.now() > deadline)
          throw new Error(`round time cap: ${total} of ${count} "${phase}" messages handled in ${Math.round(plan.timeoutMs / 1000)} s`);
        await sleep(20);
      }
    };
    const publish = async (command: PublishCommand) => {
      publisher.send('publish', command);
      return (await publisher.next('published', left())) as { t0: number; t1: number; cpuUs?: number };
    };
    if (plan.warmup > 0) {
      await publish({ mode: 'window', count: plan.warmup, window: plan.window, phase: 'w', first: 0 });
      await waitFor('w', plan.warmup);
    }
    const consumerCpu = async () => {
      await sleep(150); // a progress report sent after what came before
      return consumers.reduce((sum, c) => sum + ((c.latest('progress') as Progress | undefined)?.cpuUs ?? Number.NaN), 0);
    };
    const cpuBefore = await consumerCpu();
    const { t0, cpuUs } = (await publish({ mode: 'window', count: plan.count, window: plan.window, phase: 't', first: plan.warmup })) as {
      t0: number;
      cpuUs?: number;
    };
    await waitFor('t', plan.count);
    const lastAt = Math.max(...progress.map((p) => p.lastAt.t));
    row.throughput.push(plan.count / ((lastAt - t0) / 1e6));
    recordCpu(row, plan.consumers > 1 ? 'consumers' : 'consumer', ((await consumerCpu()) - cpuBefore) / plan.count);
    recordCpu(row, 'publisher', (cpuUs ?? Number.NaN) / plan.count);
    if (plan.latencyCount > 0) {
      await publish({ mode: 'paced', count: plan.latencyCount, rate: plan.rate, phase: 'l', first: plan.warmup + plan.count });
      await waitFor('l', plan.latencyCount);
    }
    publisher.send('publish', { mode: 'stop' });
    for (const c of consumers) c.send('stop');
    const results = await Promise.all(consumers.map((c) => c.done));
    const published = await publisher.done;
    for (const { result, maxRss } of results) {
      row.latencies.push(...result.latencies);
      recordRss(row, plan.consumers > 1 ? 'each consumer' : 'consumer', maxRss);
    }
    recordRss(row, 'publisher', published.maxRss);
    if (plan.execArgv !== undefined) await Promise.race([Promise.all(all.map((c) => c.exited)), sleep(10_000)]); // profiles written at exit
  } finally {
    for (const c of all) c.kill();
  }
}
