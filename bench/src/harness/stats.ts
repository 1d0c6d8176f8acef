/**
 * Summaries of measured samples: percentiles (nearest rank), median, min, max.
 *
 * @example
 * ```ts
 * percentile([3, 1, 2], 50); // 2
 * ```
 * @module
 */

/** The p-th percentile (0..100) by nearest rank; NaN for no samples. Sorts a copy. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return percentileOfSorted(sorted, p);
}

/** Like {@link percentile} on samples already sorted ascending. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Median, min and max of a list. */
export function spread(values: readonly number[]): { median: number; min: number; max: number } {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Latency summary in microseconds: p50, p99, max, count. */
export interface LatencySummary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

export function latencySummary(samplesUs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samplesUs).sort();
  return {
    p50: percentileOfSorted(sorted, 50),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    count: sorted.length,
  };
}

/** Keeps at most `limit` samples, evenly spaced (latency lists cross process boundaries). */
export function thin(samples: readonly number[], limit: number): number[] {
  if (samples.length <= limit) return [...samples];
  const out: number[] = [];
  const step = samples.length / limit;
  for (let i = 0; i < limit; i++) out.push(samples[Math.floor(i * step)]!);
  return out;
}
