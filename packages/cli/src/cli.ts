/**
 * The `missive` command: parses arguments, opens the transport, runs a command, and turns every
 * failure into a message on stderr and an exit code (2 for usage errors, 1 otherwise). Credentials
 * never reach the output: URLs are redacted by core before any message is built.
 *
 * @example
 * ```ts
 * const code = await runCli(['queues', '--url', 'sqlite://.missive/bus.db']);
 * ```
 * @module
 */
import { parseArgs } from 'node:util';
import type { Transport } from '@missive/core';
import { commandsCommand } from './commands/commands.js';
import { dashboardCommand } from './commands/dashboard.js';
import { asyncApiCommand, CATALOG_WAIT_MS, servicesCommand } from './commands/services.js';
import { dlqCommand } from './commands/dlq.js';
import { publishCommand } from './commands/publish.js';
import { deleteQueueCommand, queuesCommand, STALE_AFTER_S } from './commands/queues.js';
import { tailCommand } from './commands/tail.js';
import { openTransport } from './connect.js';
import { ExitCode, UsageError } from './errors.js';
import { createOutput, printable } from './output.js';

export const VERSION = '0.1.0';

export const HELP = `missive: inspect and operate a Missive bus

usage: missive <command> [options] [--url URL | MISSIVE_URL=URL] [--json]

commands:
  queues [--stale-after SECONDS]         queues with depth, in flight, dead letters, consumers, the commands
                                         each owns, topics; flags a queue with messages and no consumer
                                         for SECONDS (default ${STALE_AFTER_S})
  queues delete <name> --yes             deletes a queue (a leftover endpoint): its messages, dead
                                         letters and the command types it owns
  commands                               which endpoint owns each command and query type, and other
                                         queues bound to it (taps, or leftovers that receive copies)
  dlq list <endpoint> [--limit N] [--offset N]
  dlq show <endpoint> <id>               a dead letter: failure and decoded envelope
  dlq replay <endpoint> (<id>... | --all | --reason CODE | --type TYPE)
  dlq purge <endpoint> (<id>... | --all --yes | --reason CODE | --type TYPE)
  publish <type> [json] [--kind event|command] [--to QUEUE] [--correlation-id ID] [--partition-key KEY]
                                         payload from the argument or stdin; not validated here
                                         (the consumer validates and dead-letters a bad payload)
  tail <pattern>... [--count N]          watch messages of topics live ('*' one word, '#' any)
  services [--wait MS]                   live services (buses that run announce() from @missive/dashboard)
                                         and who sends and who handles each contract; listens MS
                                         (default ${CATALOG_WAIT_MS}) for their answers
  asyncapi [--service NAME] [--title T] [--out FILE] [--wait MS]
                                         AsyncAPI 3 document of the catalog, or of one service
  dashboard [--host 127.0.0.1] [--port N] [--token T] [--journal URL] [--trace-url URL]
                                         the web dashboard; prints its URL with a random access token
  help, --help; --version

exit codes: 0 ok, 1 failure, 2 usage error (bad arguments, URL, JSON, unknown queue)
`;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
  limit: { type: 'string' },
  offset: { type: 'string' },
  all: { type: 'boolean', default: false },
  yes: { type: 'boolean', default: false },
  reason: { type: 'string' },
  type: { type: 'string' },
  kind: { type: 'string', default: 'event' },
  to: { type: 'string' },
  'correlation-id': { type: 'string' },
  'partition-key': { type: 'string' },
  count: { type: 'string' },
  'stale-after': { type: 'string' },
  wait: { type: 'string' },
  service: { type: 'string' },
  title: { type: 'string' },
  out: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string' },
  token: { type: 'string' },
  journal: { type: 'string' },
  'trace-url': { type: 'string' },
} as const;

function wholeNumber(value: string | undefined, name: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

/** Runs the CLI; resolves with the exit code. */
export async function runCli(
  argv: readonly string[],
  write: { out: (t: string) => void; err: (t: string) => void } = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  },
): Promise<number> {
  let transport: Transport | undefined;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, ...rest] = positionals;
    if (values.version) {
      write.out(`${VERSION}\n`);
      return ExitCode.Ok;
    }
    if (values.help || command === undefined || command === 'help') {
      write.out(HELP);
      return command === undefined && !values.help ? ExitCode.Usage : ExitCode.Ok;
    }
    const out = createOutput(values.json, write.out);
    if (!['queues', 'commands', 'dlq', 'publish', 'tail', 'services', 'asyncapi', 'dashboard'].includes(command))
      throw new UsageError(`unknown command "${command}"; \`missive help\` lists them`);
    if (command === 'dlq' && !['list', 'show', 'replay', 'purge'].includes(rest[0] ?? ''))
      throw new UsageError('dlq needs an action: list, show, replay or purge');
    transport = await openTransport(values.url);
    switch (command) {
      case 'queues':
        if (rest[0] === 'delete') {
          await deleteQueueCommand(transport, { name: rest[1], yes: values.yes }, out);
          break;
        }
        if (rest.length > 0) throw new UsageError(`unknown queues action "${rest[0]}"; only delete`);
        await queuesCommand(transport, { staleAfterS: wholeNumber(values['stale-after'], 'stale-after', STALE_AFTER_S)! }, out);
        break;
      case 'commands':
        await commandsCommand(transport, out);
        break;
      case 'dlq':
        await dlqCommand(
          transport,
          {
            action: rest[0]!,
            endpoint: rest[1],
            ids: rest.slice(2),
            all: values.all,
            reason: values.reason,
            type: values.type,
            yes: values.yes,
            limit: wholeNumber(values.limit, 'limit', 50)!,
            offset: wholeNumber(values.offset, 'offset', 0)!,
          },
          out,
        );
        break;
      case 'publish':
        await publishCommand(
          transport,
          {
            type: rest[0],
            json: rest[1],
            kind: values.kind,
            to: values.to,
            correlationId: values['correlation-id'],
            partitionKey: values['partition-key'],
          },
          out,
        );
        break;
      case 'tail':
        await tailCommand(transport, rest, wholeNumber(values.count, 'count', undefined), out);
        break;
      case 'services':
        await servicesCommand(transport, { waitMs: wholeNumber(values.wait, 'wait', CATALOG_WAIT_MS)! }, out);
        break;
      case 'asyncapi':
        await asyncApiCommand(
          transport,
          { waitMs: wholeNumber(values.wait, 'wait', CATALOG_WAIT_MS)!, service: values.service, title: values.title, out: values.out },
          out,
        );
        break;
      case 'dashboard':
        await dashboardCommand(
          transport,
          {
            url: values.url,
            host: values.host,
            port: wholeNumber(values.port, 'port', 0)!,
            token: values.token,
            journal: values.journal,
            traceUrl: values['trace-url'],
          },
          out,
        );
        break;
    }
    return ExitCode.Ok;
  } catch (error) {
    const usage = error instanceof UsageError;
    const code = usage ? ExitCode.Usage : ExitCode.Failure;
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    // With --json, the error is a JSON document too (on stderr), so scripts parse one format.
    // printable: a broker's or a message's text in an error reaches the terminal without its controls.
    if (argv.includes('--json')) write.err(`${printable(JSON.stringify({ error: { name, message, exitCode: code } }))}\n`);
    else write.err(`missive: ${printable(`${usage ? '' : `${name}: `}${message}`)}\n`);
    return code;
  } finally {
    await transport?.close().catch(() => undefined);
  }
}
