/**
 * A child process for the PostgreSQL event store race test: `appendIncrements` (from
 * `@missive/testing`) on one schema, racing the other children, then prints the conflicts retried.
 * Arguments: connection string, schema, count, name.
 */
import { appendIncrements } from '@missive/testing';
import { PostgresEventStore } from '../pg-event-store.js';

const [connectionString, schema, countText, who] = process.argv.slice(2) as [string, string, string, string];
const store = new PostgresEventStore({ connectionString, schema });
const conflicts = await appendIncrements(store, Number(countText), who);
await store.close();
process.stdout.write(`done ${who} conflicts=${conflicts}\n`);
