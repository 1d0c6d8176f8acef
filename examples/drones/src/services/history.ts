/**
 * Delivery history, event-sourced: each delivery is an aggregate whose stream (`delivery-<id>`)
 * holds every step the saga published, appended at the expected version in the service's own
 * SQLite event store. A repeated or stale step (at-least-once delivery) is recognised by its
 * sequence number and appends nothing. A projection (catch-up subscription with a checkpoint) keeps
 * a summary table beside the events, and a second one publishes `DeliveryArchived` for each
 * delivery that reached its end. Queries answer from the stream (`GetDeliveryHistory`) and from the
 * summary (`GetHistorySummary`).
 */
import { join } from 'node:path';
import { createProjection, defineAggregate, publishEvents } from '@missive/eventsourcing';
import { SqliteEventStore } from '@missive/sqlite';
import { DeliveryArchived, DeliveryUpdated, GetDeliveryHistory, GetHistorySummary } from '../contracts.js';
import { run, serviceBus, settings } from '../runtime.js';

const config = settings();
const store = new SqliteEventStore({ path: join(config.dataDir, 'history.db'), synchronous: 'NORMAL' });

type Status = 'requested' | 'assigned' | 'picked-up' | 'en-route' | 'delivered' | 'reassigning' | 'failed';
interface Step {
  readonly seq: number;
  readonly droneId?: string;
  readonly reason?: string;
  readonly at: number;
}
type Events = Record<Status, Step>;
interface State {
  readonly status: Status | 'unknown';
  readonly seq: number;
}
type Update = { readonly status: Status } & Step;

const Delivery = defineAggregate<State, Events, Update>({
  name: 'delivery',
  initial: () => ({ status: 'unknown', seq: 0 }),
  apply: (_state, event) => ({ status: event.type, seq: event.data.seq }),
  decide(state, update) {
    if (update.seq <= state.seq) return []; // already recorded
    if (state.status === 'delivered' || state.status === 'failed')
      throw new Error(`delivery already ended ${state.status}; step ${update.seq} ${update.status} refused`);
    const { status, ...step } = update;
    return [{ type: status, data: step }];
  },
  snapshotEvery: 20,
});

store.db.exec('create table if not exists delivery_summary (delivery_id text primary key, status text not null, events integer not null)');
const upsert = store.db.prepare(
  'insert into delivery_summary (delivery_id, status, events) values (?, ?, ?) on conflict (delivery_id) do update set status = excluded.status, events = excluded.events',
);
const summary = createProjection({
  name: 'delivery-summary',
  store,
  streamPrefix: 'delivery-',
  pollMs: 100,
  handle: (e) => void upsert.run(e.stream.slice('delivery-'.length), e.type, e.version),
});

const bus = serviceBus('history', config);
bus.attach(summary);
bus.attach(
  publishEvents(bus, {
    name: 'delivery-archived',
    store,
    streamPrefix: 'delivery-',
    pollMs: 100,
    map: (e) =>
      e.type === 'delivered' || e.type === 'failed'
        ? { contract: DeliveryArchived, payload: { deliveryId: e.stream.slice('delivery-'.length), status: e.type, events: e.version } }
        : undefined,
  }),
);

bus.endpoint(
  'history',
  (e) => {
    e.on(
      DeliveryUpdated,
      async (m) => {
        await Delivery.execute(store, m.deliveryId, { status: m.status, seq: m.seq, droneId: m.droneId, reason: m.reason, at: m.at });
      },
      { retry: { immediate: 2, delayed: { attempts: 5, initialMs: 200 } } },
    );
    e.reply(GetDeliveryHistory, async (q) => {
      const events = await store.readStream(Delivery.stream(q.deliveryId));
      const { state, version } = await Delivery.load(store, q.deliveryId);
      return {
        deliveryId: q.deliveryId,
        version,
        status: state.status,
        events: events.map((ev) => {
          const data = ev.data as Step;
          return { type: ev.type, seq: data.seq, droneId: data.droneId, reason: data.reason };
        }),
      };
    });
    e.reply(GetHistorySummary, async () => {
      await summary.catchUp();
      const rows = store.db.prepare('select delivery_id, status, events from delivery_summary order by delivery_id').all() as {
        delivery_id: string;
        status: string;
        events: number;
      }[];
      return { deliveries: rows.map((r) => ({ deliveryId: r.delivery_id, status: r.status, events: r.events })) };
    });
  },
  { concurrency: 4 },
);

await run(bus, 'history', '', () => store.close());
