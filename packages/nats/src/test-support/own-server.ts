/**
 * A nats-server of a test's own, for the faults that need a server to stop and start (the shared one
 * on 4222 is never touched): JetStream on, a free loopback port, a temporary store directory, and
 * optional cluster settings. `restart` starts it again on the same port and store.
 *
 * @example
 * ```ts
 * const server = await startOwnServer();
 * await server.kill('SIGKILL');
 * await server.start();
 * await server.stop(); // and removes the store
 * ```
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, type TestProcess } from '@missive/testing';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Cluster settings of one node. */
export interface ClusterNode {
  readonly name: string;
  readonly clusterPort: number;
  /** `nats-route://127.0.0.1:<port>` of the other nodes. */
  readonly routes: readonly string[];
}

/** A server the test owns. */
export interface OwnServer {
  readonly port: number;
  readonly url: string;
  readonly storeDir: string;
  /** Starts it (again); resolves when it accepts clients. */
  start(): Promise<void>;
  /** Ends the process with `signal` and waits for it. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Ends it and removes its store. */
  stop(): Promise<void>;
}

/** Starts a `nats-server -js` of the test's own. */
export async function startOwnServer(options: { readonly port?: number; readonly cluster?: ClusterNode } = {}): Promise<OwnServer> {
  const port = options.port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'missive-nats-'));
  let process: TestProcess | undefined;
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];
  if (options.cluster !== undefined) {
    const c = options.cluster;
    args.push(
      '-n',
      c.name,
      '--cluster_name',
      'missive-test',
      '--cluster',
      `nats://127.0.0.1:${c.clusterPort}`,
      '--routes',
      c.routes.join(','),
    );
  }
  const server: OwnServer = {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    async start() {
      const started = startProcess('nats-server', args);
      process = started;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nats-server on ${port} did not start: ${started.stderr().slice(-1000)}`)), 20_000);
        const check = () => {
          if (started.stderr().includes('Server is ready')) {
            clearTimeout(timer);
            started.child.stderr?.off('data', check);
            resolve();
          }
        };
        started.child.stderr?.on('data', check);
        void started.exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`nats-server on ${port} exited (${String(code)}): ${started.stderr().slice(-1000)}`));
        });
        check();
      });
    },
    async kill(signal) {
      const running = process;
      process = undefined;
      if (running === undefined) return;
      running.kill(signal);
      await running.exited;
    },
    async stop() {
      await server.kill('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
