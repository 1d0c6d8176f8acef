/**
 * Requests deliveries through the scheduler's HTTP API at the chosen rate and follows them on the
 * bus to their end (delivered or failed) and into history (archived), drawing a live view of at
 * most 80 columns from the services' own reports.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { consoleLogger, createBus } from '@missive/core';
import type { z } from 'zod';
import { DeliveryArchived, DeliveryUpdated, DroneMaintenance, FleetStatus, ServiceStats } from './contracts.js';
import type { Launched } from './launcher.js';

/** What the monitor needs of the run's options. */
export interface MonitorOptions {
  readonly deliveries: number;
  readonly rate: number;
  readonly drones: number;
  readonly killDeliveryAt?: number | undefined;
  /** Restart the (private) MQTT broker after this many requests. */
  readonly restartMqttAt?: number | undefined;
  readonly restartMqtt?: (() => Promise<void>) | undefined;
  readonly timeoutS: number;
  readonly json: boolean;
}

/** A delivery's steps as seen on the bus. */
export interface Seen {
  readonly steps: Map<number, { status: string; droneId?: string | undefined; reason?: string | undefined; at: number }>;
  final?: { status: 'delivered' | 'failed'; reason?: string | undefined; atMs: number };
  archived?: { status: string; events: number };
  requestedAt: number;
}

/** What the run produced. */
export interface Outcome {
  readonly deliveries: Map<string, Seen>;
  readonly rejectedRequests: number;
  readonly fleet: FleetView | undefined;
  readonly stats: Map<string, { retried: number; redelivered: number; deadLettered: number; handled: number }>;
  readonly timedOut: boolean;
  readonly killed: boolean;
  readonly mqttRestarted: boolean;
  readonly elapsedMs: number;
  /** Every maintenance change fleet management announced, in arrival order. */
  readonly maintenance: readonly Maintenance[];
}

/** A drone going into maintenance or out of it. */
export type Maintenance = z.infer<typeof DroneMaintenance.schema>;

/** Fleet management's last report. */
export type FleetView = z.infer<typeof FleetStatus.schema>;

const PLACES = [
  { lat: 52.37, lon: 4.89 },
  { lat: 52.36, lon: 4.91 },
  { lat: 52.38, lon: 4.87 },
  { lat: 52.35, lon: 4.9 },
];

function post(port: number, body: unknown): Promise<{ status: number; deliveryId?: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/deliveries',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, ...(JSON.parse(data) as { deliveryId?: string }) });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

export async function monitor(system: Launched, options: MonitorOptions): Promise<Outcome> {
  const deliveries = new Map<string, Seen>();
  const seen = (id: string) => {
    let s = deliveries.get(id);
    if (s === undefined) {
      s = { steps: new Map(), requestedAt: Date.now() };
      deliveries.set(id, s);
    }
    return s;
  };
  let fleet: FleetView | undefined;
  const maintenance: Maintenance[] = [];
  const stats: Outcome['stats'] = new Map();
  const bus = createBus({ service: 'drones-monitor', transport: system.url, logger: consoleLogger('error') });
  const started = Date.now();
  bus.endpoint(
    `drones-monitor-${randomBytes(3).toString('hex')}`,
    (e) => {
      e.on(DeliveryUpdated, (m) => {
        const s = seen(m.deliveryId);
        s.steps.set(m.seq, { status: m.status, droneId: m.droneId, reason: m.reason, at: m.at });
        if ((m.status === 'delivered' || m.status === 'failed') && s.final === undefined)
          s.final = { status: m.status, reason: m.reason, atMs: Date.now() - started };
      });
      e.on(DeliveryArchived, (m) => void (seen(m.deliveryId).archived = { status: m.status, events: m.events }));
      e.on(FleetStatus, (m) => void (fleet = m));
      e.on(DroneMaintenance, (m) => void maintenance.push(m));
      e.on(ServiceStats, (m) => void stats.set(m.service, m));
    },
    { concurrency: 8 },
  );
  await bus.start();

  const requested = new Set<string>();
  let rejectedRequests = 0;
  let killed = false;
  let mqttRestarted = false;
  const tty = process.stdout.isTTY && !options.json;
  let drawn = 0;
  let lastPrint = 0;
  const view = (force = false) => {
    if (options.json) return;
    const now = Date.now();
    if (!force && !tty && now - lastPrint < 3000) return;
    lastPrint = now;
    const all = [...deliveries.values()];
    const delivered = all.filter((d) => d.final?.status === 'delivered').length;
    const failed = all.filter((d) => d.final?.status === 'failed').length;
    const reassigned = all.filter((d) => [...d.steps.values()].some((s) => s.status === 'reassigning')).length;
    const archived = all.filter((d) => d.archived !== undefined).length;
    let retries = 0;
    let dead = 0;
    for (const s of stats.values()) {
      retries += s.retried + s.redelivered;
      dead += s.deadLettered;
    }
    const f = fleet;
    const lines = [
      `drones ${((now - started) / 1000).toFixed(1).padStart(6)} s  requested ${requested.size}/${options.deliveries}  rejected ${rejectedRequests}`,
      `deliveries  in progress ${requested.size - delivered - failed}  delivered ${delivered}  failed ${failed}  reassigned ${reassigned}`,
      `history     archived ${archived}`,
      f === undefined
        ? 'fleet       (waiting for fleet management)'
        : `fleet       idle ${f.idle}  busy ${f.busy}  charging ${f.charging}  maintenance ${f.maintenance}  lost ${f.lost}  unseen ${f.unseen}`,
      f === undefined
        ? 'telemetry   -'
        : `telemetry   ${f.telemetryPerSecond.toFixed(0)}/s  lag p50 ${f.lagP50Ms} ms  max ${f.lagMaxMs} ms  bad ${f.rejected}`,
      `bus         retries ${retries}  dead letters ${dead}${killed ? '  delivery killed' : ''}${mqttRestarted ? '  mqtt restarted' : ''}`,
      `last note   ${system.notes.at(-1) ?? '-'}`,
    ].map((l) => l.slice(0, 80).padEnd(80));
    if (tty) {
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A`);
      process.stdout.write(`${lines.join('\n')}\n`);
      drawn = lines.length;
    } else {
      process.stdout.write(`${lines.join('\n')}\n\n`);
    }
  };
  const ticker = setInterval(() => view(), 250);

  let timedOut = false;
  try {
    const deadline = started + options.timeoutS * 1000;
    const gap = 1000 / options.rate;
    for (let i = 0; i < options.deliveries && Date.now() < deadline; i++) {
      const from = PLACES[i % PLACES.length]!;
      const to = PLACES[(i + 1) % PLACES.length]!;
      const answer = await post(system.schedulerPort, { from, to });
      if (answer.status === 202 && answer.deliveryId !== undefined) {
        requested.add(answer.deliveryId);
        seen(answer.deliveryId);
      } else rejectedRequests++;
      if (options.killDeliveryAt !== undefined && !killed && requested.size >= options.killDeliveryAt) {
        killed = true;
        await system.killAndRestart('delivery');
      }
      if (
        options.restartMqttAt !== undefined &&
        options.restartMqtt !== undefined &&
        !mqttRestarted &&
        requested.size >= options.restartMqttAt
      ) {
        mqttRestarted = true;
        system.notes.push('launcher: restarting mosquitto');
        await options.restartMqtt();
        system.notes.push('launcher: mosquitto restarted');
      }
      await new Promise((resolve) => setTimeout(resolve, gap));
    }
    const done = () => [...requested].every((id) => deliveries.get(id)?.final !== undefined && deliveries.get(id)?.archived !== undefined);
    while (!done()) {
      if (Date.now() > deadline) {
        timedOut = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    clearInterval(ticker);
    view(true);
    await bus.stop();
  }
  for (const id of deliveries.keys()) if (!requested.has(id)) deliveries.delete(id);
  return { deliveries, rejectedRequests, fleet, stats, timedOut, killed, mqttRestarted, elapsedMs: Date.now() - started, maintenance };
}
