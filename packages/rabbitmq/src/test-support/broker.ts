/**
 * What the RabbitMQ integration tests share: the broker's URL, the check that skips a test (with
 * the reason) when the broker is not there or fails it under `MISSIVE_REQUIRE_BROKERS=1`, and
 * cleanup steps that run after each test, last added first.
 *
 * @example
 * ```ts
 * const cleanup = cleanupAfterEach();
 * it('…', async (ctx) => {
 *   if (!(await needRabbitMq(ctx))) return;
 *   cleanup.push(() => transport.close());
 * });
 * ```
 * @module
 */
import { afterEach } from 'vitest';
import { brokersRequired } from '@missive/testing';
import { reachable } from './reachable.js';

/** The broker the tests use: `MISSIVE_RABBITMQ_URL`, else the local one. */
export const rabbitUrl = process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** True when the broker answers; otherwise skips the test with the reason, or throws when brokers are required. */
export async function needRabbitMq(ctx: { skip: (note?: string) => void }, url: string = rabbitUrl): Promise<boolean> {
  if (await reachable(url)) return true;
  return unavailable(ctx, `RabbitMQ not reachable at ${new URL(url).host}`);
}

/** Skips with `problem` (or throws it under `MISSIVE_REQUIRE_BROKERS=1`); always false. */
export function unavailable(ctx: { skip: (note?: string) => void }, problem: string): false {
  if (brokersRequired()) throw new Error(`${problem} (MISSIVE_REQUIRE_BROKERS=1)`);
  ctx.skip(`${problem}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
  return false;
}

/** Steps run after each test of the file, last added first; a failing step does not stop the others. */
export function cleanupAfterEach(): { push(step: () => Promise<unknown> | void): void } {
  const steps: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        /* cleanup goes on */
      }
    }
  });
  return { push: (step) => void steps.push(step) };
}
