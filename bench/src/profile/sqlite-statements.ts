/**
 * A preload that times every better-sqlite3 statement a process runs: calls, CPU time
 * (`process.cpuUsage()` around each call, so it adds about a microsecond per call) and rows read,
 * per statement, written per message handled (one message = one ack `DELETE` by `seq`, Missive's or
 * the raw queue's) to `<dir>/statements-<pid>.txt` every half second and at exit. Load it in the
 * `sqlite` scenario's child processes with `NODE_OPTIONS`:
 *
 * ```sh
 * MISSIVE_STATEMENTS_DIR=/tmp/statements MISSIVE_SQLITE_SYNC=normal \
 *   NODE_OPTIONS="--import $PWD/bench/dist/profile/sqlite-statements.js" node bench/dist/run.js sqlite --rounds 1
 * ```
 *
 * The figures of "SQLite: schema 3 and the fetch" in docs/BENCHMARKS.md were read this way.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type DatabaseType from 'better-sqlite3';

type Method = 'run' | 'all' | 'get';
interface Tally {
  calls: number;
  cpuUs: number;
  rows: number;
}

const dir = process.env.MISSIVE_STATEMENTS_DIR ?? '/tmp/missive-statements';
mkdirSync(dir, { recursive: true });
const Database = createRequire(import.meta.url)('better-sqlite3') as typeof DatabaseType;
const probe = new Database(':memory:');
const prototype = Object.getPrototypeOf(probe.prepare('select 1')) as Record<Method, (...args: unknown[]) => unknown>;
probe.close();

const tallies = new Map<string, Tally>();
let acks = 0;
for (const method of ['run', 'all', 'get'] as const) {
  const original = prototype[method];
  prototype[method] = function timed(this: DatabaseType.Statement, ...args: unknown[]) {
    const key = `${method} ${this.source.replace(/\s+/g, ' ').slice(0, 60)}`;
    if (/^run delete from (missive_messages|queue) where seq = /.test(key)) acks++;
    const before = process.cpuUsage();
    const result = original.apply(this, args);
    const spent = process.cpuUsage(before);
    const tally = tallies.get(key) ?? { calls: 0, cpuUs: 0, rows: 0 };
    tally.calls++;
    tally.cpuUs += spent.user + spent.system;
    if (Array.isArray(result)) tally.rows += result.length;
    tallies.set(key, tally);
    return result;
  };
}

function write(): void {
  if (acks === 0) return;
  const lines = [...tallies]
    .sort((a, b) => b[1].cpuUs - a[1].cpuUs)
    .map(
      ([key, t]) =>
        `${(t.calls / acks).toFixed(3)} per message × ${(t.cpuUs / t.calls).toFixed(1)} µs = ${(t.cpuUs / acks).toFixed(2)} µs/message` +
        `${t.rows > 0 ? `, ${(t.rows / t.calls).toFixed(1)} rows per call` : ''}: ${key}`,
    );
  const total = [...tallies.values()].reduce((sum, t) => sum + t.cpuUs, 0);
  writeFileSync(
    join(dir, `statements-${process.pid}.txt`),
    [`${acks} messages acked; all statements ${(total / acks).toFixed(1)} µs/message`, ...lines].join('\n') + '\n',
  );
}

process.on('exit', write);
setInterval(write, 500).unref();
