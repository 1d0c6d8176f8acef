/**
 * Starts the shop's services as child processes, waits until each says `ready`, and stops them all:
 * SIGTERM first (they drain), SIGKILL for any still alive after a grace period; then, on
 * PostgreSQL, drops the run's order schema (`order-store.ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dropOrderSchema } from './order-store.js';

/** What the launcher needs of the run's options. */
export interface LaunchOptions {
  readonly declineRate: number;
  readonly failRate: number;
  readonly slowMs: number;
  readonly stock: number;
  readonly paymentInstances: number;
  readonly verbose: boolean;
}

/** A running service process. */
export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  exited: boolean;
  /** The port of its `/healthz`, `/readyz` and `/metrics`. */
  healthPort?: number;
}

/** The running shop. */
export interface Launched {
  readonly dataDir: string;
  readonly url: string;
  readonly gatewayPort: number;
  readonly services: Service[];
  /** SIGKILLs a service (fault injection). */
  kill(name: string): void;
  shutdown(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function launch(options: LaunchOptions): Promise<Launched> {
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const dataDir = join(process.env.SHOP_DATA_ROOT ?? join(process.cwd(), '.missive', 'shop'), runId);
  mkdirSync(dataDir, { recursive: true });
  // The demo's default: WAL with synchronous=normal keeps every commit through a process crash (the
  // faults this demo injects) without an fsync per commit; the library's own default is full.
  const url = process.env.MISSIVE_URL ?? `sqlite://${join(dataDir, 'bus.db')}?synchronous=normal&lease=5000`;
  const services: Service[] = [];
  const env = {
    ...process.env,
    MISSIVE_URL: url,
    SHOP_DATA_DIR: dataDir,
    SHOP_DECLINE_RATE: String(options.declineRate),
    SHOP_FAIL_RATE: String(options.failRate),
    SHOP_SLOW_MS: String(options.slowMs),
    SHOP_STOCK: String(options.stock),
    SHOP_VERBOSE: options.verbose ? '1' : '0',
  };

  const start = (name: string, script: string, extra: Record<string, string> = {}) =>
    new Promise<{ service: Service; ready: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(here, 'services', `${script}.js`)], {
        env: { ...env, ...extra },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const service: Service = { name, child, exited: false };
      services.push(service);
      const lines = createInterface({ input: child.stdout });
      const onExit = (code: number | null) => {
        service.exited = true;
        reject(new Error(`${name} exited with ${code} before it was ready`));
      };
      child.once('exit', onExit);
      lines.once('line', (line) => {
        if (!line.startsWith('ready')) return reject(new Error(`${name} said ${JSON.stringify(line)} instead of ready`));
        child.off('exit', onExit);
        const health = Number(/health=(\d+)/.exec(line)?.[1]);
        if (Number.isInteger(health)) service.healthPort = health;
        child.once('exit', () => (service.exited = true));
        lines.on('line', (more) => process.stdout.write(`${name}: ${more}\n`));
        resolve({ service, ready: line });
      });
    });

  const shutdown = async () => {
    const alive = services.filter((s) => !s.exited);
    await Promise.all(
      alive.map(
        (s) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => s.child.kill('SIGKILL'), 8000);
            s.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            s.child.kill('SIGTERM');
          }),
      ),
    );
    // Every service has exited: the order saga's schema of this run goes (on PostgreSQL).
    await dropOrderSchema(url, dataDir).catch((error: unknown) =>
      process.stderr.write(`shop: could not drop the run's order schema: ${(error as Error).message}\n`),
    );
  };

  try {
    // Consumers first, so their queues exist before anything is sent to them.
    await Promise.all([
      start('inventory', 'inventory'),
      start('notification', 'notification'),
      start('analytics', 'analytics'),
      ...Array.from({ length: options.paymentInstances }, (_, i) => start(`payment#${i + 1}`, 'payment', { SHOP_INSTANCE: String(i + 1) })),
    ]);
    await start('order', 'order');
    const gateway = await start('gateway', 'gateway');
    const port = Number(/ port=(\d+)/.exec(gateway.ready)?.[1]);
    if (!Number.isInteger(port)) throw new Error(`gateway said ${JSON.stringify(gateway.ready)}; expected its port`);
    return {
      dataDir,
      url,
      gatewayPort: port,
      services,
      kill(name) {
        const service = services.find((s) => s.name === name && !s.exited);
        service?.child.kill('SIGKILL');
      },
      shutdown,
    };
  } catch (error) {
    await shutdown();
    throw error;
  }
}
