/**
 * `missive dashboard`: the web dashboard on this bus, on 127.0.0.1 by default, with a random
 * access token printed at start (or `--token`). Conversations need a journal: `--journal URL`
 * (`sqlite://path` or `postgres://…`, or `MISSIVE_JOURNAL`); for a SQLite bus, `journal.db` next to
 * the bus file is used when it exists. Runs until Ctrl-C.
 *
 * @example
 * ```sh
 * missive dashboard --url sqlite://.missive/bus.db --port 8080
 * ```
 * @module
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigurationError, type Transport } from '@missive/core';
import { openJournalStore, startDashboard, type JournalStore } from '@missive/dashboard';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';

/** Options of the command. */
export interface DashboardArgs {
  readonly url: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly journal: string | undefined;
  readonly traceUrl: string | undefined;
}

/** The journal to read: the option, MISSIVE_JOURNAL, or journal.db beside a SQLite bus file. */
export function journalUrlOf(args: DashboardArgs): string | undefined {
  const given = args.journal ?? process.env.MISSIVE_JOURNAL;
  if (given !== undefined && given !== '') return given;
  const bus = args.url ?? process.env.MISSIVE_URL ?? '';
  if (!bus.startsWith('sqlite://')) return undefined;
  const beside = join(dirname(bus.slice('sqlite://'.length)), 'journal.db');
  return existsSync(beside) ? `sqlite://${beside}` : undefined;
}

export async function dashboardCommand(transport: Transport, args: DashboardArgs, out: Output): Promise<void> {
  if (args.token !== undefined && args.token.length < 16) throw new UsageError('--token must have at least 16 characters');
  const journalUrl = journalUrlOf(args);
  let journal: JournalStore | undefined;
  if (journalUrl !== undefined) {
    try {
      journal = await openJournalStore(journalUrl);
    } catch (error) {
      // A journal URL that is not one (its message never holds the password) is the caller's mistake: exit 2.
      if (error instanceof ConfigurationError) throw new UsageError(`--journal: ${error.message}`);
      throw error;
    }
  }
  const dashboard = await startDashboard({
    transport,
    journal,
    host: args.host,
    port: args.port,
    token: args.token,
    traceUrl: args.traceUrl,
  });
  if (out.json) out.document({ url: dashboard.url, token: dashboard.token, journal: journalUrl !== undefined });
  else {
    out.line(`dashboard: ${dashboard.url}`);
    out.line(journalUrl === undefined ? 'no journal (conversations are off): pass --journal URL' : 'journal: on');
    out.line('Ctrl-C to stop');
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
  await journal?.close();
}
