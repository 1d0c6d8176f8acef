/**
 * Runs the built `missive` command for the CLI's end-to-end tests, and waits for conditions.
 *
 * @example
 * ```ts
 * const { code, out } = await runMissive('sqlite:///tmp/bus.db', ['queues', '--json']);
 * ```
 * @module
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWaiter, startProcess } from '@missive/testing';

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const missiveMain = join(repositoryRoot, 'packages', 'cli', 'dist', 'main.js');

/** Builds the command (and what it imports), so the tests run what users run. */
export function buildCli(): void {
  execFileSync(
    'npx',
    ['tsc', '-b', 'packages/cli', 'packages/rabbitmq', 'packages/redis', 'packages/sqlite', 'packages/postgres', 'packages/nats'],
    {
      cwd: repositoryRoot,
      stdio: 'ignore',
    },
  );
}

/** Runs `missive <args>` with `MISSIVE_URL=url`; its exit code, stdout lines joined, and stderr. */
export async function runMissive(
  url: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number | string; out: string; err: string }> {
  const child = startProcess(process.execPath, [missiveMain, ...args], { env: { MISSIVE_URL: url }, stdin: input });
  const code = await child.exited;
  return { code, out: child.lines.join('\n'), err: child.stderr() };
}

const waiter = createWaiter();

/** Waits (the harness's waiter, up to 20 s) until `condition`, which may be read asynchronously, holds. */
export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await waiter.eventually(
    async () => condition(),
    (holds) => holds,
    what,
  );
}
