/**
 * What the fault scenarios share: the child consumer process, sending with a bounded number of
 * publishes in flight, a consumer that records into a {@link QueueHistory}, and the verdict that
 * records a scenario's figures and fails the test when the history is not valid.
 *
 * @example
 * ```ts
 * const history = new QueueHistory();
 * const consumer = recordingConsumer(env, 'svc', endpoint, Job, history);
 * await sendAll(history, 100, 10, (n) => consumer.send(Job, { n }));
 * judge('my scenario', 'sqlite', history, meter);
 * ```
 * @module
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { z } from 'zod';
import type { Bus, CommandContract, Transport } from '@missive/core';
import { startProcess, type TestProcess } from '../processes.js';
import { range } from '../conformance/case.js';
import type { Environment } from '../conformance/environment.js';
import { recordScenario, type startMeter } from './fault-report.js';
import { checkQueue, describeCheck, type QueueCheck, type QueueHistory } from './queue-checker.js';

const childScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'conformance', 'child-consumer.ts');

/** The message of every scenario: a job number, and a key where order matters. */
export const Work = z.object({ n: z.number(), key: z.string().optional() });
export type WorkContract = CommandContract<string, typeof Work>;

/** A consumer process of the conformance suite's child script (see `child-consumer.ts` for `config`). */
export function child(env: Environment, config: Record<string, unknown>, url = env.fixture.url): TestProcess {
  if (url === undefined) throw new Error('the target declares processes but its fixture has no url');
  return startProcess(process.execPath, [
    '--import',
    'tsx',
    '--conditions=@missive/source',
    childScript,
    JSON.stringify({ url, ...config }),
  ]);
}

/** Adds what a finished child process printed to the history (`got` = delivered, `done` = effect, `sent` = confirmed). */
export function absorb(history: QueueHistory, lines: readonly string[]): void {
  for (const line of lines) {
    const [kind, n] = line.split(' ');
    if (kind === 'got') history.deliver(n!);
    else if (kind === 'done') history.effect(n!);
    else if (kind === 'sent') history.confirm(n!);
  }
}

/** Sends `count` jobs `first..first+count-1` with at most `parallel` publishes in flight, recording each. */
export async function sendAll(
  history: QueueHistory,
  count: number,
  parallel: number,
  send: (n: number) => Promise<unknown>,
  first = 0,
): Promise<void> {
  let next = first;
  const lane = async () => {
    while (next < first + count) {
      const n = next++;
      await history.publish(String(n), () => send(n));
    }
  };
  await Promise.all(range(Math.min(parallel, count)).map(lane));
}

/** A bus (on `transport`, else a new connection) whose endpoint records every delivery and effect of `contract`. */
export function recordingConsumer(
  env: Environment,
  service: string,
  endpoint: string,
  contract: WorkContract,
  history: QueueHistory,
  options: { concurrency?: number; prefetch?: number } = {},
  transport?: Transport,
): Bus {
  const bus = env.bus(service, {}, transport);
  bus.endpoint(
    endpoint,
    (e) =>
      e.on(contract, (m) => {
        history.deliver(String(m.n));
        history.effect(String(m.n));
      }),
    options,
  );
  return bus;
}

/** Checks the history, records the figures (with `notes`), and fails the test unless it is valid. */
export function judge(
  name: string,
  transport: string,
  history: QueueHistory,
  meter: ReturnType<typeof startMeter>,
  notes?: Record<string, number | string>,
): QueueCheck {
  const check = checkQueue(history);
  recordScenario({ scenario: name, transport, check, ...meter.stop(), notes });
  expect(check.valid, describeCheck(check)).toBe(true);
  return check;
}

/** Resolves after `ms` (a fault's schedule: how long an outage lasts; never a wait for a result). */
export function faultFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
