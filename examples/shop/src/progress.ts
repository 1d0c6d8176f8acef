/**
 * The shop's live progress line, fitted to the terminal: the longest wording that fits in one row
 * (a line longer than the terminal wraps, and `\r` then rewrites only its last row, so the rows stack).
 *
 * @example
 * ```ts
 * process.stdout.write(`\r${progressLine(counts, process.stdout.columns)}\x1b[K`);
 * ```
 * @module
 */

/** The numbers the line shows. */
export interface ProgressCounts {
  readonly placed: number;
  readonly orders: number;
  readonly confirmed: number;
  readonly cancelled: number;
  readonly inFlight: number;
  readonly retries: number;
  readonly deadLetters: number;
  readonly killed?: string | undefined;
}

/** The progress line in at most `columns - 1` characters (the last column is left for the cursor). */
export function progressLine(c: ProgressCounts, columns: number | undefined): string {
  const width = Math.max(1, (columns ?? 80) - 1);
  const killed = c.killed === undefined ? [] : [`killed ${c.killed}`];
  const wordings = [
    [
      `placed ${c.placed}/${c.orders}`,
      `confirmed ${c.confirmed}`,
      `cancelled ${c.cancelled}`,
      `in flight ${c.inFlight}`,
      `retries ${c.retries}`,
      `dead letters ${c.deadLetters}`,
      ...killed,
    ].join(' · '),
    [
      `${c.placed}/${c.orders} placed`,
      `${c.confirmed} ok`,
      `${c.cancelled} cancelled`,
      `${c.inFlight} in flight`,
      `${c.retries} retries`,
      `${c.deadLetters} dead`,
      ...killed,
    ].join(' · '),
    [
      `${c.placed}/${c.orders}`,
      `ok ${c.confirmed}`,
      `cancel ${c.cancelled}`,
      `fly ${c.inFlight}`,
      `retry ${c.retries}`,
      `dead ${c.deadLetters}`,
      ...(c.killed === undefined ? [] : ['killed']),
    ].join(' '),
  ];
  return wordings.find((w) => w.length <= width) ?? wordings[wordings.length - 1]!.slice(0, width);
}
