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
 * node bench/dist/profile/journal-ab.js --path sqlite --modes off,on,discard --journal-dir /dev/shm --children 4 --pairs 3 new=.
 * node bench/dist/profile/journal-ab.js --path sqlite --modes off+pin,on+pin,on+same,on --children 4 --pairs 3 new=.
 * ```
 * Each build is a checkout with `npm run build` done; a label starting with a path's build is
 * printed with medians (min–max) and the on ÷ off ratios of each round pair.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { JournalStore } from '@missive/dashboard';
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
  readonly mode: string;
  /** Threads the round started (placed by the mode's suffix). */
  readonly started: number;
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
/**
 * Modes of `journal-overhead.ts`, each optionally with a placement of the threads for its rounds:
 * `on+pin` (the bus thread on CPU 0, the threads the round started, the journal's worker, on CPU 1),
 * `on+same` (both on CPU 0), `off+pin` (the bus thread on CPU 0), `off+idle`, `off+spin`, `off+alloc`
 * (a worker thread beside the bus for the round: idle, spinning, allocating; see `neighbours`),
 * `discard+echo` (the journal's batches posted to a worker that answers at once: `echoStore`),
 * `discard+echo5` (the same worker answering 5 ms later: fewer, larger batches), `discard+slow` (each batch answered 5 ms later on a timer, no thread: `slowStore`); a mode without a suffix leaves
 * the bus thread free (CPUs 0-1). The threads a round started are the tasks of
 * `/proc/self/task` that appeared between the round's start and its measured messages.
 */
const modes = option('modes', path === 'memory' ? 'off,on,discard' : 'off,on').split(',');
/** The transport's files (default: a fresh directory under the system's temp directory), and the journal's (default: the same). */
const busRoot = option('dir', '');
const journalDir = option('journal-dir', '');

/** Threads a mode's suffix starts beside the bus for a round: idle; spinning 1 ms in every 2; allocating short-lived objects 1 ms in every 2 (V8's heap and GC busy, as the journal's worker's are). */
const neighbours: Record<string, string> = {
  idle: 'setInterval(() => undefined, 1e9);',
  spin: 'let x = 0; setInterval(() => { const end = performance.now() + 1; while (performance.now() < end) x += Math.sqrt(x + 1); }, 2);',
  alloc:
    'let keep = []; setInterval(() => { const end = performance.now() + 1; while (performance.now() < end) { keep.push({ id: Math.random().toString(36), n: keep.length }); if (keep.length > 10000) keep = []; } }, 2);',
};

/** `discard+echo`: the journal with a store that posts each batch to a worker thread that answers at once (the hand-over to a worker, no SQLite). */
function echoStore(delayMs = 0): { store: JournalStore; close: () => Promise<number> } {
  const reply = delayMs === 0 ? 'parentPort.postMessage(m.id)' : `setTimeout(() => parentPort.postMessage(m.id), ${delayMs})`;
  const echo = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => ${reply});`, {
    eval: true,
  });
  let next = 0;
  const waiting = new Map<number, () => void>();
  echo.on('message', (id: number) => {
    waiting.get(id)?.();
    waiting.delete(id);
  });
  const post = (batch: unknown): Promise<void> =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      echo.postMessage({ id, batch });
    });
  const store: JournalStore = {
    append: () => Promise.resolve(),
    appendPacked: post,
    conversation: () => Promise.resolve([]),
    recent: () => Promise.resolve([]),
    prune: () => Promise.resolve(0),
    count: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  return {
    store,
    close: () => {
      if (process.env.JOURNAL_AB_POSTS) console.error(`echo: ${next} batches posted`);
      return echo.terminate();
    },
  };
}

/** `discard+slow`: the journal with a store that answers each batch 5 ms later on a timer, no thread (a batch in flight, as with a worker, without the worker). */
function slowStore(): { store: JournalStore; close: () => Promise<number> } {
  const wait = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
  const store: JournalStore = {
    append: wait,
    appendPacked: wait,
    conversation: () => Promise.resolve([]),
    recent: () => Promise.resolve([]),
    prune: () => Promise.resolve(0),
    count: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  return { store, close: () => Promise.resolve(0) };
}

function tasks(): Set<string> {
  return new Set(readdirSync('/proc/self/task'));
}

function pin(cpus: string, tids: Iterable<string>): void {
  for (const tid of tids) execFileSync('taskset', ['-p', '-c', cpus, tid], { stdio: 'ignore' });
}

/** Places the bus thread and the threads started since `before` as the mode's suffix asks; returns how many threads it placed beside the bus. */
function place(spec: string, before: Set<string>): number {
  const placement = spec.split('+')[1];
  const started = [...tasks()].filter((t) => !before.has(t));
  if (placement === 'pin') {
    pin('0', [String(process.pid)]);
    pin('1', started);
  } else if (placement === 'same') pin('0', [String(process.pid), ...started]);
  else pin('0-1', [String(process.pid)]);
  return started.length;
}

if (process.argv.includes('--child')) {
  if (process.env.JOURNAL_AB_POSTS) {
    // Counts the real worker store's batches per round (mode `on`), as the echo store does.
    const { WorkerJournalStore } = await import('@missive/dashboard');
    // Function properties, not methods: replaced on the prototype, called with each store as `this`.
    const proto = WorkerJournalStore.prototype as unknown as Record<
      'appendPacked' | 'close',
      (this: unknown, ...args: unknown[]) => Promise<void>
    >;
    const { appendPacked, close } = proto;
    let batches = 0;
    proto.appendPacked = function (...args) {
      batches++;
      return appendPacked.apply(this, args);
    };
    proto.close = function (...args) {
      if (batches > 0) console.error(`worker store: ${batches} batches posted`);
      batches = 0;
      return close.apply(this, args);
    };
  }
  const [label, root] = option('child', '').split('=') as [string, string];
  const pairs = Number(option('pairs', '2'));
  const module = (await import(pathToFileURL(join(resolve(root), 'bench/dist/scenarios/journal-overhead.js')).href)) as {
    overheadRound: typeof OverheadRoundFn;
  };
  const dir = mkdtempSync(join(busRoot === '' ? tmpdir() : busRoot, 'missive-journal-ab-'));
  const journals = journalDir === '' ? dir : mkdtempSync(join(journalDir, 'missive-journal-ab-'));
  try {
    for (let r = 0; r < pairs; r++) {
      for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
        let before: ThreadStat | undefined;
        let after: ThreadStat | undefined;
        let started = 0;
        const threads = tasks();
        const echo = mode.endsWith('+echo')
          ? echoStore()
          : mode.endsWith('+echo5')
            ? echoStore(5)
            : mode.endsWith('+slow')
              ? slowStore()
              : undefined;
        const idle = neighbours[mode.split('+')[1] ?? ''];
        const neighbour = idle === undefined ? undefined : new Worker(idle, { eval: true });
        if (neighbour) await new Promise((resolve) => neighbour.once('online', resolve));
        const round = await module.overheadRound(path, mode.split('+')[0] as JournalMode, count, dir, {
          ...(warmUp === undefined ? {} : { warmUp }),
          journalDir: journals,
          ...(echo === undefined ? {} : { store: echo.store }),
          start: () => {
            started = place(mode, threads);
            before = threadStat();
          },
          end: () => (after = threadStat()),
        });
        await neighbour?.terminate();
        await echo?.close();
        const per = (k: keyof ThreadStat) => (after![k] - before![k]) / count;
        const measured: Measured = {
          label,
          mode,
          started,
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
    rmSync(journals, { recursive: true, force: true });
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
  console.log(
    `journal-ab ${path}, ${count} messages a round, modes ${modes.join(',')}, transport files in ${busRoot || tmpdir()}, journal files in ${journalDir || busRoot || tmpdir()}; load ${load()}`,
  );
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
          ...(busRoot === '' ? [] : ['--dir', busRoot]),
          ...(journalDir === '' ? [] : ['--journal-dir', journalDir]),
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
    '\n| build, mode | threads started (placed) | bus thread CPU µs/msg | user µs | system µs | minor faults /1000 msg | ctx switches vol/invol /1000 msg | rest of process µs/msg | msg/s |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const build of builds) {
    const label = build.split('=')[0]!;
    for (const mode of modes) {
      const rs = all.filter((m) => m.label === label && m.mode === mode);
      console.log(
        `| ${label}, ${mode} | ${median(rs.map((m) => m.started))} | ${spread(
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
  console.log(
    `\n| build, mode ÷ ${modes[0]} (per round pair) | bus thread CPU | bus thread extra µs/msg | worker µs per row (rest on − rest off) |`,
  );
  console.log('| --- | ---: | ---: | ---: |');
  for (const build of builds) {
    const label = build.split('=')[0]!;
    const off = all.filter((m) => m.label === label && m.mode === modes[0]); // the first mode is the baseline
    for (const mode of modes.slice(1)) {
      const rs = all.filter((m) => m.label === label && m.mode === mode);
      const n = Math.min(off.length, rs.length);
      const ratios = Array.from({ length: n }, (_, i) => rs[i]!.busUs / off[i]!.busUs - 1);
      const extra = Array.from({ length: n }, (_, i) => rs[i]!.busUs - off[i]!.busUs);
      const worker = Array.from({ length: n }, (_, i) => rs[i]!.processUs - rs[i]!.busUs - (off[i]!.processUs - off[i]!.busUs));
      console.log(
        `| ${label}, ${mode} | ${pct(median(ratios))} (${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))}), ${n} pairs | ${spread(extra, 2)} | ${spread(worker, 2)} |`,
      );
    }
  }
  console.log(`\nload ${load()}`);
}
