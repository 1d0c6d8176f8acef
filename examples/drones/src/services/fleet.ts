/**
 * Drone management: the fleet's state (idle, busy, charging, lost; battery; last seen), built from
 * the telemetry the MQTT bridge in this process puts on the bus. It reserves drones for the
 * scheduler, sends dispatch commands to drones over MQTT (QoS 1), and detects drones that stop
 * reporting: silent for `DRONES_LOST_AFTER_MS`, a drone is lost and `DroneLost` names the delivery
 * it was reserved for, so the delivery saga reassigns it. Malformed device messages arrive as
 * `mqtt.message-rejected` events and are counted, never dropped silently.
 *
 * Fleet state is kept in memory: telemetry rebuilds it within a second after a restart (a
 * reservation made just before a crash is lost; the saga's progress timeout covers that).
 */
import { connectAsync } from 'mqtt';
import { createMqttBridge, mqttRoute, MqttMessageRejected } from '@missive/mqtt';
import type { z } from 'zod';
import { DispatchDrone, DroneLost, DroneReported, DroneTelemetry, FleetStatus, ReleaseDrone, ReserveDrone } from '../contracts.js';
import { envNumber, run, serviceBus, settings } from '../runtime.js';

const config = settings();
const lostAfterMs = envNumber('DRONES_LOST_AFTER_MS', 3000);
const minBattery = envNumber('DRONES_MIN_BATTERY', 40);

interface Drone {
  id: string;
  battery: number;
  state: 'idle' | 'to-pickup' | 'en-route' | 'charging';
  lastSeen: number;
  lastSeq: number;
  /** The delivery it is reserved for. */
  reservedFor: string | null;
  lost: boolean;
}

type Reading = Omit<z.input<typeof DroneTelemetry.schema>, 'droneId'>;
type Report = Omit<z.input<typeof DroneReported.schema>, 'droneId'>;
const droneOf = (topic: string) => topic.split('/').at(-2) ?? '';

const drones = new Map<string, Drone>();
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
    mqttRoute({ filter: `${config.topicPrefix}/+/telemetry`, contract: DroneTelemetry, map: (p, topic) => ({ ...(p as Reading), droneId: droneOf(topic) }) }),
    mqttRoute({
      filter: `${config.topicPrefix}/+/events`,
      contract: DroneReported,
      map: (p, topic) => ({ ...(p as Report), droneId: droneOf(topic) }),
      messageId: (p) => (p as { id?: string }).id,
    }),
  ],
});
bus.attach(bridge);
const commands = await connectAsync(config.mqttUrl, { protocolVersion: 5, clientId: `${config.topicPrefix.replace(/\//g, '-')}-fleet-commands`, reconnectPeriod: 500 });

bus.endpoint('fleet', (e) => {
  e.on(DroneTelemetry, (t) => {
    telemetryTotal++;
    windowCount++;
    lags.push(Date.now() - t.at);
    let drone = drones.get(t.droneId);
    if (drone === undefined) {
      drone = { id: t.droneId, battery: t.battery, state: t.state, lastSeen: 0, lastSeq: -1, reservedFor: null, lost: false };
      drones.set(t.droneId, drone);
    }
    if (t.seq <= drone.lastSeq) return; // a repeat or an overtaken reading
    Object.assign(drone, { battery: t.battery, state: t.state, lastSeen: Date.now(), lastSeq: t.seq, lost: false });
  });
  e.on(MqttMessageRejected, () => void rejected++);
  e.reply(ReserveDrone, (q) => {
    const already = [...drones.values()].find((d) => d.reservedFor === q.deliveryId && !d.lost && !q.exclude.includes(d.id));
    if (already !== undefined) return { droneId: already.id };
    const now = Date.now();
    const free = [...drones.values()]
      .filter((d) => d.reservedFor === null && !d.lost && d.state === 'idle' && d.battery >= minBattery && now - d.lastSeen < lostAfterMs && !q.exclude.includes(d.id))
      .sort((a, b) => b.battery - a.battery);
    const pick = free[0];
    if (pick === undefined) return { droneId: null };
    pick.reservedFor = q.deliveryId;
    return { droneId: pick.id };
  });
  e.on(DispatchDrone, async (c) => {
    const drone = drones.get(c.droneId);
    if (drone !== undefined) drone.reservedFor = c.deliveryId;
    await commands.publishAsync(`${config.topicPrefix}/${c.droneId}/commands`, JSON.stringify({ kind: 'dispatch', deliveryId: c.deliveryId, from: c.from, to: c.to }), { qos: 1 });
  });
  e.on(ReleaseDrone, (c) => {
    const drone = drones.get(c.droneId);
    if (drone?.reservedFor === c.deliveryId) drone.reservedFor = null;
  });
}, { concurrency: 8 });

const watch = setInterval(() => {
  const now = Date.now();
  for (const d of drones.values()) {
    if (d.lost || now - d.lastSeen < lostAfterMs) continue;
    d.lost = true;
    bus.publish(DroneLost, { droneId: d.id, deliveryId: d.reservedFor, silentMs: now - d.lastSeen }).catch(() => (d.lost = false));
  }
  const elapsed = (now - windowStart) / 1000;
  const sorted = lags.splice(0).sort((a, b) => a - b);
  const counts = { idle: 0, busy: 0, charging: 0, lost: 0 };
  for (const d of drones.values()) {
    if (d.lost) counts.lost++;
    else if (d.reservedFor !== null || d.state === 'to-pickup' || d.state === 'en-route') counts.busy++;
    else if (d.state === 'charging' || d.battery < minBattery) counts.charging++;
    else counts.idle++;
  }
  bus.publish(FleetStatus, {
    ...counts,
    unseen: Math.max(0, envNumber('DRONES_FLEET_SIZE', drones.size) - drones.size),
    telemetryPerSecond: elapsed > 0 ? Math.round((windowCount / elapsed) * 10) / 10 : 0,
    lagP50Ms: sorted[Math.floor(sorted.length / 2)] ?? 0,
    lagMaxMs: sorted.at(-1) ?? 0,
    telemetryTotal,
    rejected,
  }).catch(() => undefined);
  windowStart = now;
  windowCount = 0;
}, 500);

await run(bus, 'fleet', '', async () => {
  clearInterval(watch);
  await commands.endAsync();
});
