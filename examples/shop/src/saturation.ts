/**
 * Whether the shop kept up with the rate it was given. While orders are placed, the monitor counts
 * the orders in flight (placed, not yet confirmed or cancelled) once a second. A shop that keeps up
 * holds that count about steady (rate × completion time); a saturated one completes fewer orders
 * per second than arrive, so the count keeps growing until the placing stops.
 *
 * @example
 * ```ts
 * saturation([10, 60, 110, 160], 50); // { saturated: true, from: 10, to: 160, … }
 * ```
 * @module
 */

/** The verdict, with the counts it rests on. */
export interface Saturation {
  readonly saturated: boolean;
  /** In flight at the first and the last sample. */
  readonly from: number;
  readonly to: number;
  /** Seconds the samples cover. */
  readonly seconds: number;
}

/**
 * Saturated when, over the second half of the placing, the orders in flight grew by at least half
 * a second's worth of orders and ended above two seconds' worth: the backlog kept growing.
 * `samples`: in flight, once a second while placing; `rate`: orders placed per second.
 */
export function saturation(samples: readonly number[], rate: number): Saturation {
  const from = samples[0] ?? 0;
  const to = samples.at(-1) ?? 0;
  const seconds = Math.max(0, samples.length - 1);
  if (samples.length < 2) return { saturated: false, from, to, seconds };
  const middle = samples[Math.floor((samples.length - 1) / 2)]!;
  return { saturated: to - middle >= rate / 2 && to >= 2 * rate, from, to, seconds };
}

/** The summary's line. */
export function saturationLine(verdict: Saturation, rate: number): string {
  return verdict.saturated
    ? `  saturated    yes: in flight kept growing while orders were placed (${verdict.from} → ${verdict.to} in ${verdict.seconds} s); the shop completes fewer than the ${rate} orders/s it was given`
    : `  saturated    no: in flight ${verdict.from} → ${verdict.to} while orders were placed; the shop kept up with ${rate} orders/s`;
}
