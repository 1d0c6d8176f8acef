/**
 * The check at the end of a run: every delivery ended (delivered, or failed with a reason), its
 * steps arrived in an unbroken sequence, history holds exactly those steps and the same final state
 * (read from the event store's projection and from the streams), drones that went silent were
 * detected and their deliveries reassigned, no drone was assigned while in maintenance and every
 * drone due for it went in (`maintenance-check.ts`), every malformed device message was rejected
 * visibly, and nothing was dead-lettered.
 */
import { consoleLogger, createBus } from '@missive/core';
import { GetDeliveryHistory, GetHistorySummary } from './contracts.js';
import type { Launched } from './launcher.js';
import { checkMaintenance } from './maintenance-check.js';
import type { Outcome } from './monitor.js';

/** What verify needs of the options. */
export interface VerifyOptions {
  readonly lose: number;
  readonly malformed: number;
  /** Deliveries between two services of a drone (0: none). */
  readonly maintenanceAfter: number;
}

/** The result of the check. */
export interface Report {
  readonly ok: boolean;
  readonly problems: string[];
  readonly deliveries: number;
  readonly delivered: number;
  readonly failed: number;
  readonly reassignedAfterLoss: number;
  readonly lostDetected: number;
  readonly rejectedDeviceMessages: number;
  readonly telemetryMessages: number;
  readonly killed: boolean;
  readonly mqttRestarted: boolean;
  readonly elapsedMs: number;
  /** Drones sent to maintenance, in all and after a fault. */
  readonly maintenance: number;
  readonly maintenanceAfterFaults: number;
  readonly text: string;
}

export async function verify(system: Launched, outcome: Outcome, options: VerifyOptions): Promise<Report> {
  const problems: string[] = [];
  const problem = (text: string) => void (problems.length < 20 && problems.push(text));
  if (outcome.timedOut) problem('timed out before every delivery ended and was archived');
  if (outcome.rejectedRequests > 0) problem(`${outcome.rejectedRequests} delivery requests were refused by the scheduler`);

  const bus = createBus({ service: 'drones-verify', transport: system.url, logger: consoleLogger('error') });
  await bus.start();
  let summary: Map<string, { status: string; events: number }>;
  try {
    const answer = await bus.request(GetHistorySummary, {}, { timeoutMs: 15_000 });
    summary = new Map(answer.deliveries.map((d) => [d.deliveryId, d]));
    let reassignedAfterLoss = 0;
    for (const [id, seen] of outcome.deliveries) {
      if (seen.final === undefined) {
        problem(`${id} never ended (last step ${[...seen.steps.values()].at(-1)?.status ?? 'none'})`);
        continue;
      }
      if (seen.final.status === 'failed' && (seen.final.reason ?? '') === '') problem(`${id} failed without a reason`);
      const n = seen.steps.size;
      const seqs = [...seen.steps.keys()].sort((a, b) => a - b);
      if (seqs.some((s, i) => s !== i + 1)) problem(`${id}: steps ${seqs.join(',')} have a gap`);
      if (seen.steps.get(n)?.status !== seen.final.status)
        problem(`${id}: last step is ${seen.steps.get(n)?.status ?? '?'}, final ${seen.final.status}`);
      const recorded = summary.get(id);
      if (recorded === undefined) problem(`${id}: not in history`);
      else if (recorded.status !== seen.final.status || recorded.events !== n)
        problem(`${id}: history says ${recorded.status} after ${recorded.events} events, the saga ${seen.final.status} after ${n}`);
      if (seen.archived?.status !== seen.final.status)
        problem(`${id}: archived as ${seen.archived?.status ?? 'nothing'}, ended ${seen.final.status}`);
      const lossReasons = [...seen.steps.values()].filter(
        (s) => s.status === 'reassigning' && /stopped reporting|no progress/.test(s.reason ?? ''),
      );
      if (lossReasons.length > 0) {
        reassignedAfterLoss++;
        // The stream itself, step by step, for the deliveries that were reassigned.
        const history = await bus.request(GetDeliveryHistory, { deliveryId: id }, { timeoutMs: 15_000 });
        const expected = seqs.map((s) => `${s}:${seen.steps.get(s)!.status}`).join(' ');
        const actual = history.events.map((e) => `${e.seq}:${e.type}`).join(' ');
        if (expected !== actual) problem(`${id}: history stream "${actual}" differs from the saga's steps "${expected}"`);
      }
    }
    const lost = outcome.fleet?.lost ?? 0;
    const rejected = outcome.fleet?.rejected ?? 0;
    const expectLosses = Math.min(options.lose, outcome.deliveries.size);
    if (lost < expectLosses) problem(`fleet detected ${lost} lost drones, ${expectLosses} went silent`);
    if (reassignedAfterLoss < expectLosses)
      problem(`${reassignedAfterLoss} deliveries reassigned after a drone was lost, expected ${expectLosses}`);
    if (rejected !== options.malformed) problem(`${rejected} malformed device messages rejected, ${options.malformed} sent`);
    const serviced = checkMaintenance(outcome.deliveries, outcome.maintenance, options.maintenanceAfter);
    for (const text of serviced.problems) problem(text);
    let dead = 0;
    for (const s of outcome.stats.values()) dead += s.deadLettered;
    if (dead > 0) problem(`${dead} messages dead-lettered`);

    const all = [...outcome.deliveries.values()];
    const delivered = all.filter((d) => d.final?.status === 'delivered').length;
    const failed = all.filter((d) => d.final?.status === 'failed').length;
    const ok = problems.length === 0;
    const lines = [
      '',
      `deliveries ${outcome.deliveries.size}: delivered ${delivered}, failed ${failed}; reassigned after a lost drone ${reassignedAfterLoss}`,
      `drones lost (detected by telemetry timeout) ${lost}; malformed device messages rejected ${rejected}`,
      `drones sent to maintenance ${serviced.started} (after a fault ${serviced.afterFaults}); none assigned while in maintenance`,
      `telemetry messages ${outcome.fleet?.telemetryTotal ?? 0}; ${(outcome.elapsedMs / 1000).toFixed(1)} s${outcome.killed ? '; delivery service SIGKILLed and restarted mid-run' : ''}${outcome.mqttRestarted ? '; Mosquitto restarted mid-run' : ''}`,
      ...problems.map((p) => `  problem: ${p}`),
      ok ? 'check: OK' : `check: FAILED (${problems.length} problem${problems.length === 1 ? '' : 's'}, first: ${problems[0]})`,
      '',
    ];
    return {
      ok,
      problems,
      deliveries: outcome.deliveries.size,
      delivered,
      failed,
      reassignedAfterLoss,
      lostDetected: lost,
      rejectedDeviceMessages: rejected,
      telemetryMessages: outcome.fleet?.telemetryTotal ?? 0,
      killed: outcome.killed,
      mqttRestarted: outcome.mqttRestarted,
      elapsedMs: outcome.elapsedMs,
      maintenance: serviced.started,
      maintenanceAfterFaults: serviced.afterFaults,
      text: lines.join('\n'),
    };
  } finally {
    await bus.stop();
  }
}
