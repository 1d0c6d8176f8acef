/**
 * journal: what the dashboard's message journal costs a bus (the lookups at a million rows are
 * `journal-lookup.ts`).
 *
 * - Handler slowdown: the bus thread's CPU per message and the throughput, journal off and on
 *   in alternating rounds, on the memory transport with an empty handler (the worst case) and on
 *   the SQLite transport (`journal-overhead.ts`). The target: at most 10% (see docs/BENCHMARKS.md
 *   for which figure it is read on).
 * - Ingest: a fixed 10,000 messages/s through a memory bus with the journal: every row written.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scenario } from '../harness/scenario.js';
import { mainThreadCpuReadable } from '../harness/thread-cpu.js';
import { spread } from '../harness/stats.js';
import { ingestRun, journalWorkUs, overheadRounds, overheadTable, type OverheadPath } from './journal-overhead.js';

export const journalScenario: Scenario = {
  name: 'journal',
  title: 'journal: handler slowdown and ingest at 10,000 messages/s',
  budgetMs: 600_000,
  facts: { packages: ['better-sqlite3'] },
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'missive-bench-journal-'));
    try {
      if (!mainThreadCpuReadable())
        throw new Error("the bus thread's CPU time is read from /proc/self/task/<pid>/schedstat, which this system lacks");
      const load = () =>
        loadavg()
          .map((l) => l.toFixed(1))
          .join(' ');
      const loadBefore = load();
      const rounds = ctx.rounds ?? (ctx.quick ? 2 : 12);
      const counts: Record<OverheadPath, number> = { memory: ctx.quick ? 10_000 : 20_000, sqlite: ctx.quick ? 1_000 : 3_000 };
      const overhead: string[] = [];
      for (const path of ['memory', 'sqlite'] as const) {
        const modes = path === 'memory' ? (['off', 'on', 'discard', 'observer'] as const) : (['off', 'on'] as const);
        const result = await overheadRounds(path, counts[path], rounds, dir, ctx.deadline - 60_000, ctx.log, modes);
        overhead.push(...overheadTable(path, { ...result, count: counts[path] }));
      }
      ctx.log("  the journal's own work");
      const work = await journalWorkUs(20_000, ctx.quick ? 3 : 9);
      const us = (values: number[]) => {
        const s = spread(values);
        return `${s.median.toFixed(2)} µs (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
      };
      ctx.log('  10,000 messages/s with the journal');
      const ingest = await ingestRun(10_000, ctx.quick ? 20_000 : 50_000, dir);
      const loadAfter = load();

      const lines = [
        `Journal off and on in alternating rounds in this one process (${rounds} rounds of each, in one order in even rounds and the reverse in odd ones; on the memory path a third mode, the journal with a store that discards its batches, shows the bus thread's part without a worker thread beside it, and a fourth, an empty \`observeHandled\` observer and no journal, core's part as the journal uses it: the delivery's fields passed, no event object), each round a fresh bus with one endpoint whose handler does nothing, ${counts.memory.toLocaleString('en-US')} messages a round on the memory transport and ${counts.sqlite.toLocaleString('en-US')} on the SQLite transport (a \`sqlite://\` file, its defaults), at most 100 unconfirmed publishes, after a warm-up; the journal writes to a SQLite file (its worker thread, the default) and each round ends when its last row is written. Load average ${loadBefore} before, ${loadAfter} after (1, 5, 15 min). Medians, with min–max:`,
        '',
        '| | bus thread CPU µs/message | process CPU µs/message (worker included) | handled/s | rows journaled |',
        '| --- | ---: | ---: | ---: | ---: |',
        ...overhead,
        '',
        `The journal's own work on the bus thread, alone (20,000 real \`handled\` events from a memory bus, posted to a message port in batches of 1,000, ${work.packedUs.length} alternating rounds, median and min–max): a row object per message cloned (\`entryOf\`, the journal before this change) ${us(work.rowsUs)} per message; flat values per batch (\`packBatch\`, now: its per-message strings joined into one string) ${us(work.packedUs)}.`,
        '',
        `At a fixed 10,000 messages/s offered for ${(ingest.rows / 10_000).toFixed(0)} s (memory transport, journal on): ${Math.round(ingest.perSecond).toLocaleString('en-US')} handled/s, ${ingest.rows.toLocaleString('en-US')} rows written of ${(ctx.quick ? 20_000 : 50_000).toLocaleString('en-US')}, send→handled p50 ${Math.round(ingest.p50Us)} µs and p99 ${Math.round(ingest.p99Us)} µs; the bus thread was ${(ingest.busShare * 100).toFixed(1)}% of a core and the rest of the process (the journal's worker) ${(ingest.otherShare * 100).toFixed(1)}%.`,
      ];
      return lines.join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
