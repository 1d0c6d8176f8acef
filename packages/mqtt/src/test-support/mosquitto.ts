/**
 * What the MQTT integration tests share: the broker URL (`MISSIVE_MQTT_URL`, else the local
 * Mosquitto), the check that skips a test with its reason when the broker is not there (or fails it
 * under `MISSIVE_REQUIRE_BROKERS=1`), a unique topic prefix per run, and a private Mosquitto on
 * its own port and data directory for the restart test (the shared one is never restarted) and the
 * password test (the shared one lets anyone in and ignores passwords).
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { brokersRequired } from '@missive/testing';

/** The broker the tests use. */
export const mqttUrl = process.env.MISSIVE_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

/** A prefix no other run uses. */
export const runPrefix = () => `missive-test/${randomUUID().slice(0, 8)}`;

/** Whether something listens at host:port. */
export function reachable(url: string): Promise<boolean> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port || 1883) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
  });
}

/** True when the broker answers; otherwise skips with the reason, or throws when brokers are required. */
export async function needMosquitto(ctx: { skip: (note?: string) => void }, url = mqttUrl): Promise<boolean> {
  if (await reachable(url)) return true;
  const problem = `Mosquitto not reachable at ${new URL(url).host}`;
  if (brokersRequired()) throw new Error(`${problem} (MISSIVE_REQUIRE_BROKERS=1)`);
  ctx.skip(`${problem}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
  return false;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A private Mosquitto with persistence, on its own port and data directory. */
export interface OwnMosquitto {
  readonly url: string;
  /** Stops it (SIGTERM: it saves its sessions) and starts it again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** With `users` at start: replaces the users and their passwords, and has Mosquitto reload them (SIGHUP); connected clients stay. */
  setUsers(users: Readonly<Record<string, string>>): void;
}

/** Writes a Mosquitto password file with `users` (`mosquitto_passwd -b`). */
function writeUsers(file: string, users: Readonly<Record<string, string>>): void {
  writeFileSync(file, '');
  for (const [user, password] of Object.entries(users)) {
    const made = spawnSync('mosquitto_passwd', ['-b', file, user, password], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.error?.message ?? made.stderr}`);
  }
}

/**
 * Starts a private Mosquitto (`mosquitto -c <temp config>`); throws if the binary is missing. With
 * `users`, it lets only them in (a password file made by `mosquitto_passwd`), no anonymous client.
 */
export async function startOwnMosquitto(options: { readonly users?: Readonly<Record<string, string>> } = {}): Promise<OwnMosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'missive-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  const passwords = join(dir, 'passwords');
  let access = 'allow_anonymous true\n';
  if (options.users !== undefined) {
    writeUsers(passwords, options.users);
    access = `allow_anonymous false\npassword_file ${passwords}\n`;
  }
  // `user`: started as root, Mosquitto would run as the `mosquitto` user, which cannot read the private temp directory.
  writeFileSync(
    config,
    `listener ${port} 127.0.0.1\nuser ${userInfo().username}\n${access}persistence true\npersistence_location ${dir}/\nautosave_interval 1\n`,
  );
  const url = `mqtt://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const up = async () => {
    child = spawn('mosquitto', ['-c', config], { stdio: 'ignore' });
    const started = Date.now();
    while (!(await reachable(url))) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
      if (Date.now() - started > 10_000) throw new Error('mosquitto did not listen within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
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
    url,
    async restart() {
      await down();
      await up();
    },
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
    setUsers(users) {
      if (options.users === undefined) throw new Error('this Mosquitto was started without users');
      writeUsers(passwords, users);
      child?.kill('SIGHUP');
    },
  };
}
