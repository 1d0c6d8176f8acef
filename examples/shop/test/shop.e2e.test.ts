/**
 * The shop, end to end, as real processes: a run with a payment instance killed by SIGKILL mid-run
 * brings every order to a final state, loses none, and charges none twice. On SQLite always; on
 * RabbitMQ when it is reachable (required in CI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, startProcess } from '@missive/testing';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rabbitMqReachable } from './reachable.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

interface Report {
  ok: boolean;
  orders: number;
  confirmed: number;
  cancelled: number;
  lostOrStuck: string[];
  doubleCharged: string[];
  chargedButCancelled: string[];
  stockProblems: string[];
  retries: number;
}

async function runShop(env: Record<string, string>): Promise<Report> {
  const root = mkdtempSync(join(tmpdir(), 'missive-shop-'));
  roots.push(root);
  const shop = startProcess(
    process.execPath,
    [main, '--orders', '80', '--rate', '40', '--kill-payment-at', '25', '--fail-rate', '0.2', '--json', '--timeout-s', '90'],
    {
      env: { SHOP_DATA_ROOT: root, SHOP_PAYMENT_TIMEOUT_MS: '15000', ...env },
    },
  );
  const code = await shop.exited;
  const json = shop.lines.find((l) => l.startsWith('{'));
  if (json === undefined) throw new Error(`shop printed no report (exit ${String(code)}): ${shop.stderr().slice(-3000)}`);
  return JSON.parse(json) as Report;
}

function expectConsistent(report: Report): void {
  expect(report.orders).toBe(80);
  expect(report.lostOrStuck).toEqual([]);
  expect(report.doubleCharged).toEqual([]);
  expect(report.chargedButCancelled).toEqual([]);
  expect(report.stockProblems).toEqual([]);
  expect(report.confirmed + report.cancelled).toBe(80);
  expect(report.confirmed).toBeGreaterThan(0);
  expect(report.retries).toBeGreaterThan(0);
  expect(report.ok).toBe(true);
}

describe('shop end to end', () => {
  it('on SQLite: a payment instance killed mid-run loses no order and charges none twice', async () => {
    expectConsistent(await runShop({}));
  }, 180_000);

  it('on RabbitMQ: the same run, no code change', async (ctx) => {
    const url = process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
    if (!(await rabbitMqReachable(url))) {
      if (brokersRequired()) throw new Error('RabbitMQ not reachable at 127.0.0.1:5672 (MISSIVE_REQUIRE_BROKERS=1)');
      ctx.skip('RabbitMQ not reachable at 127.0.0.1:5672; set MISSIVE_REQUIRE_BROKERS=1 to fail instead');
      return;
    }
    // A vhost of its own: the run's exchanges and queues never meet another run's, and go with it.
    const vhost = `missive-shop-${randomBytes(4).toString('hex')}`;
    execFileSync('rabbitmqctl', ['add_vhost', vhost], { stdio: 'ignore' });
    execFileSync('rabbitmqctl', ['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], { stdio: 'ignore' });
    try {
      const base = new URL(url);
      base.pathname = `/${vhost}`;
      expectConsistent(await runShop({ MISSIVE_URL: base.href }));
    } finally {
      execFileSync('rabbitmqctl', ['delete_vhost', vhost], { stdio: 'ignore' });
    }
  }, 240_000);
});
