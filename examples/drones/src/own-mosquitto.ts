/**
 * A private Mosquitto for a run (`--own-mosquitto`): its own free port, config and data directory
 * with persistence, so the run can restart it (`--restart-mqtt-at`) without touching the shared
 * broker. Stopped with SIGTERM, which saves its sessions and queued QoS 1 messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running private broker. */
export interface OwnMosquitto {
  readonly url: string;
  /** SIGTERM, then start again on the same port and data; resolves when it listens. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Starts `mosquitto -c <temp config>`; fails with a clear error when the binary is missing. */
export async function startOwnMosquitto(): Promise<OwnMosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'missive-drones-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\n`);
  let child: ChildProcess | undefined;
  const up = async () => {
    const c = spawn('mosquitto', ['-c', config], { stdio: 'ignore' });
    child = c;
    const failed = new Promise<never>((_, reject) => {
      c.once('error', (error) => reject(new Error(`cannot run mosquitto: ${error.message}`)));
      c.once('exit', (code) => reject(new Error(`mosquitto exited with ${String(code)}`)));
    });
    const started = Date.now();
    for (;;) {
      if (await Promise.race([listening(port), failed])) break;
      if (Date.now() - started > 10_000) throw new Error(`mosquitto did not listen on ${port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    c.removeAllListeners('exit');
    failed.catch(() => undefined);
  };
  const down = async () => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await up();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async restart() {
      await down();
      await up();
    },
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
