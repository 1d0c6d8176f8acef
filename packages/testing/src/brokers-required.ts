/**
 * Whether broker tests must fail, rather than skip, when their broker is unreachable: CI sets
 * `MISSIVE_REQUIRE_BROKERS=1`. Free of any test runner, so node:test and jest suites use it too.
 *
 * @example
 * ```ts
 * if (!(await reachable()) && !brokersRequired()) skip('RabbitMQ is not running');
 * ```
 * @module
 */

/** True when `MISSIVE_REQUIRE_BROKERS` is `1` or `true`: an unreachable broker is then a failure. */
export function brokersRequired(): boolean {
  return process.env.MISSIVE_REQUIRE_BROKERS === '1' || process.env.MISSIVE_REQUIRE_BROKERS === 'true';
}
