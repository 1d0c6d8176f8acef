/**
 * A child process for the PostgreSQL event store race test: appends `count` increments to one
 * counter aggregate through `execute` (load → decide → append at the loaded version, again on a
 * conflict), racing the other children on the same schema, then prints how many conflicts it retried.
 * Arguments: connection string, schema, count, name.
 */
import { ConcurrencyError, defineAggregate, type EventStore } from '@missive/eventsourcing';
import { PostgresEventStore } from '../pg-event-store.js';

const [connectionString, schema, countText, who] = process.argv.slice(2) as [string, string, string, string];
const store = new PostgresEventStore({ connectionString, schema });
let conflicts = 0;
const counting: EventStore = Object.assign(Object.create(store) as EventStore, {
  async append(...args: Parameters<EventStore['append']>) {
    try {
      return await store.append(...args);
    } catch (error) {
      if (error instanceof ConcurrencyError) conflicts++;
      throw error;
    }
  },
});
const Counter = defineAggregate<{ n: number }, { incremented: { by: string; n: number } }, { by: string }>({
  name: 'counter',
  initial: () => ({ n: 0 }),
  apply: (s, e) => ({ n: e.data.n }),
  decide: (s, c) => [{ type: 'incremented', data: { by: c.by, n: s.n + 1 } }],
});
for (let i = 0; i < Number(countText); i++) await Counter.execute(counting, 'shared', { by: who }, { attempts: 1000 });
await store.close();
process.stdout.write(`done ${who} conflicts=${conflicts}\n`);
