/**
 * The drone delivery system end to end, as real processes on SQLite with telemetry over the real
 * Mosquitto: a small fleet, a few deliveries, one drone that stops reporting after its pickup
 * (detected by the telemetry timeout, its delivery reassigned and delivered by another drone),
 * malformed device messages (rejected visibly), and the delivery service SIGKILLed mid-run and
 * restarted (nothing lost: every delivery ends, history matches), drones serviced after each
 * delivery and after the fault (none assigned while in maintenance: the run's check); and a run on
 * a private Mosquitto restarted mid-run. A run ends on events (every delivery ended and archived), not on a fixed time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, startProcess } from '@missive/testing';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const mqttUrl = process.env.DRONES_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || 1883) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
  });
}

interface Report {
  ok: boolean;
  problems: string[];
  deliveries: number;
  delivered: number;
  failed: number;
  reassignedAfterLoss: number;
  lostDetected: number;
  rejectedDeviceMessages: number;
  telemetryMessages: number;
  killed: boolean;
  mqttRestarted: boolean;
  maintenance: number;
  maintenanceAfterFaults: number;
}

async function runDrones(args: string[]): Promise<{ report: Report; code: number | string }> {
  const root = mkdtempSync(join(tmpdir(), 'missive-drones-'));
  roots.push(root);
  const run = startProcess(
    process.execPath,
    [main, '--drones', '8', '--hz', '2', '--deliveries', '8', '--rate', '4', '--json', '--timeout-s', '120', ...args],
    {
      env: { DRONES_DATA_ROOT: root, DRONES_MQTT_URL: mqttUrl, DRONES_LOST_AFTER_MS: '4000', DRONES_MAINTENANCE_MS: '1500' },
    },
  );
  const code = await run.exited;
  const json = run.lines.find((l) => l.startsWith('{'));
  if (json === undefined) throw new Error(`drones printed no report (exit ${String(code)}): ${run.stderr().slice(-3000)}`);
  return { report: JSON.parse(json) as Report, code };
}

describe('drones end to end', () => {
  it('a silent drone is detected and its delivery reassigned; the delivery service SIGKILLed mid-run loses nothing; drones go into maintenance and are not assigned while in it', async (ctx) => {
    if (!(await reachable(mqttUrl))) {
      if (brokersRequired()) throw new Error(`Mosquitto not reachable at ${new URL(mqttUrl).host} (MISSIVE_REQUIRE_BROKERS=1)`);
      ctx.skip(`Mosquitto not reachable at ${new URL(mqttUrl).host}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
      return;
    }
    // Every drone is serviced after each delivery (1.5 s): 8 deliveries on 7 working drones need one back from maintenance.
    const { report, code } = await runDrones(['--lose', '1', '--malformed', '2', '--kill-delivery-at', '4', '--maintenance-after', '1']);
    expect(report.problems).toEqual([]);
    expect(report.deliveries).toBe(8);
    expect(report.delivered + report.failed).toBe(8);
    expect(report.delivered).toBe(8);
    expect(report.lostDetected).toBeGreaterThanOrEqual(1);
    expect(report.reassignedAfterLoss).toBeGreaterThanOrEqual(1);
    expect(report.rejectedDeviceMessages).toBe(2);
    expect(report.telemetryMessages).toBeGreaterThan(0);
    expect(report.killed).toBe(true);
    expect(report.maintenance).toBeGreaterThanOrEqual(8); // each delivery, and the lost drone's fault
    expect(report.maintenanceAfterFaults).toBeGreaterThanOrEqual(1);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
  }, 180_000);

  it('a private Mosquitto restarted mid-run: drones, bridge and fleet reconnect and every delivery ends delivered', async (ctx) => {
    if (spawnSync('mosquitto', ['-h']).error !== undefined) {
      if (brokersRequired()) throw new Error('the mosquitto binary is not installed (MISSIVE_REQUIRE_BROKERS=1)');
      ctx.skip('the mosquitto binary is not installed; this test starts a private broker to restart it');
      return;
    }
    const { report, code } = await runDrones(['--lose', '0', '--malformed', '0', '--own-mosquitto', '--restart-mqtt-at', '4']);
    expect(report.problems).toEqual([]);
    expect(report.mqttRestarted).toBe(true);
    expect(report.delivered).toBe(8);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
  }, 180_000);
});
