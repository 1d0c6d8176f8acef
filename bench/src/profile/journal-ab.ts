/**
 * The journal's cost on the bus thread, two builds side by side: rounds of `journal-overhead.ts`
 * (journal off, on, and on with a store that discards) from each build's `bench/dist`, in fresh
 * child processes that alternate between the builds (A B B A …), so both see the same machine.
 * Besides the bus thread's CPU per message (schedstat) it reads, per round, the bus thread's user
 * and system time, minor page faults and context switches (`/proc/self/task/<pid>/stat` and
 * `status`), and the rest of the process's CPU (the journal's worker, V8's helper threads): the
 * worker's µs per row is that rest, journal on, minus the same rest with the journal off.
 *
 * ```sh
 * node bench/dist/profile/journal-ab.js --children 6 --pairs 2 base=/tmp/journal-base new=.
 * node bench/dist/profile/journal-ab.js --path sqlite --count 3000 --children 4 base=/tmp/journal-base new=.
 * node bench/dist/profile/journal-ab.js --path sqlite --count 8000 --warmup 16000 --children 6 new=.   # a warm journal worker
 * ```
 * Each build is a checkout with `npm run build` done; a label starting with a path's build is
 * printed with medians (min–max) and the on ÷ off ratios of each round pair.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JournalMode, OverheadPath, overheadRound as OverheadRoundFn } from '../scenarios/journal-overhead.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

/** The bus thread's counters: CPU split in user and system (clock ticks → µs), minor faults, context switches. */
interface ThreadStat {
  readonly userUs: number;
  readonly systemUs: number;
  readonly minorFaults: number;
  readonly voluntary: number;
  readonly involuntary: number;
}

function threadStat(): ThreadStat {
  const task = `/proc/self/task/${process.pid}`;
  // Fields after the command's closing parenthesis: state is field 3; minflt 10, utime 14, stime 15.
  const stat = readFileSync(`${task}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`${task}/status`, 'utf8');
  const tick = 10_000; // USER_HZ 100
  return {
    userUs: Number(fields[11]) * tick,
    systemUs: Number(fields[12]) * tick,
    minorFaults: Number(fields[7]),
    voluntary: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1]),
    involuntary: Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1]),
  };
}

/** One round as a child reports it: per message. */
interface Measured {
  readonly label: string;
  readonly mode: JournalMode;
  readonly busUs: number;
  readonly processUs: number;
  readonly perSecond: number;
  readonly rows: number;
  readonly userUs: number;
  readonly systemUs: number;
  readonly minorFaults: number;
  readonly voluntary: number;
  readonly involuntary: number;
}

const path = option('path', 'memory') as OverheadPath;
const count = Number(option('count', path === 'memory' ? '20000' : '3000'));
/** Messages before the measured ones in each round (default: `journal-overhead.ts`'s, a quarter of the count, at most 5,000). */
const warmUp = process.argv.includes('--warmup') ? Number(option('warmup', '0')) : undefined;
const modes = option('modes', path === 'memory' ? 'off,on,discard' : 'off,on').split(',') as JournalMode[];

if (process.argv.includes('--child')) {
  const [label, root] = option('child', '').split('=') as [string, string];
  const pairs = Number(option('pairs', '2'));
  const module = (await import(pathToFileURL(join(resolve(root), 'bench/dist/scenarios/journal-overhead.js')).href)) as {
    overheadRound: typeof OverheadRoundFn;
  };
  const dir = mkdtempSync(join(tmpdir(), 'missive-journal-ab-'));
  try {
    for (let r = 0; r < pairs; r++) {
      for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
        let before: ThreadStat | undefined;
        let after: ThreadStat | undefined;
        const round = await module.overheadRound(path, mode, count, dir, {
          ...(warmUp === undefined ? {} : { warmUp }),
          start: () => (before = threadStat()),
          end: () => (after = threadStat()),
        });
        const per = (k: keyof ThreadStat) => (after![k] - before![k]) / count;
        const measured: Measured = {
          label,
          mode,
          busUs: round.busUs,
          processUs: round.processUs,
          perSecond: round.perSecond,
          rows: round.rows,
          userUs: per('userUs'),
          systemUs: per('systemUs'),
          minorFaults: per('minorFaults'),
          voluntary: per('voluntary'),
          involuntary: per('involuntary'),
        };
        console.log(JSON.stringify(measured));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const builds = process.argv.slice(2).filter((a) => /^[^-][^=]*=/.test(a));
  const children = Number(option('children', '6'));
  const pairs = option('pairs', '2');
  const all: Measured[] = [];
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  console.log(`journal-ab ${path}, ${count} messages a round, modes ${modes.join(',')}; load ${load()}`);
  for (let c = 0; c < children; c++) {
    for (const build of c % 2 === 0 ? builds : [...builds].reverse()) {
      const out = execFileSync(
        process.execPath,
        [
          process.argv[1]!,
          '--child',
          build,
          '--pairs',
          pairs,
          '--path',
          path,
          '--count',
          String(count),
          '--modes',
          modes.join(','),
          ...(warmUp === undefined ? [] : ['--warmup', String(warmUp)]),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      for (const line of out.split('\n')) if (line.startsWith('{')) all.push(JSON.parse(line) as Measured);
    }
    console.log(`  child ${c + 1}/${children} of each; load ${load()}`);
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const spread = (xs: number[], digits: number) =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  console.log(
    '\n| build, mode | bus thread CPU µs/msg | user µs | system µs | minor faults /1000 msg | ctx switches vol/invol /1000 msg | rest of process µs/msg | msg/s |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const build of builds) {
    const label = build.split('=')[0]!;
    for (const mode of modes) {
      const rs = all.filter((m) => m.label === label && m.mode === mode);
      console.log(
        `| ${label}, ${mode} | ${spread(
          rs.map((m) => m.busUs),
          2,
        )} | ${median(rs.map((m) => m.userUs)).toFixed(2)} | ${median(rs.map((m) => m.systemUs)).toFixed(2)} | ${median(
          rs.map((m) => m.minorFaults * 1000),
        ).toFixed(
          1,
        )} | ${median(rs.map((m) => m.voluntary * 1000)).toFixed(1)} / ${median(rs.map((m) => m.involuntary * 1000)).toFixed(1)} | ${spread(
          rs.map((m) => m.processUs - m.busUs),
          2,
        )} | ${Math.round(median(rs.map((m) => m.perSecond)))} |`,
      );
    }
  }
  console.log('\n| build, mode ÷ off (per round pair) | bus thread CPU | worker µs per row (rest on − rest off) |');
  console.log('| --- | ---: | ---: |');
  for (const build of builds) {
    const label = build.split('=')[0]!;
    const off = all.filter((m) => m.label === label && m.mode === 'off');
    for (const mode of modes.filter((m) => m !== 'off')) {
      const rs = all.filter((m) => m.label === label && m.mode === mode);
      const n = Math.min(off.length, rs.length);
      const ratios = Array.from({ length: n }, (_, i) => rs[i]!.busUs / off[i]!.busUs - 1);
      const worker = Array.from({ length: n }, (_, i) => rs[i]!.processUs - rs[i]!.busUs - (off[i]!.processUs - off[i]!.busUs));
      console.log(
        `| ${label}, ${mode} | ${pct(median(ratios))} (${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))}), ${n} pairs | ${spread(worker, 2)} |`,
      );
    }
  }
  console.log(`\nload ${load()}`);
}
