/**
 * The body of an event store race test's child process: appends `count` increments to one counter
 * aggregate through `execute` (load → decide → append at the loaded version, again on a conflict),
 * racing other processes on the same store, and returns how many conflicts it retried. Each store
 * package's child script opens its store and calls this (no vitest: it runs in a plain process).
 *
 * @example
 * ```ts
 * const conflicts = await appendIncrements(new SqliteEventStore({ path }), 20, 'a');
 * ```
 * @module
 */
import { ConcurrencyError, defineAggregate, type EventStore } from '@missive/eventsourcing';

const Counter = defineAggregate<{ n: number }, { incremented: { by: string; n: number } }, { by: string }>({
  name: 'counter',
  initial: () => ({ n: 0 }),
  apply: (_s, e) => ({ n: e.data.n }),
  decide: (s, c) => [{ type: 'incremented', data: { by: c.by, n: s.n + 1 } }],
});

/** Appends `count` increments to the counter `shared` on `store` as `who`; resolves to the conflicts retried. */
export async function appendIncrements(store: EventStore, count: number, who: string): Promise<number> {
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
  for (let i = 0; i < count; i++) await Counter.execute(counting, 'shared', { by: who }, { attempts: 1000 });
  return conflicts;
}
