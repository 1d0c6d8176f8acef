/**
 * `npm start -- --dashboard`: after the run, the dashboard on the shop's own bus and journal, so a
 * newcomer sees the orders they just placed: the services, the queues, any dead letters, and each
 * order's conversation (search an order id from the summary).
 */
import { join } from 'node:path';
import { silentLogger, systemClock } from '@missive/core';
import { loadTransport, parseTransportUrl } from '@missive/core/transport';
import { openJournalStore, startDashboard } from '@missive/dashboard';
import type { Launched } from './launcher.js';

/** Opens the dashboard on the launched shop; `close` ends it (not the services). */
export async function openDashboard(launched: Launched, port: number): Promise<{ readonly url: string; close(): Promise<void> }> {
  const transport = await loadTransport(parseTransportUrl(launched.url), { clock: systemClock, logger: silentLogger });
  await transport.connect();
  const journal = await openJournalStore(`sqlite://${join(launched.dataDir, 'journal.db')}`);
  const dashboard = await startDashboard({ transport, journal, port });
  return {
    url: dashboard.url,
    async close() {
      await dashboard.close();
      await journal.close();
      await transport.close();
    },
  };
}
