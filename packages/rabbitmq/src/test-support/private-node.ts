/**
 * A RabbitMQ node of a test's own, for tests that kill a broker: the installed `rabbitmq-server`
 * started under its own node name, AMQP and distribution ports, and data directory (under the
 * system temp dir), so the shared broker on 5672 is never touched. Needs to run as root (the
 * Debian wrapper starts the node as the `rabbitmq` user, which must own the directory).
 *
 * @example
 * ```ts
 * const node = await startPrivateNode({ name: `missive-kill-${run}` }); // a free port
 * await node.kill();   // SIGKILL, as a crash
 * await node.start();  // the same data directory: durable queues come back
 * await node.stop();   // and delete its directory
 * ```
 * @module
 */
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A node this test started. */
export interface PrivateNode {
  /** `amqp://guest:guest@127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly nodeName: string;
  /** Kills the node's Erlang VM with SIGKILL (a crash: nothing flushed, nothing said goodbye). */
  kill(): Promise<void>;
  /** Starts it again on the same data directory; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stops it gracefully (`rabbitmqctl stop`) and starts it again on the same data. */
  restart(): Promise<void>;
  /** Stops it and deletes its directory. */
  stop(): Promise<void>;
}

/** Why a private node cannot run here, or undefined when it can. */
export async function privateNodeUnavailable(): Promise<string | undefined> {
  if (userInfo().uid !== 0) return 'a private RabbitMQ node needs root (rabbitmq-server runs as the rabbitmq user)';
  try {
    await run('id', ['rabbitmq']);
  } catch {
    return 'no rabbitmq user: rabbitmq-server is not installed';
  }
  if (!existsSync('/usr/sbin/rabbitmq-server') && !existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server'))
    return 'rabbitmq-server is not installed';
  return undefined;
}

/** A TCP port nothing listens on now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a node named `<name>@localhost` listening on `port` (by default a free one; distribution
 * on another free port), so runs on one machine at once do not collide.
 */
export async function startPrivateNode(options: { readonly name: string; readonly port?: number }): Promise<PrivateNode> {
  const nodeName = `${options.name}@localhost`;
  const port = options.port ?? (await freePort());
  const distPort = await freePort();
  const dir = join(tmpdir(), `missive-node-${options.name}`);
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ['', 'mnesia', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = ${port}\nloopback_users = none\n`);
  const { stdout } = await run('id', ['-u', 'rabbitmq']);
  const { stdout: gid } = await run('id', ['-g', 'rabbitmq']);
  const chown = (path: string) => chownSync(path, Number(stdout.trim()), Number(gid.trim()));
  for (const sub of ['', 'mnesia', 'log', 'enabled_plugins', 'rabbitmq.conf']) chown(join(dir, sub));
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const pidFile = join(dir, 'pid');

  const start = async (): Promise<void> => {
    rmSync(pidFile, { force: true });
    const child = spawn('rabbitmq-server', [], { env, detached: true, stdio: 'ignore' });
    child.unref();
    // await_startup waits for the pid file, then for the node to boot.
    await run('rabbitmqctl', ['-n', nodeName, 'wait', '--timeout', '120', pidFile], { timeout: 130_000 });
  };
  const pid = (): number | undefined => {
    try {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const gone = async (p: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(p, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  await start();
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    nodeName,
    async kill() {
      const p = pid();
      if (p === undefined) return;
      process.kill(p, 'SIGKILL');
      await gone(p);
    },
    start,
    async restart() {
      const p = pid();
      await run('rabbitmqctl', ['-n', nodeName, 'stop'], { timeout: 120_000 });
      if (p !== undefined) await gone(p);
      await start();
    },
    async stop() {
      const p = pid();
      await run('rabbitmqctl', ['-n', nodeName, 'stop'], { timeout: 60_000 }).catch(() => undefined);
      if (p !== undefined) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await gone(p);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
