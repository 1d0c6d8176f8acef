/**
 * The transport conformance suite: one set of cases every Missive transport must pass before it is
 * considered production ready. Cases run through the public bus API (and the raw transport where a
 * promise of the transport contract is tested directly). A target declares its features; a case
 * that needs a missing one is skipped with the reason, and a target whose broker is unreachable is
 * skipped with the reason, or fails when `MISSIVE_REQUIRE_BROKERS=1` (as in CI).
 *
 * @example
 * ```ts
 * import { describeTransportConformance } from '@missive/testing/vitest';
 * describeTransportConformance({
 *   name: 'sqlite',
 *   setup: () => ({ connect: () => new SqliteTransport({ path }) }),
 *   features: { processes: true },
 * });
 * ```
 * @module
 */
import { describe, it } from 'vitest';
import { chaosEnabled, type CaseOptions, type CaseRegistrar } from './case.js';
import { deliveryCases } from './cases-delivery.js';
import { routingCases } from './cases-routing.js';
import { failureCases } from './cases-failure.js';
import { orderingCases } from './cases-ordering.js';
import { processCases } from './cases-processes.js';
import { createEnvironment, DEFAULT_FEATURES, type ConformanceTarget, type Environment } from './environment.js';
import { ownershipCases } from './cases-ownership.js';
import { tracingCases } from './cases-tracing.js';

import { brokersRequired } from '../brokers-required.js';

export { brokersRequired };

/** Registers the suite for `target` with vitest. */
export function describeTransportConformance(target: ConformanceTarget): void {
  describe(`transport conformance: ${target.name}`, () => {
    const test = caseRegistrar(target);
    deliveryCases(test);
    routingCases(test);
    failureCases(test);
    orderingCases(test);
    processCases(test);
    ownershipCases(test);
    tracingCases(test);
  });
}

/**
 * The registrar cases of a suite use for `target` (inside a `describe`): each case gets a fresh
 * environment, skips with the reason when the broker is unreachable or a needed feature is not
 * declared, and cleans up whatever the outcome.
 */
export function caseRegistrar(target: ConformanceTarget): CaseRegistrar {
  {
    let unavailable: string | undefined;
    let checked = false;
    const check = async () => {
      if (checked) return;
      checked = true;
      unavailable = await target.unavailable?.();
      if (unavailable !== undefined && brokersRequired()) {
        throw new Error(`${unavailable} (MISSIVE_REQUIRE_BROKERS=1 makes this a failure)`);
      }
    };
    const test: CaseRegistrar = (name: string, body: (env: Environment) => Promise<void>, options: CaseOptions = {}) => {
      it(
        name,
        async (ctx) => {
          await check();
          if (unavailable !== undefined) {
            ctx.skip(`${unavailable}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
            return;
          }
          if (options.heavy === true && !chaosEnabled()) {
            ctx.skip('heavy scenario: runs under `npm run chaos` (MISSIVE_CHAOS=1)');
            return;
          }
          const cannot = options.unavailable?.();
          if (cannot !== undefined) {
            if (brokersRequired()) throw new Error(`${cannot} (MISSIVE_REQUIRE_BROKERS=1 makes this a failure)`);
            ctx.skip(cannot);
            return;
          }
          const declared = { ...DEFAULT_FEATURES, ...target.features };
          const missing = (options.needs ?? []).filter((feature) => !declared[feature]);
          if (missing.length > 0) {
            ctx.skip(`the ${target.name} target does not declare ${missing.join(', ')}`);
            return;
          }
          // A case given more time than usual (a heavy one) may wait longer for each condition.
          const env = await createEnvironment(target, { waitTimeoutMs: Math.max(20_000, (options.timeoutMs ?? 30_000) - 10_000) });
          try {
            await body(env);
          } finally {
            await env.cleanup();
          }
        },
        options.timeoutMs ?? 30_000,
      );
    };
    return test;
  }
}
