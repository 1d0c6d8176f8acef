/**
 * scale: Missive's throughput with 1, 2 and 4 competing consumer processes (RabbitMQ and SQLite);
 * a consumer's memory while it works through a backlog of one million small messages (it must stay
 * flat); and the time from `createBus` to the first handled message with a backlog waiting.
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import { spawnChild } from '../harness/child.js';
import { AMQP_URL } from '../harness/machine.js';
import { fmtMb, fmtRate } from '../harness/report.js';
import type { ConsumerResult } from '../harness/roles.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { spread } from '../harness/stats.js';
import { runId, sleep } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';
import { DB_DIR, removeDb } from './sqlite.js';

interface Backlog {
  readonly transport: string;
  readonly count: number;
  readonly fillSeconds: number;
  readonly consumed: number;
  readonly seconds: number;
  readonly rss: number[];
  readonly startup: ConsumerResult | undefined;
  readonly error?: string;
}

/** Fills `count` messages, consumes for `seconds` sampling RSS, then times a fresh consumer's start. */
export async function backlog(
  transport: string,
  subject: Subject,
  count: number,
  seconds: number,
  log: (line: string) => void,
): Promise<Backlog> {
  const fillArgs = { url: String(subject.args['url']), name: subject.args.name, count };
  try {
    log(`  backlog ${transport}: filling ${count.toLocaleString('en-US')} messages`);
    const filled = await spawnChild<{ seconds: number }>('subjects/fill.js', 'fill', fillArgs, { timeoutMs: 120_000 }).done;
    log(`  backlog ${transport}: filled in ${filled.result.seconds.toFixed(1)} s; consuming for ${seconds} s`);
    const role = { subject: subject.module, args: { ...subject.args, sampleRss: true } };
    const consumer = spawnChild<ConsumerResult>('harness/roles.js', 'consumerRole', role, { timeoutMs: (seconds + 60) * 1000 });
    await consumer.next('ready', 30_000);
    await sleep(seconds * 1000);
    consumer.send('stop');
    const { result } = await consumer.done;
    log(`  backlog ${transport}: consumed ${result.counts.w.toLocaleString('en-US')}; timing a fresh consumer's start`);
    const fresh = spawnChild<ConsumerResult>(
      'harness/roles.js',
      'consumerRole',
      { subject: subject.module, args: subject.args },
      { timeoutMs: 60_000 },
    );
    await fresh.next('ready', 30_000);
    for (let i = 0; i < 100; i++) {
      const p = fresh.latest('progress') as { counts: { w: number } } | undefined;
      if (p !== undefined && p.counts.w > 0) break;
      await sleep(50);
    }
    fresh.send('stop');
    const startup = (await fresh.done).result;
    return { transport, count, fillSeconds: filled.result.seconds, consumed: result.counts.w, seconds, rss: result.rssSamples, startup };
  } catch (error) {
    return {
      transport,
      count,
      fillSeconds: Number.NaN,
      consumed: 0,
      seconds,
      rss: [],
      startup: undefined,
      error: (error as Error).message.split('\n')[0],
    };
  }
}

export function backlogTable(rows: readonly Backlog[]): string {
  const out = [
    `| transport | backlog | fill time s | consumed in the window | RSS after 1 s MB | RSS max MB | RSS at end MB | growth after 1 s MB | flat |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    if (r.error !== undefined) {
      out.push(`| ${r.transport} | ${r.error.replace(/\|/g, '/')} | | | | | | | |`);
      continue;
    }
    const settled = r.rss.slice(4); // samples every 250 ms: skip the first second (start-up, JIT)
    const first = settled[0] ?? Number.NaN;
    const max = Math.max(...settled);
    const end = settled[settled.length - 1] ?? Number.NaN;
    const growth = max - first;
    out.push(
      `| ${r.transport} | ${r.count.toLocaleString('en-US')} | ${r.fillSeconds.toFixed(1)} | ${r.consumed.toLocaleString('en-US')} in ${r.seconds} s | ${fmtMb(first)} | ${fmtMb(max)} | ${fmtMb(end)} | ${(growth / 2 ** 20).toFixed(1)} | ${growth < 32 * 2 ** 20 ? 'yes' : 'NO'} |`,
    );
  }
  return out.join('\n');
}

function startupTable(rows: readonly Backlog[]): string {
  const out = [
    '| transport | createBus → first message handled, ms | process start → first message handled, ms | role start → subscribed, ms |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const s = r.startup;
    if (s === undefined) continue;
    out.push(
      `| ${r.transport} | ${s.createToFirstMessageMs.toFixed(0)} | ${s.processToFirstMessageMs.toFixed(0)} | ${s.readyAfterMs.toFixed(0)} |`,
    );
  }
  return out.join('\n');
}

export const scale: Scenario = {
  name: 'scale',
  title: 'scale: competing consumers, a backlog of one million, start-up',
  budgetMs: 300_000,
  facts: { rabbitmq: true, sqlite: true },
  async run(ctx) {
    mkdirSync(DB_DIR, { recursive: true });
    const id = runId();
    const common = { prefetch: 32, concurrency: 16 };
    const sqlitePath = `${DB_DIR}scale-${id}.db`;
    const transports = [
      { label: 'RabbitMQ (quorum)', url: AMQP_URL, plan: { count: ctx.quick ? 4_000 : 15_000 } },
      { label: 'SQLite (FULL)', url: `sqlite://${sqlitePath}`, plan: { count: ctx.quick ? 2_000 : 6_000 } },
    ];
    const subjects: Subject[] = [];
    for (const t of transports) {
      for (const consumers of [1, 2, 4]) {
        subjects.push({
          label: `${t.label}, ${consumers} consumer${consumers > 1 ? 's' : ''}`,
          module: 'subjects/missive-bus.js',
          args: { ...common, name: `bench-scale-${consumers}-${id}`, url: t.url },
          plan: { ...t.plan, consumers },
        });
      }
    }
    const plan: BrokerPlan = {
      consumers: 1,
      warmup: ctx.quick ? 300 : 1_000,
      count: 0,
      window: 100,
      latencyCount: 0,
      rate: 0,
      timeoutMs: 60_000,
    };
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 2);
    const backlogCount = ctx.quick ? 100_000 : 1_000_000;
    // RabbitMQ fills at about 20k msg/s here, so the million costs ~50 s; the 15 s window consumes a
    // quarter of it and the rest is the backlog the fresh consumer's start-up is timed against.
    const rabbitBacklog = Number(process.env.BENCH_RABBIT_BACKLOG ?? backlogCount);
    const backlogSeconds = ctx.quick ? 5 : 15;
    const sections: string[] = [];
    try {
      const budgetForScale = ctx.deadline - Date.now() - (ctx.quick ? 40_000 : 130_000);
      const { rows, rounds: ran } = await alternate(
        subjects,
        { rounds, deadline: Date.now() + budgetForScale / 2, log: ctx.log },
        (s, row) => runBroker(s, row, plan),
      );
      const table = [
        '| transport, consumers | msg/s median | min | max | × of 1 consumer | peak RSS per consumer MB |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
      ];
      for (const t of transports) {
        const one = spread(rows.find((r) => r.label.startsWith(`${t.label}, 1 `))?.throughput ?? []).median;
        for (const row of rows.filter((r) => r.label.startsWith(t.label))) {
          if (row.throughput.length === 0) {
            table.push(`| ${row.label} | ${row.error ?? 'no result'} | | | | |`);
            continue;
          }
          const s = spread(row.throughput);
          table.push(
            `| ${row.label} | ${fmtRate(s.median)} | ${fmtRate(s.min)} | ${fmtRate(s.max)} | ${(s.median / one).toFixed(2)} | ${fmtMb(
              Math.max(
                ...Object.entries(row.rss)
                  .filter(([k]) => k !== 'publisher')
                  .map(([, v]) => v),
              ),
            )} |`,
          );
        }
      }
      sections.push(
        `### Competing consumers`,
        '',
        `${ran} rounds, alternating; one publisher process (at most ${plan.window} unconfirmed) and N consumer processes on one queue, prefetch ${common.prefetch} and concurrency ${common.concurrency} each; RabbitMQ ${transports[0]!.plan.count.toLocaleString('en-US')} and SQLite ${transports[1]!.plan.count.toLocaleString('en-US')} messages per run after ${plan.warmup.toLocaleString('en-US')} warm-up. This machine has 2 cores shared by the broker, the publisher and the consumers.`,
        '',
        table.join('\n'),
        '',
      );
      const backlogs: Backlog[] = [];
      const classicUrl = `${AMQP_URL}?queueType=classic`;
      const backlogSubjects: [string, Subject, number][] = [
        [
          'RabbitMQ (classic queue)',
          {
            label: 'backlog rabbitmq',
            module: 'subjects/missive-bus.js',
            args: { ...common, name: `bench-backlog-${id}`, url: classicUrl },
          },
          rabbitBacklog,
        ],
        [
          'SQLite (FULL)',
          {
            label: 'backlog sqlite',
            module: 'subjects/missive-bus.js',
            args: { ...common, name: `bench-backlog-${id}`, url: `sqlite://${DB_DIR}backlog-${id}.db` },
          },
          backlogCount,
        ],
      ];
      for (const [label, subject, count] of backlogSubjects) {
        backlogs.push(await backlog(label, subject, count, backlogSeconds, ctx.log));
        await cleanupAll([subject], ctx.log);
      }
      removeDb(`${DB_DIR}backlog-${id}.db`);
      sections.push(
        `### Consumer memory with a backlog`,
        '',
        `The queue is filled with Missive messages (about 480 bytes each; on RabbitMQ sent non-persistent to a durable classic queue, to fill faster) before the consumer starts; one consumer process (prefetch ${common.prefetch}, concurrency ${common.concurrency}) then works for ${backlogSeconds} s while its RSS is sampled every 250 ms. Flat means it grew by less than 32 MB after its first second.`,
        '',
        backlogTable(backlogs),
        '',
        `### Start-up`,
        '',
        'A fresh consumer process started against the rest of the backlog: from `createBus` (the subject module already imported) and from the process start to its first handled message.',
        '',
        startupTable(backlogs),
      );
      return sections.join('\n');
    } finally {
      await cleanupAll(subjects, ctx.log);
      removeDb(sqlitePath);
    }
  },
};
