/**
 * Starts the drone delivery services as child processes, waits until each says `ready`, can
 * SIGKILL and restart one (fault injection), and stops them all: SIGTERM first (they drain), SIGKILL
 * for any still alive after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** What the launcher needs of the run's options. */
export interface LaunchOptions {
  readonly drones: number;
  readonly hz: number;
  readonly lose: number;
  readonly malformed: number;
  readonly maintenanceAfter: number;
  readonly mqttUrl: string;
}

/** A running service process. */
export interface Service {
  readonly name: string;
  child: ChildProcess;
  exited: boolean;
}

/** The running system. */
export interface Launched {
  readonly dataDir: string;
  readonly url: string;
  readonly schedulerPort: number;
  readonly services: Service[];
  /** Lines the services printed after `ready` (drones going silent, …), newest last. */
  readonly notes: string[];
  /** SIGKILLs a service and starts it again; resolves when the new one is ready. */
  killAndRestart(name: string): Promise<void>;
  shutdown(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function launch(options: LaunchOptions): Promise<Launched> {
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
  const dataDir = join(process.env.DRONES_DATA_ROOT ?? join(process.cwd(), '.missive', 'drones'), runId);
  mkdirSync(dataDir, { recursive: true });
  // As in the shop: WAL with synchronous=normal survives a process crash (the fault injected here).
  const url = process.env.MISSIVE_URL ?? `sqlite://${join(dataDir, 'bus.db')}?synchronous=normal&lease=5000`;
  const services: Service[] = [];
  const notes: string[] = [];
  const env = {
    ...process.env,
    MISSIVE_URL: url,
    DRONES_DATA_DIR: dataDir,
    DRONES_MQTT_URL: options.mqttUrl,
    DRONES_TOPIC_PREFIX: `missive-drones/${runId}`,
    DRONES_FLEET_SIZE: String(options.drones),
    DRONES_HZ: String(options.hz),
    DRONES_LOSE: String(options.lose),
    DRONES_MALFORMED: String(options.malformed),
    DRONES_MAINTENANCE_AFTER: String(options.maintenanceAfter),
  };

  const start = (name: string, existing?: Service) =>
    new Promise<{ service: Service; ready: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(here, 'services', `${name}.js`)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      const service: Service = existing ?? { name, child, exited: false };
      service.child = child;
      service.exited = false;
      if (existing === undefined) services.push(service);
      const lines = createInterface({ input: child.stdout });
      const onExit = (code: number | null) => {
        service.exited = true;
        reject(new Error(`${name} exited with ${code} before it was ready`));
      };
      child.once('exit', onExit);
      lines.once('line', (line) => {
        if (!line.startsWith('ready')) return reject(new Error(`${name} said ${JSON.stringify(line)} instead of ready`));
        child.off('exit', onExit);
        child.once('exit', () => (service.exited = true));
        lines.on('line', (more) => void notes.push(`${name}: ${more}`));
        resolve({ service, ready: line });
      });
    });

  const stopOne = (s: Service, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (s.exited) return resolve();
      const timer = setTimeout(() => s.child.kill('SIGKILL'), 8000);
      s.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      s.child.kill(signal);
    });
  // The simulated drones first, so nothing reports to services already gone.
  const shutdown = async () => {
    const sim = services.filter((s) => s.name === 'drones');
    await Promise.all(sim.map((s) => stopOne(s, 'SIGTERM')));
    await Promise.all(services.filter((s) => s.name !== 'drones').map((s) => stopOne(s, 'SIGTERM')));
  };

  try {
    // Consumers first, so their queues exist before anything is sent to them.
    await Promise.all([start('fleet'), start('delivery'), start('history')]);
    const scheduler = await start('scheduler');
    await start('drones');
    const port = Number(/port=(\d+)/.exec(scheduler.ready)?.[1]);
    if (!Number.isInteger(port)) throw new Error(`scheduler said ${JSON.stringify(scheduler.ready)}; expected its port`);
    return {
      dataDir,
      url,
      schedulerPort: port,
      services,
      notes,
      async killAndRestart(name) {
        const service = services.find((s) => s.name === name);
        if (service === undefined) throw new Error(`no service ${name}`);
        await stopOne(service, 'SIGKILL');
        notes.push(`launcher: ${name} SIGKILLed, restarting`);
        await start(name, service);
        notes.push(`launcher: ${name} restarted`);
      },
      shutdown,
    };
  } catch (error) {
    await shutdown();
    throw error;
  }
}
