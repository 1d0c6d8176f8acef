/**
 * The bus thread's instructions per message, journal off and on, counted by callgrind: one round
 * of `journal-overhead.ts` (same bus, same workload) under
 * `valgrind --tool=callgrind --separate-threads=yes`, with the counts zeroed right before the
 * measured messages and dumped right after them (`callgrind_control`), so the dump of thread 1 (the
 * bus thread) holds exactly the measured messages' instructions. Instruction counts do not move
 * with the machine's load, unlike CPU time; run each mode in its own process and compare.
 * Without valgrind it prints the bus thread's CPU time of the round instead.
 *
 * ```sh
 * valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=/tmp/cg.%p \
 *   node --expose-gc bench/dist/profile/journal-callgrind.js --path memory --mode on --count 10000 --warmup 5000
 * node bench/dist/profile/journal-callgrind.js --summary /tmp/cg.<pid>.1-01   # instructions per message
 * ```
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overheadRound, type JournalMode, type OverheadPath } from '../scenarios/journal-overhead.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const summary = process.argv.indexOf('--summary');
if (summary >= 0) {
  // A dump file: its `summary:` line is the instructions counted, its `cmd:` line the count.
  const text = readFileSync(process.argv[summary + 1]!, 'utf8');
  const instructions = Number(/^summary: (\d+)/m.exec(text)?.[1]);
  const count = Number(/--count (\d+)/.exec(/^cmd: (.*)$/m.exec(text)?.[1] ?? '')?.[1]);
  console.log(`${instructions} instructions, ${count} messages: ${Math.round(instructions / count)} per message`);
} else {
  const path = option('path', 'memory') as OverheadPath;
  const mode = option('mode', 'on') as JournalMode;
  const count = Number(option('count', '2000'));
  const warmUp = Number(option('warmup', '3000'));
  const control = (...args: string[]) => {
    try {
      execFileSync('callgrind_control', [...args, String(process.pid)], { stdio: 'ignore' });
    } catch {
      /* not under callgrind */
    }
  };
  const dir = mkdtempSync(join(tmpdir(), 'missive-journal-callgrind-'));
  try {
    const round = await overheadRound(path, mode, count, dir, {
      warmUp,
      start: () => {
        // The same heap at the start of every run (run with --expose-gc): a collection left over from the warm-up does not fall into the count.
        (globalThis as { gc?: () => void }).gc?.();
        control('-z');
      },
      end: () => control('-d', `measured ${path} ${mode} ${count}`),
    });
    console.log(
      `${path} ${mode}: bus thread ${round.busUs.toFixed(2)} µs/message, process ${round.processUs.toFixed(2)}, rows ${round.rows}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
