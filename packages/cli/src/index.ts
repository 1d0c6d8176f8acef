/**
 * `@missive/cli`: the `missive` command, and `runCli` to run it from code.
 *
 * @example
 * ```ts
 * import { runCli } from '@missive/cli';
 * process.exitCode = await runCli(['dlq', 'list', 'payment', '--url', 'sqlite://.missive/bus.db']);
 * ```
 * @module
 */
export { runCli, HELP, VERSION } from './cli.js';
export { ExitCode, UsageError } from './errors.js';
