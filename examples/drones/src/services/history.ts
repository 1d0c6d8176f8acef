/**
 * Delivery history, event-sourced: each delivery is an aggregate whose stream (`delivery-<id>`)
 * holds every step the saga published, in sequence order, appended at the expected version in the
 * service's own SQLite event store (`delivery-record.ts`). A repeated step (at-least-once delivery)
 * is recognised by its sequence number and appends nothing; a step that arrives after a gap is held
 * until the missing step comes, and a gap open for `GAP_WARN_MS` is logged at warn. A projection
 * (catch-up subscription with a checkpoint) keeps a summary table beside the events, and a second
 * one publishes `DeliveryArchived` for each delivery that reached its end. Queries answer from the
 * stream (`GetDeliveryHistory`) and from the summary (`GetHistorySummary`).
 */
import { join } from 'node:path';
import { consoleLogger } from '@missive/core';
import { createProjection, publishEvents } from '@missive/eventsourcing';
import { SqliteEventStore } from '@missive/sqlite';
import { DeliveryArchived, DeliveryUpdated, GetDeliveryHistory, GetHistorySummary } from '../contracts.js';
import { run, serviceBus, settings } from '../runtime.js';
import { DeliveryRecord, GapWatch, HELD, loadDelivery, type Step } from './delivery-record.js';

/** A gap in a delivery's steps open this long is logged at warn. */
const GAP_WARN_MS = 10_000;

const config = settings();
const store = new SqliteEventStore({ path: join(config.dataDir, 'history.db'), synchronous: 'NORMAL' });
const gaps = new GapWatch({ afterMs: GAP_WARN_MS, logger: consoleLogger('info'), load: loadDelivery(store) });
const sweeping = setInterval(() => void gaps.sweep().catch(() => undefined), GAP_WARN_MS / 2);
sweeping.unref();
// Gaps left open by an earlier run of the service are watched too (held steps live in the streams).
const heldBefore = store.db.prepare('select distinct stream from missive_events where type = ?').all(HELD) as { stream: string }[];
for (const { stream } of heldBefore) {
  const deliveryId = stream.slice('delivery-'.length);
  gaps.note(deliveryId, (await DeliveryRecord.load(store, deliveryId)).state);
}

store.db.exec('create table if not exists delivery_summary (delivery_id text primary key, status text not null, events integer not null)');
const upsert = store.db.prepare(
  'insert into delivery_summary (delivery_id, status, events) values (?, ?, ?) on conflict (delivery_id) do update set status = excluded.status, events = excluded.events',
);
const summary = createProjection({
  name: 'delivery-summary',
  store,
  streamPrefix: 'delivery-',
  pollMs: 100,
  // A step event's seq is its position among the steps (held steps are recorded in order, `held` events are not steps).
  handle: (e) => {
    if (e.type !== HELD) upsert.run(e.stream.slice('delivery-'.length), e.type, (e.data as Step).seq);
  },
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
        ? {
            contract: DeliveryArchived,
            payload: { deliveryId: e.stream.slice('delivery-'.length), status: e.type, events: (e.data as Step).seq },
          }
        : undefined,
  }),
);

bus.endpoint(
  'history',
  (e) => {
    e.on(
      DeliveryUpdated,
      async (m) => {
        const { state } = await DeliveryRecord.execute(store, m.deliveryId, {
          status: m.status,
          seq: m.seq,
          droneId: m.droneId,
          reason: m.reason,
          at: m.at,
        });
        gaps.note(m.deliveryId, state);
      },
      { retry: { immediate: 2, delayed: { attempts: 5, initialMs: 200 } } },
    );
    e.reply(GetDeliveryHistory, async (q) => {
      const events = await store.readStream(DeliveryRecord.stream(q.deliveryId));
      const { state, version } = await DeliveryRecord.load(store, q.deliveryId);
      return {
        deliveryId: q.deliveryId,
        version,
        status: state.status,
        held: (state.held ?? []).map((h) => h.seq),
        events: events
          .filter((ev) => ev.type !== HELD)
          .map((ev) => {
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

await run(bus, 'history', '', () => {
  clearInterval(sweeping);
  return store.close();
});
