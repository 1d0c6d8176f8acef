/**
 * Markdown tables: one row per system, the measured spread of throughput over rounds, latency
 * percentiles at the fixed rate, peak RSS, and Missive's ratio to each row.
 *
 * @example
 * ```ts
 * console.log(comparisonTable(rows, 'Missive (memory)'));
 * ```
 * @module
 */
import { latencySummary, spread } from './stats.js';

export interface Row {
  readonly label: string;
  /** msg/s, one per round. */
  readonly throughput: number[];
  /** Publish-to-handler latency samples, µs, pooled over rounds. */
  readonly latencies: number[];
  /** Peak RSS per process role, bytes (max over rounds). */
  readonly rss: Record<string, number>;
  /** CPU time per message of each process role (user + system, µs), one per round (broker rounds only). */
  readonly cpu: Record<string, number[]>;
  /** Why the row has no figures, when it has none. */
  readonly error?: string | undefined;
  readonly note?: string | undefined;
}

export function newRow(label: string, note?: string): Row {
  return { label, throughput: [], latencies: [], rss: {}, cpu: {}, note };
}

export function recordRss(row: Row, role: string, bytes: number): void {
  if (!Number.isFinite(bytes)) return;
  row.rss[role] = Math.max(row.rss[role] ?? 0, bytes);
}

export function recordCpu(row: Row, role: string, usPerMessage: number): void {
  if (!Number.isFinite(usPerMessage)) return;
  (row.cpu[role] ??= []).push(usPerMessage);
}

export const fmtRate = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const fmtMs = (us: number): string =>
  Number.isFinite(us) ? (us / 1000 < 1 ? (us / 1000).toFixed(3) : (us / 1000).toFixed(2)) : '–';
export const fmtMb = (bytes: number): string => (Number.isFinite(bytes) && bytes > 0 ? (bytes / 2 ** 20).toFixed(0) : '–');
const fmtRatio = (r: number): string => (Number.isFinite(r) && r > 0 ? `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×` : '–');

/**
 * The comparison table. `missive` names the row the ratios are taken from: "msg/s ratio" is Missive's
 * median throughput over the row's (below 1: Missive is slower), "p50 ratio" is Missive's p50 latency
 * over the row's (above 1: Missive is slower).
 */
export function comparisonTable(rows: readonly Row[], missive: string, options: { readonly rate?: string } = {}): string {
  const m = rows.find((r) => r.label === missive);
  const mThroughput = m === undefined ? Number.NaN : spread(m.throughput).median;
  const mLatency = m === undefined ? Number.NaN : latencySummary(m.latencies).p50;
  const withCpu = rows.some((r) => Object.keys(r.cpu).length > 0);
  const out = [
    `| system | msg/s median | min | max | p50 ms${options.rate === undefined ? '' : ` @ ${options.rate}`} | p99 ms | peak RSS MB |${withCpu ? ' CPU µs/msg, median (min–max) |' : ''} Missive ÷ this, msg/s | Missive ÷ this, p50 |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |${withCpu ? ' ---: |' : ''} ---: | ---: |`,
  ];
  for (const row of rows) {
    if (row.error !== undefined && row.throughput.length === 0) {
      out.push(`| ${row.label} | ${row.error.replace(/\|/g, '/').replace(/\n/g, ' ')} | | | | | | |${withCpu ? ' |' : ''} |`);
      continue;
    }
    const t = spread(row.throughput);
    const l = latencySummary(row.latencies);
    const rss = Object.entries(row.rss)
      .map(([role, bytes]) => (Object.keys(row.rss).length === 1 ? fmtMb(bytes) : `${role} ${fmtMb(bytes)}`))
      .join(', ');
    const cpu = Object.entries(row.cpu)
      .map(([role, values]) => {
        const s = spread(values);
        return `${role} ${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
      })
      .join(', ');
    const self = row.label === missive;
    out.push(
      `| ${row.label} | ${fmtRate(t.median)} | ${fmtRate(t.min)} | ${fmtRate(t.max)} | ${fmtMs(l.p50)} | ${fmtMs(l.p99)} | ${rss || '–'} |${withCpu ? ` ${cpu || '–'} |` : ''} ${self ? '1' : fmtRatio(mThroughput / t.median)} | ${self ? '1' : fmtRatio(mLatency / l.p50)} |`,
    );
  }
  const notes = rows.filter((r) => r.note !== undefined || (r.error !== undefined && r.throughput.length > 0));
  for (const r of notes)
    out.push(
      '',
      `- ${r.label}: ${[r.note, r.error === undefined || r.throughput.length === 0 ? undefined : `some rounds failed: ${r.error}`].filter(Boolean).join('; ')}`,
    );
  return out.join('\n');
}
