/**
 * The delivery service: the delivery workflow as a saga. Requested → (the scheduler picks a drone)
 * assigned → picked up → en route → delivered. A drone that reports a failure, stops reporting
 * (fleet management's `DroneLost`) or makes no progress in time is released and the delivery is
 * reassigned to another drone, up to `DRONES_MAX_ATTEMPTS` drones; then the delivery fails with the
 * reason. A delivery no drone is found for in time fails too. Every step is published as
 * `DeliveryUpdated` with its sequence number; instances live in the service's SQLite database, so a
 * crash (SIGKILL) loses nothing.
 */
import { join } from 'node:path';
import { defineSaga, type SagaContext } from '@missive/core';
import { SqliteMessageStore } from '@missive/sqlite';
import { z } from 'zod';
import {
  AssignDrone,
  DeliveryNeedsDrone,
  DeliveryRequested,
  DeliveryUpdated,
  DispatchDrone,
  DroneLost,
  DroneReported,
  ReleaseDrone,
} from '../contracts.js';
import { envNumber, run, serviceBus, settings } from '../runtime.js';

const config = settings();
const progressTimeoutMs = envNumber('DRONES_PROGRESS_TIMEOUT_MS', 15_000);
const assignTimeoutMs = envNumber('DRONES_ASSIGN_TIMEOUT_MS', 60_000);
const maxAttempts = envNumber('DRONES_MAX_ATTEMPTS', 3);
const store = new SqliteMessageStore({ path: join(config.dataDir, 'delivery.db'), synchronous: 'NORMAL' });

const Place = z.object({ lat: z.number(), lon: z.number() });
const State = z.object({
  deliveryId: z.string(),
  from: Place,
  to: Place,
  status: z.enum(['requested', 'assigned', 'picked-up', 'en-route', 'delivered', 'reassigning', 'failed']),
  droneId: z.string().optional(),
  tried: z.array(z.string()),
  seq: z.number().int(),
});
type State = z.infer<typeof State>;
type Saga = SagaContext<State>;
const byDelivery = (m: { deliveryId: string }) => m.deliveryId;

function step(saga: Saga, status: State['status'], reason?: string): void {
  saga.state.status = status;
  saga.state.seq++;
  saga.publish(DeliveryUpdated, {
    deliveryId: saga.state.deliveryId,
    seq: saga.state.seq,
    status,
    droneId: saga.state.droneId,
    reason,
    at: Date.now(),
  });
}

function reassign(saga: Saga, reason: string): void {
  const droneId = saga.state.droneId;
  if (droneId !== undefined) saga.send(ReleaseDrone, { droneId, deliveryId: saga.state.deliveryId, reason });
  saga.cancelTimeout('progress');
  if (saga.state.tried.length >= maxAttempts) {
    step(saga, 'failed', `${reason}; gave up after ${saga.state.tried.length} drones`);
    saga.fail(reason);
    return;
  }
  step(saga, 'reassigning', reason);
  saga.state.droneId = undefined;
  saga.publish(DeliveryNeedsDrone, { deliveryId: saga.state.deliveryId, exclude: saga.state.tried });
  saga.scheduleTimeout('assign', { delayMs: assignTimeoutMs });
}

const flying = (s: State) => s.status === 'assigned' || s.status === 'picked-up' || s.status === 'en-route';

export const DeliverySaga = defineSaga('drones.delivery', State)
  .startedBy(DeliveryRequested, {
    correlate: byDelivery,
    initial: (m) => ({ deliveryId: m.deliveryId, from: m.from, to: m.to, status: 'requested' as const, tried: [], seq: 0 }),
    handle: (m, saga) => {
      saga.state.seq = 0;
      step(saga, 'requested');
      saga.publish(DeliveryNeedsDrone, { deliveryId: m.deliveryId, exclude: [] });
      saga.scheduleTimeout('assign', { delayMs: assignTimeoutMs });
    },
  })
  .on(AssignDrone, {
    correlate: byDelivery,
    missing: 'ignore',
    handle: (m, saga) => {
      if (saga.state.status !== 'requested' && saga.state.status !== 'reassigning') {
        // A late answer to an earlier request: the drone goes back to the fleet.
        if (m.droneId !== saga.state.droneId)
          saga.send(ReleaseDrone, { droneId: m.droneId, deliveryId: m.deliveryId, reason: 'not needed' });
        return;
      }
      saga.cancelTimeout('assign');
      saga.state.droneId = m.droneId;
      saga.state.tried.push(m.droneId);
      step(saga, 'assigned');
      saga.send(DispatchDrone, { droneId: m.droneId, deliveryId: m.deliveryId, from: saga.state.from, to: saga.state.to });
      saga.scheduleTimeout('progress', { delayMs: progressTimeoutMs });
    },
  })
  .on(DroneReported, {
    correlate: byDelivery,
    missing: 'ignore',
    handle: (m, saga) => {
      if (m.droneId !== saga.state.droneId || !flying(saga.state)) return;
      if (m.kind === 'failed') return reassign(saga, `drone ${m.droneId} failed: ${m.reason ?? 'no reason'}`);
      if (m.kind === saga.state.status) return;
      step(saga, m.kind);
      if (m.kind === 'delivered') {
        saga.cancelTimeout('progress');
        saga.send(ReleaseDrone, { droneId: m.droneId, deliveryId: m.deliveryId, reason: 'delivered' });
        saga.complete();
        return;
      }
      saga.scheduleTimeout('progress', { delayMs: progressTimeoutMs });
    },
  })
  .on(DroneLost, {
    correlate: (m) => m.deliveryId ?? '-',
    missing: 'ignore',
    handle: (m, saga) => {
      if (m.droneId !== saga.state.droneId || !flying(saga.state)) return;
      reassign(saga, `drone ${m.droneId} stopped reporting (${Math.round(m.silentMs / 1000)} s silent)`);
    },
  })
  .onTimeout('progress', (saga) => {
    if (flying(saga.state)) reassign(saga, `drone ${saga.state.droneId ?? '?'} made no progress in ${progressTimeoutMs} ms`);
  })
  .onTimeout('assign', (saga) => {
    if (saga.state.status !== 'requested' && saga.state.status !== 'reassigning') return;
    step(saga, 'failed', `no drone free within ${assignTimeoutMs} ms`);
    saga.fail('no drone free');
  });

const bus = serviceBus('delivery', config);
bus.saga(DeliverySaga, { store, endpoint: 'delivery', concurrency: 8 });
await run(bus, 'delivery', '', () => store.close());
