/** The bus every invoicing process uses: `MISSIVE_URL`, or SQLite in `.missive/invoicing/bus.db`. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { consoleLogger, createBus, type Bus } from '@missive/core';

export function invoicingBus(service: string): Bus {
  const dir = process.env.INVOICING_DATA_DIR ?? join(process.cwd(), '.missive', 'invoicing');
  mkdirSync(dir, { recursive: true });
  return createBus({ service, transport: process.env.MISSIVE_URL ?? `sqlite://${join(dir, 'bus.db')}`, logger: consoleLogger('error') });
}
