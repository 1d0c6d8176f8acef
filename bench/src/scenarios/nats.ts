/**
 * nats: Missive on `@missive/nats` against the raw JetStream pattern written by hand (core publish
 * with a reply subject and the PubAck parsed, durable pull consumer, explicit acks), against
 * nats.js's own `js.publish` and `consumer.consume()`, and against Moleculer with
 * @moleculer/channels' NATS JetStream adapter (the peer; `npm run bench` installs it), with the same guarantees (file storage,
 * publishes resolved on their PubAck with `Nats-Msg-Id`, ack after the handler, same prefetch and
 * unconfirmed window); one publisher process and one consumer process each.
 *
 * With `MISSIVE_NATS_BASELINE` naming the `index.js` of another build of `@missive/nats` (an earlier
 * commit's, built apart), that build runs too, as "Missive, baseline build": before and after in one run.
 * With `MISSIVE_BENCH_FULL_ENVELOPE=1`, Missive writing the whole envelope (the wire form before
 * 2026-11-30) runs too, as "Missive, full envelope": the lean envelope's effect in one run.
 * With `MISSIVE_BENCH_NATS_BINARY=1`, Missive writing CloudEvents binary content mode
 * (`contentMode=binary`) too, same build.
 * "Missive, batch messages" is the same bus with the transport's opt-in `?batch=64` (see the
 * package README, "Batch messages").
 * With `MISSIVE_BENCH_NATS_ONLY` a comma-separated list of `missive`, `batch`, `baseline`, `full`, `binary`, `raw`,
 * `natsjs`, `moleculer`, only those run (`missive,raw`: the ratio alone, more rounds in the time cap).
 * With `MISSIVE_BENCH_CPU_PROF` naming a directory, every consumer and publisher process runs with
 * `node --cpu-prof`, its profile in `<dir>/<system>/consumer` or `…/publisher`.
 *
 * @module
 */
import { connect } from 'nats';
import { NATS_URL } from '../harness/machine.js';
import { comparisonTable } from '../harness/report.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';

export function natsPlan(quick: boolean): BrokerPlan {
  return {
    consumers: 1,
    warmup: quick ? 500 : 2_000,
    count: quick ? 5_000 : 20_000,
    window: 100,
    latencyCount: quick ? 1_000 : 3_000,
    rate: 1_000,
    timeoutMs: 60_000,
  };
}

async function natsVersion(): Promise<string> {
  try {
    const nc = await connect({ servers: new URL(NATS_URL).host });
    const version = nc.info?.version ?? '?';
    await nc.close();
    return `nats-server ${version}`;
  } catch (error) {
    return `nats-server: not reachable (${(error as Error).message})`;
  }
}

/** Deletes the streams Missive made for the run (its prefix's, and its key-value buckets'). */
async function removeStreams(prefix: string): Promise<void> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await nc.jetstreamManager();
    for await (const info of jsm.streams.list())
      if (info.config.name.startsWith(prefix) || info.config.name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(info.config.name);
  } finally {
    await nc.close();
  }
}

export const nats: Scenario = {
  name: 'nats',
  title: 'nats: Missive vs the raw JetStream pattern, nats.js js.publish/consume and Moleculer over NATS',
  budgetMs: process.env.MISSIVE_BENCH_FULL_ENVELOPE === '1' ? 420_000 : 240_000,
  facts: { packages: ['nats', 'moleculer', '@moleculer/channels', 'zod'] },
  async run(ctx) {
    const id = runId().replace(/[^A-Za-z0-9]/g, '');
    const common = { prefetch: 32, concurrency: 16 };
    const subjects: Subject[] = [
      {
        label: 'Missive',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bench-${id}`, url: `${NATS_URL}?prefix=bm${id}` },
        note: 'endpoint concurrency 16; acks sent without waiting for the server, as raw',
      },
      {
        label: 'Missive, batch messages (?batch=64)',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bench-batch-${id}`, url: `${NATS_URL}?prefix=bq${id}&batch=64` },
        note: "the same with the transport's opt-in `batch` option: a turn's unkeyed publishes to one subject share JetStream messages of up to 64 (same PubAck and ack guarantees; a consumer may hold up to 63 beyond its prefetch)",
      },
      {
        label: 'raw JetStream (core publish + PubAck, pull, ack)',
        module: 'subjects/raw-nats.js',
        args: { ...common, name: `raw-${id}`, prefix: `br${id}` },
      },
      { label: 'nats.js js.publish / consume', module: 'subjects/natsjs.js', args: { ...common, name: `js-${id}`, prefix: `bj${id}` } },
      {
        label: 'Moleculer + @moleculer/channels (NATS JetStream)',
        module: '../peers/dist/subjects/moleculer-channels-nats.js',
        args: { ...common, name: `ml${id}` },
        note: 'peer: js.publish with msgID (PubAck awaited), durable push consumer with a queue group, manual ack, maxInFlight 32; Moleculer 0.14',
      },
    ];
    const baseline = process.env.MISSIVE_NATS_BASELINE;
    if (baseline !== undefined && baseline !== '') {
      subjects.splice(1, 0, {
        label: 'Missive, baseline build',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `base-${id}`, url: `${NATS_URL}?prefix=bb${id}`, transportModule: baseline },
        note: `the @missive/nats build at ${baseline}, same core`,
      });
    }
    if (process.env.MISSIVE_BENCH_NATS_BINARY === '1') {
      subjects.splice(1, 0, {
        label: 'Missive, binary content mode',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bin-${id}`, url: `${NATS_URL}?prefix=bc${id}&contentMode=binary` },
        note: 'contentMode=binary: the data as the payload, the attributes in ce- headers; same build otherwise',
      });
    }
    if (process.env.MISSIVE_BENCH_FULL_ENVELOPE === '1') {
      subjects.splice(1, 0, {
        label: 'Missive, full envelope',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `full-${id}`, url: `${NATS_URL}?prefix=bf${id}`, fullEnvelope: true },
        note: 'every envelope attribute written, as before 2026-11-30; same build otherwise',
      });
    }
    const only = process.env.MISSIVE_BENCH_NATS_ONLY;
    if (only !== undefined && only !== '') {
      const keys = new Set(only.split(',').map((k) => k.trim()));
      const keyOf = (s: Subject): string =>
        s.label.startsWith('Missive, baseline')
          ? 'baseline'
          : s.label.startsWith('Missive, full')
            ? 'full'
            : s.label.startsWith('Missive, binary')
              ? 'binary'
              : s.label.startsWith('Missive, batch')
                ? 'batch'
                : s.label === 'Missive'
                  ? 'missive'
                  : s.label.startsWith('raw')
                    ? 'raw'
                    : s.label.startsWith('nats.js')
                      ? 'natsjs'
                      : 'moleculer';
      for (let i = subjects.length - 1; i >= 0; i--) if (!keys.has(keyOf(subjects[i]!))) subjects.splice(i, 1);
    }
    const plan = natsPlan(ctx.quick);
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
    try {
      const profiles = process.env.MISSIVE_BENCH_CPU_PROF;
      const profiled = (s: Subject): BrokerPlan => {
        if (profiles === undefined || profiles === '') return plan;
        const dir = `${profiles}/${s.label.replace(/[^A-Za-z0-9]+/g, '-')}`;
        return {
          ...plan,
          execArgv: {
            consumer: ['--cpu-prof', `--cpu-prof-dir=${dir}/consumer`],
            publisher: ['--cpu-prof', `--cpu-prof-dir=${dir}/publisher`],
          },
        };
      };
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 20_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, profiled(s)),
      );
      return [
        `${await natsVersion()}. ${ran} rounds, alternating; per round and system a fresh publisher process and consumer process: ${plan.warmup.toLocaleString('en-US')} warm-up messages, ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput: first publish to last handled), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate.toLocaleString('en-US')} msg/s (latency: publish call in one process to handler entry in the other). Prefetch ${common.prefetch} on all; file streams, publishes resolved on their PubAck with Nats-Msg-Id, explicit ack after the handler.`,
        '',
        comparisonTable(rows, 'Missive', { rate: `${plan.rate / 1000}k/s` }),
      ].join('\n');
    } finally {
      await cleanupAll(subjects, ctx.log);
      if (baseline !== undefined && baseline !== '') await removeStreams(`BB${id.toUpperCase()}_`).catch(() => undefined);
      if (process.env.MISSIVE_BENCH_FULL_ENVELOPE === '1') await removeStreams(`BF${id.toUpperCase()}_`).catch(() => undefined);
      if (process.env.MISSIVE_BENCH_NATS_BINARY === '1') await removeStreams(`BC${id.toUpperCase()}_`).catch(() => undefined);
      await removeStreams(`BQ${id.toUpperCase()}_`).catch(() => undefined);
      await removeStreams(`BM${id.toUpperCase()}_`).catch((error: unknown) =>
        ctx.log(`  removing Missive's streams failed: ${(error as Error).message}`),
      );
    }
  },
};
