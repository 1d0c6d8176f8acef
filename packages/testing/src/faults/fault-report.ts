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
import { appendFileSync } from 'node:fs';
import type { QueueCheck } from './queue-checker.js';

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
}

/** Measures time and memory of a run. */
export function startMeter(): { stop(): { timeMs: number; heapMb: number; rssMb: number } } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const start = performance.now();
  const heap = process.memoryUsage().heapUsed;
  return {
    stop() {
      gc?.();
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
export function recordScenario(row: { scenario: string; transport: string; check: QueueCheck; timeMs: number; heapMb: number; rssMb: number }): ScenarioFigures {
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
  };
  const file = process.env.MISSIVE_FAULT_REPORT;
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify(figures)}\n`);
  return figures;
}
