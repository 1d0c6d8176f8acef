/**
 * Drone management: the fleet's state (idle, busy, charging, maintenance, lost; battery; last seen),
 * built from the telemetry the MQTT bridge in this process puts on the bus (`fleet-state.ts`). It
 * reserves drones for the scheduler, sends dispatch commands to drones over MQTT (QoS 1), and
 * detects drones that stop reporting: silent for `DRONES_LOST_AFTER_MS`, a drone is lost and
 * `DroneLost` names the delivery it was reserved for, so the delivery saga reassigns it. A drone
 * goes into maintenance after `DRONES_MAINTENANCE_AFTER` deliveries or a fault, for
 * `DRONES_MAINTENANCE_MS`, and is not reserved until it is done (`DroneMaintenance` events).
 * Malformed device messages arrive as `mqtt.message-rejected` events and are counted, never
 * dropped silently.
 *
 * Fleet state is kept in memory: telemetry rebuilds it within a second after a restart (a
 * reservation made just before a crash is lost; the saga's progress timeout covers that).
 */
import { connectAsync } from 'mqtt';
import { createMqttBridge, mqttRoute, MqttMessageRejected } from '@missive/mqtt';
import type { z } from 'zod';
import {
  DispatchDrone,
  DroneLost,
  DroneMaintenance,
  DroneReported,
  DroneTelemetry,
  FleetStatus,
  ReleaseDrone,
  ReserveDrone,
} from '../contracts.js';
import { envNumber, run, serviceBus, settings } from '../runtime.js';
import { FleetState, type MaintenanceChange } from './fleet-state.js';

const config = settings();
const fleet = new FleetState({
  lostAfterMs: envNumber('DRONES_LOST_AFTER_MS', 3000),
  minBattery: envNumber('DRONES_MIN_BATTERY', 40),
  maintenanceAfter: envNumber('DRONES_MAINTENANCE_AFTER', 5),
  maintenanceMs: envNumber('DRONES_MAINTENANCE_MS', 3000),
});

type Reading = Omit<z.input<typeof DroneTelemetry.schema>, 'droneId'>;
type Report = Omit<z.input<typeof DroneReported.schema>, 'droneId'>;
const droneOf = (topic: string) => topic.split('/').at(-2) ?? '';

let telemetryTotal = 0;
let rejected = 0;
const lags: number[] = [];
let windowStart = Date.now();
let windowCount = 0;

const bus = serviceBus('fleet', config);
const bridge = createMqttBridge({
  url: config.mqttUrl,
  bus,
  clientId: `${config.topicPrefix.replace(/\//g, '-')}-bridge`,
  group: 'drones-telemetry',
  sessionExpirySeconds: envNumber('DRONES_SESSION_EXPIRY_S', 300),
  routes: [
    // The payload is checked against the contract's schema by the bus; the map only adds the id from the topic.
    mqttRoute({
      filter: `${config.topicPrefix}/+/telemetry`,
      contract: DroneTelemetry,
      map: (p, topic) => ({ ...(p as Reading), droneId: droneOf(topic) }),
    }),
    mqttRoute({
      filter: `${config.topicPrefix}/+/events`,
      contract: DroneReported,
      map: (p, topic) => ({ ...(p as Report), droneId: droneOf(topic) }),
      messageId: (p) => (p as { id?: string }).id,
    }),
  ],
});
bus.attach(bridge);
const commands = await connectAsync(config.mqttUrl, {
  protocolVersion: 5,
  clientId: `${config.topicPrefix.replace(/\//g, '-')}-fleet-commands`,
  reconnectPeriod: 500,
});

bus.endpoint(
  'fleet',
  (e) => {
    e.on(DroneTelemetry, (t) => {
      telemetryTotal++;
      windowCount++;
      lags.push(Date.now() - t.at);
      fleet.telemetry(t, Date.now());
    });
    e.on(MqttMessageRejected, () => void rejected++);
    e.reply(ReserveDrone, (q) => ({ droneId: fleet.reserve(q.deliveryId, q.exclude, Date.now()) }));
    e.on(DispatchDrone, async (c) => {
      fleet.dispatched(c.droneId, c.deliveryId);
      await commands.publishAsync(
        `${config.topicPrefix}/${c.droneId}/commands`,
        JSON.stringify({ kind: 'dispatch', deliveryId: c.deliveryId, from: c.from, to: c.to }),
        { qos: 1 },
      );
    });
    e.on(ReleaseDrone, async (c) => {
      const change = fleet.release(c.droneId, c.deliveryId, c.reason, Date.now());
      if (change !== undefined) await announce(change);
    });
  },
  { concurrency: 8 },
);

/** Publishes a maintenance change (the monitor and the check follow them). */
function announce(change: MaintenanceChange): Promise<void> {
  return bus.publish(DroneMaintenance, change);
}

const watch = setInterval(() => {
  const now = Date.now();
  const { lost, serviced } = fleet.tick(now);
  for (const d of lost)
    bus.publish(DroneLost, { droneId: d.id, deliveryId: d.reservedFor, silentMs: now - d.lastSeen }).catch(() => (d.lost = false));
  for (const change of serviced) announce(change).catch(() => undefined);
  const elapsed = (now - windowStart) / 1000;
  const sorted = lags.splice(0).sort((a, b) => a - b);
  bus
    .publish(FleetStatus, {
      ...fleet.counts(),
      unseen: Math.max(0, envNumber('DRONES_FLEET_SIZE', fleet.drones.size) - fleet.drones.size),
      telemetryPerSecond: elapsed > 0 ? Math.round((windowCount / elapsed) * 10) / 10 : 0,
      lagP50Ms: sorted[Math.floor(sorted.length / 2)] ?? 0,
      lagMaxMs: sorted.at(-1) ?? 0,
      telemetryTotal,
      rejected,
    })
    .catch(() => undefined);
  windowStart = now;
  windowCount = 0;
}, 500);

await run(bus, 'fleet', '', async () => {
  clearInterval(watch);
  await commands.endAsync();
});
