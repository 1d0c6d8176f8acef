/**
 * What every drones service does the same way: read its settings from the environment, create its
 * bus, report its counters, print `ready` for the launcher, and stop cleanly on SIGTERM/SIGINT.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { consoleLogger, createBus, stopOnSignals, type Bus, type BusComponent } from '@missive/core';
import { ServiceStats } from './contracts.js';

/** Settings every service reads. */
export interface ServiceSettings {
  readonly url: string;
  /** Where services keep their own databases. */
  readonly dataDir: string;
  readonly mqttUrl: string;
  /** The run's MQTT topic prefix: drones publish to `<prefix>/<droneId>/telemetry`. */
  readonly topicPrefix: string;
}

/** Reads the settings; the defaults run on the embedded SQLite transport and the local Mosquitto. */
export function settings(): ServiceSettings {
  const dataDir = process.env.DRONES_DATA_DIR ?? join(process.cwd(), '.missive', 'drones');
  mkdirSync(dataDir, { recursive: true });
  return {
    url: process.env.MISSIVE_URL ?? `sqlite://${join(dataDir, 'bus.db')}`,
    dataDir,
    mqttUrl: process.env.DRONES_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    topicPrefix: process.env.DRONES_TOPIC_PREFIX ?? 'missive-drones',
  };
}

/** A number from the environment, or the default. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

/** Creates the service's bus, with its counters published every half second. */
export function serviceBus(service: string, config: ServiceSettings): Bus {
  const bus = createBus({ service, transport: config.url, logger: consoleLogger('error'), stopTimeoutMs: 5000 });
  let timer: NodeJS.Timeout | undefined;
  const reporter: BusComponent = {
    async start() {
      timer = setInterval(() => {
        const totals = { handled: 0, retried: 0, redelivered: 0, deadLettered: 0 };
        for (const s of Object.values(bus.stats().endpoints)) {
          totals.handled += s.handled;
          totals.retried += s.retried;
          totals.redelivered += s.redelivered;
          totals.deadLettered += s.deadLettered;
        }
        bus.publish(ServiceStats, { service, ...totals }).catch(() => undefined);
      }, 500);
    },
    async stop() {
      clearInterval(timer);
    },
  };
  bus.attach(reporter);
  return bus;
}

/** Starts the bus, prints `ready <service>` (and extra words) for the launcher, and stops on signals (a second signal exits at once). */
export async function run(bus: Bus, service: string, extra = '', onStop?: () => void | Promise<void>): Promise<void> {
  stopOnSignals(bus, { onStop });
  await bus.start();
  process.stdout.write(`ready ${service}${extra === '' ? '' : ` ${extra}`}\n`);
}
