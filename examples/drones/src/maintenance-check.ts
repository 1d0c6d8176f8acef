/**
 * The maintenance part of the end-of-run check: no drone was assigned a delivery while in
 * maintenance, and every drone that completed `maintenanceAfter` deliveries went into maintenance.
 * Times are the services' own clocks (one machine): an assignment carries the saga's time, a
 * maintenance change fleet management's.
 *
 * @example
 * ```ts
 * const result = checkMaintenance(outcome.deliveries, outcome.maintenance, 5);
 * problems.push(...result.problems);
 * ```
 * @module
 */
import type { Maintenance, Seen } from './monitor.js';

/** What the check found. */
export interface MaintenanceCheck {
  /** Services started, in all. */
  readonly started: number;
  /** Of them, after a fault (not after N deliveries). */
  readonly afterFaults: number;
  readonly problems: string[];
}

/** Checks the run's assignments against the announced maintenance (`after` 0: no routine service). */
export function checkMaintenance(deliveries: ReadonlyMap<string, Seen>, changes: readonly Maintenance[], after: number): MaintenanceCheck {
  const problems: string[] = [];
  // Each drone's services as [from, to) intervals; one still open at the end lasts forever.
  const intervals = new Map<string, { from: number; to: number; reason: string }[]>();
  for (const change of [...changes].sort((a, b) => a.at - b.at)) {
    const list = intervals.get(change.droneId) ?? [];
    intervals.set(change.droneId, list);
    const open = list.at(-1);
    if (change.phase === 'started') {
      if (open !== undefined && open.to === Number.POSITIVE_INFINITY)
        problems.push(`${change.droneId}: maintenance started twice without ending`);
      list.push({ from: change.at, to: Number.POSITIVE_INFINITY, reason: change.reason });
    } else if (open === undefined || open.to !== Number.POSITIVE_INFINITY)
      problems.push(`${change.droneId}: maintenance ended without starting`);
    else open.to = change.at;
  }
  const delivered = new Map<string, number>();
  for (const [id, seen] of deliveries) {
    for (const step of seen.steps.values()) {
      if (step.droneId === undefined) continue;
      if (step.status === 'delivered') delivered.set(step.droneId, (delivered.get(step.droneId) ?? 0) + 1);
      if (step.status !== 'assigned') continue;
      const during = intervals.get(step.droneId)?.find((i) => step.at >= i.from && step.at < i.to);
      if (during !== undefined) problems.push(`${id}: assigned to ${step.droneId} while it was in maintenance (${during.reason})`);
    }
  }
  if (after > 0) {
    for (const [droneId, count] of delivered) {
      if (count >= after && !(intervals.get(droneId) ?? []).some((i) => i.reason.startsWith('after ')))
        problems.push(`${droneId} made ${count} deliveries and never went into maintenance (due after ${after})`);
    }
  }
  const all = [...intervals.values()].flat();
  return { started: all.length, afterFaults: all.filter((i) => i.reason.startsWith('fault')).length, problems };
}
