/**
 * How conformance cases are written: `test(name, body, { needs })`. A case whose target lacks a
 * feature it needs is skipped with the reason; every case gets a fresh {@link Environment} and
 * its cleanup runs whatever the outcome.
 *
 * @example
 * ```ts
 * export function myCases(test: CaseRegistrar): void {
 *   test('does a thing', async (env) => { ... });
 * }
 * ```
 * @module
 */
import type { ConformanceFeatures, Environment } from './environment.js';

/** Options of one case. */
export interface CaseOptions {
  /** Features the target must declare, else the case is skipped naming the feature. */
  readonly needs?: readonly (keyof ConformanceFeatures)[];
  /** Overrides the per-case time limit, ms. */
  readonly timeoutMs?: number;
  /** A heavy case: skipped (saying so) unless `MISSIVE_CHAOS=1`, as `npm run chaos` sets. */
  readonly heavy?: boolean;
  /** A reason the case cannot run on this machine (no root to mount a tmpfs...), or undefined to run it. */
  readonly unavailable?: () => string | undefined;
}

/** Whether heavy cases run (`MISSIVE_CHAOS=1`, set by `npm run chaos`). */
export function chaosEnabled(): boolean {
  return process.env.MISSIVE_CHAOS === '1' || process.env.MISSIVE_CHAOS === 'true';
}

/** Registers one case. */
export type CaseRegistrar = (name: string, body: (env: Environment) => Promise<void>, options?: CaseOptions) => void;

/** A gate a handler can wait on until the test opens it. */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

/** Creates a closed gate. */
export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Numbers 0..n-1. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
