/**
 * A child process for the SQLite event store race test: `appendIncrements` (from
 * `@missive/testing`) on one file, racing the other children, then prints the conflicts retried.
 * Arguments: path, count, name.
 */
import { appendIncrements } from '@missive/testing';
import { SqliteEventStore } from '../sqlite-event-store.js';

const [path, countText, who] = process.argv.slice(2) as [string, string, string];
const store = new SqliteEventStore({ path });
const conflicts = await appendIncrements(store, Number(countText), who);
await store.close();
process.stdout.write(`done ${who} conflicts=${conflicts}\n`);
