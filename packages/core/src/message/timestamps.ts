/**
 * RFC 3339 timestamps (what `Date.prototype.toISOString` writes) for a stream of times that mostly
 * fall in the same second, as the times of messages sent one after another do. `toISOString` costs
 * about as much as the rest of building an envelope; here it runs once per second of the stream and
 * each time within that second only appends its milliseconds; a time in the same millisecond as the
 * last one gets the same string back.
 *
 * @example
 * ```ts
 * const timestamps = new Timestamps();
 * timestamps.format(Date.UTC(2026, 0, 2, 3, 4, 5, 6)); // '2026-01-02T03:04:05.006Z'
 * ```
 * @module
 */

/** Formats epoch milliseconds like `new Date(ms).toISOString()`, remembering the last second and millisecond. */
export class Timestamps {
  private second = Number.NaN;
  /** `YYYY-MM-DDTHH:mm:ss.` of `second`. */
  private prefix = '';
  /** The last time formatted by the fast path, and its string. */
  private lastMs = Number.NaN;
  private last = '';

  /** The same string as `new Date(ms).toISOString()`, and the same `RangeError` for an invalid time. */
  format(ms: number): string {
    if (ms === this.lastMs) return this.last; // messages sent in the same millisecond
    // Fractional, negative and far-off times keep the plain path: their rounding and year format differ.
    if (!Number.isSafeInteger(ms) || ms < 0) return new Date(ms).toISOString();
    const milli = ms % 1000;
    const second = ms - milli;
    if (second !== this.second) {
      const iso = new Date(second).toISOString();
      if (iso.length !== 24) return new Date(ms).toISOString();
      this.second = second;
      this.prefix = iso.slice(0, 20);
    }
    this.lastMs = ms;
    this.last = `${this.prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
    return this.last;
  }
}
