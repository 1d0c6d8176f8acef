/**
 * The summary of a shop run and its check: every placed order reached a final state (none lost or
 * stuck), no order was charged twice, no cancelled order kept a charge, and the stock adds up.
 * The facts come from the services' own databases, not from the bus.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { redactUrl } from '@missive/core';
import type { Launched } from './launcher.js';
import type { Outcome } from './monitor.js';
import { saturation, saturationLine, type Saturation } from './saturation.js';

/** What verify needs of the run's options. */
export interface VerifyOptions {
  readonly stock: number;
  readonly paymentInstances: number;
  /** Orders placed per second. */
  readonly rate: number;
}

/** The report. */
export interface Report {
  readonly ok: boolean;
  readonly text: string;
  readonly orders: number;
  readonly confirmed: number;
  readonly cancelled: number;
  readonly lostOrStuck: string[];
  readonly doubleCharged: string[];
  readonly chargedButCancelled: string[];
  readonly stockProblems: string[];
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  /** Whether in flight kept growing while orders were placed (see `saturation.ts`). */
  readonly saturation: Saturation;
  /** Seconds from the first order placed to the last one final. */
  readonly elapsedS: number;
  readonly retries: number;
  readonly deadLetters: number;
  readonly cancelReasons: Record<string, number>;
  /** The trace id of a sample order, when the run exported traces (`--otlp`). */
  readonly sampleTraceId?: string | undefined;
}

interface Facts {
  readonly doubleCharged: string[];
  readonly chargedButCancelled: string[];
  readonly stockProblems: string[];
  readonly problems: number;
}

function readFacts(shop: Launched, outcome: Outcome, options: VerifyOptions): Facts {
  const payments = new Database(join(shop.dataDir, 'payment.db'), { readonly: true });
  const inventory = new Database(join(shop.dataDir, 'inventory.db'), { readonly: true });
  const stockProblems: string[] = [];
  try {
    const doubleCharged = (
      payments.prepare('select order_id from charges group by order_id having count(*) > 1').all() as { order_id: string }[]
    ).map((r) => r.order_id);
    const charged = new Set((payments.prepare('select order_id from charges').all() as { order_id: string }[]).map((r) => r.order_id));
    const refunded = new Set((payments.prepare('select order_id from refunds').all() as { order_id: string }[]).map((r) => r.order_id));
    const chargedButCancelled = [...charged].filter((id) => outcome.final.get(id)?.status === 'cancelled' && !refunded.has(id));
    for (const id of refunded) if (outcome.final.get(id)?.status === 'confirmed') stockProblems.push(`confirmed order ${id} was refunded`);
    for (const [id, f] of outcome.final)
      if (f.status === 'confirmed' && !charged.has(id)) stockProblems.push(`order ${id} confirmed without a charge`);
    const reserved = new Map(
      (inventory.prepare('select sku, sum(qty) qty from reservations group by sku').all() as { sku: string; qty: number }[]).map((r) => [
        r.sku,
        r.qty,
      ]),
    );
    for (const row of inventory.prepare('select sku, available from stock').all() as { sku: string; available: number }[]) {
      const initial = row.sku === 'limited' ? Number(process.env.SHOP_LIMITED_STOCK ?? 10) : options.stock;
      const held = reserved.get(row.sku) ?? 0;
      if (row.available + held !== initial) stockProblems.push(`${row.sku}: ${row.available} available + ${held} reserved ≠ ${initial}`);
    }
    for (const r of inventory.prepare('select order_id from reservations').all() as { order_id: string }[]) {
      if (outcome.final.get(r.order_id)?.status === 'cancelled') stockProblems.push(`cancelled order ${r.order_id} still holds stock`);
    }
    return {
      doubleCharged,
      chargedButCancelled,
      stockProblems,
      problems: doubleCharged.length + chargedButCancelled.length + stockProblems.length,
    };
  } finally {
    payments.close();
    inventory.close();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function verify(shop: Launched, outcome: Outcome, options: VerifyOptions): Promise<Report> {
  const lostOrStuck = [...outcome.placed.keys()].filter((id) => !outcome.final.has(id));
  // Compensations (refunds, stock releases) land after the saga finished: the shop is eventually
  // consistent, so the check waits for it to settle, up to a limit, before it judges.
  let facts = readFacts(shop, outcome, options);
  const settleBy = Date.now() + 15_000;
  while (facts.problems > 0 && Date.now() < settleBy) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    facts = readFacts(shop, outcome, options);
  }
  const { doubleCharged, chargedButCancelled, stockProblems } = facts;
  const latencies = [...outcome.final.values()].map((f) => f.latencyMs).sort((a, b) => a - b);
  const confirmed = [...outcome.final.values()].filter((f) => f.status === 'confirmed').length;
  const cancelReasons: Record<string, number> = {};
  for (const f of outcome.final.values()) {
    if (f.status !== 'cancelled') continue;
    const reason = (f.reason ?? 'unknown').replace(/:.*/, '');
    cancelReasons[reason] = (cancelReasons[reason] ?? 0) + 1;
  }
  let retries = 0;
  let deadLetters = 0;
  for (const s of outcome.stats.values()) {
    retries += s.retried + s.redelivered;
    deadLetters += s.deadLettered;
  }
  const ok =
    lostOrStuck.length === 0 &&
    doubleCharged.length === 0 &&
    chargedButCancelled.length === 0 &&
    stockProblems.length === 0 &&
    outcome.rejected === 0;
  const problems = [
    lostOrStuck.length > 0 ? `${lostOrStuck.length} order(s) lost or stuck (${lostOrStuck.slice(0, 3).join(', ')})` : '',
    outcome.rejected > 0
      ? `${outcome.rejected} order(s) refused by the gateway (${[...outcome.rejections].map(([reason, n]) => `${n}× ${reason}`).join('; ')})`
      : '',
    doubleCharged.length > 0 ? `${doubleCharged.length} double charge(s)` : '',
    chargedButCancelled.length > 0 ? `${chargedButCancelled.length} cancelled order(s) charged` : '',
    ...stockProblems.slice(0, 3),
  ].filter((p) => p !== '');
  const saturated = saturation(outcome.inFlightSamples, options.rate);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const reasons = Object.entries(cancelReasons)
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const text = [
    '',
    `Missive shop: ${outcome.placed.size} orders in ${(outcome.elapsedMs / 1000).toFixed(1)} s on ${redactUrl(shop.url)}, ${options.paymentInstances} payment instances${outcome.killed === undefined ? '' : ` (${outcome.killed} killed with SIGKILL mid-run)`}`,
    `  confirmed    ${confirmed}`,
    `  cancelled    ${outcome.final.size - confirmed}${reasons === '' ? '' : ` (${reasons})`}`,
    `  retries      ${retries}    dead letters ${deadLetters}`,
    `  completion   p50 ${p50} ms   p99 ${p99} ms   (order placed → confirmed or cancelled)`,
    saturationLine(saturated, options.rate),
    ...(outcome.sampleTraceId === undefined
      ? []
      : [`  trace        ${outcome.sampleTraceId}   (the first order, in your tracing backend)`]),
    ok
      ? `check: OK: all ${outcome.placed.size} orders reached a final state; none lost or stuck; no double charge; stock consistent`
      : `check: FAILED: ${problems.join('; ')}`,
    '',
  ].join('\n');
  return {
    ok,
    text,
    orders: outcome.placed.size,
    confirmed,
    cancelled: outcome.final.size - confirmed,
    lostOrStuck,
    doubleCharged,
    chargedButCancelled,
    stockProblems,
    latencyMs: { p50, p99 },
    saturation: saturated,
    elapsedS: outcome.elapsedMs / 1000,
    retries,
    deadLetters,
    cancelReasons,
    sampleTraceId: outcome.sampleTraceId,
  };
}
