/**
 * The figures of one fault scenario run (sent, confirmed, delivered, lost, duplicated, time,
 * memory), kept for `docs/RELIABILITY.md`: when `MISSIVE_FAULT_REPORT` names a file, each run
 * appends one JSON line to it.
 *
 * @example
 * ```ts
 * const meter = startMeter();
 * // ... run the scenario ...
 * recordScenario({ scenario: 'poison', transport: 'sqlite', check, ...meter.stop() });
 * ```
 * @module
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { QueueCheck } from './queue-checker.js';

let gcFunction: (() => void) | undefined;

/** Runs a full garbage collection (exposing `gc` once if node was started without `--expose-gc`). */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) gcFunction = exposed;
    else {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    }
  }
  gcFunction();
}

/** What a process holds that a leak would grow: heap (after a GC), file descriptors, handles, listeners. */
export interface ResourceSample {
  readonly heapMb: number;
  /** Open file descriptors (`/proc/self/fd`; -1 where there is none). */
  readonly fds: number;
  /** Active handles and requests (sockets, timers, ...: `process.getActiveResourcesInfo()`). */
  readonly handles: number;
  /** Listeners on `process`, all events. */
  readonly listeners: number;
}

/** Samples the process's resources after a GC. */
export function sampleResources(): ResourceSample {
  collectGarbage();
  let fds = -1;
  try {
    fds = readdirSync('/proc/self/fd').length;
  } catch {
    // not Linux: no count
  }
  return {
    heapMb: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10,
    fds,
    handles: process.getActiveResourcesInfo().length,
    listeners: process.eventNames().reduce((sum, name) => sum + process.listenerCount(name), 0),
  };
}

/** One row of the reliability table. */
export interface ScenarioFigures {
  readonly scenario: string;
  readonly transport: string;
  readonly sent: number;
  readonly confirmed: number;
  readonly delivered: number;
  readonly lost: number;
  readonly unexpected: number;
  /** Messages delivered more than once. */
  readonly duplicated: number;
  /** Side effects that ran more than once. */
  readonly duplicatedEffects: number;
  readonly timeMs: number;
  /** Heap growth over the run, MB (after a GC when exposed). */
  readonly heapMb: number;
  readonly rssMb: number;
  /** What else the scenario measured (recovery time, detection time, resource growth...). */
  readonly notes?: Readonly<Record<string, number | string>>;
}

/** Measures time and memory of a run. */
export function startMeter(): { stop(): { timeMs: number; heapMb: number; rssMb: number } } {
  collectGarbage();
  const start = performance.now();
  const heap = process.memoryUsage().heapUsed;
  return {
    stop() {
      collectGarbage();
      const usage = process.memoryUsage();
      return {
        timeMs: Math.round(performance.now() - start),
        heapMb: Math.round(((usage.heapUsed - heap) / 1048576) * 10) / 10,
        rssMb: Math.round((usage.rss / 1048576) * 10) / 10,
      };
    },
  };
}

/** The row for a check and its measurements; appended to `MISSIVE_FAULT_REPORT` when set. */
export function recordScenario(row: {
  scenario: string;
  transport: string;
  check: QueueCheck;
  timeMs: number;
  heapMb: number;
  rssMb: number;
  notes?: Readonly<Record<string, number | string>>;
}): ScenarioFigures {
  const { check } = row;
  const figures: ScenarioFigures = {
    scenario: row.scenario,
    transport: row.transport,
    sent: check.attempted,
    confirmed: check.confirmed,
    delivered: check.delivered,
    lost: check.lost.length,
    unexpected: check.unexpected.length,
    duplicated: check.duplicated.length,
    duplicatedEffects: check.duplicatedEffects.length,
    timeMs: row.timeMs,
    heapMb: row.heapMb,
    rssMb: row.rssMb,
    ...(row.notes === undefined ? {} : { notes: row.notes }),
  };
  const file = process.env.MISSIVE_FAULT_REPORT;
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify(figures)}\n`);
  return figures;
}
