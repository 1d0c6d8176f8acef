/**
 * The built `missive` command's catalog and dashboard commands, against a SQLite bus file whose
 * services announce themselves: `services`, `asyncapi` and `dashboard` (its URL, its token, its
 * API, Ctrl-C).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, defineCommand, defineEvent, silentLogger, type Bus } from '@missive/core';
import { announce } from '@missive/dashboard';
import { startProcess } from '@missive/testing';
import { z } from 'zod';
import { buildCli, missiveMain, runMissive } from './test-support/run-cli.js';

const dir = tmpdir();
const db = join(dir, `missive-catalog-${randomUUID()}.db`);
const url = `sqlite://${db}`;
const out = join(dir, `missive-asyncapi-${randomUUID()}.json`);

const Charge = defineCommand('catalog.charge', z.object({ orderId: z.string(), amount: z.number() }));
const Charged = defineEvent('catalog.charged', z.object({ orderId: z.string() }));
let payment: Bus;
let audit: Bus;

beforeAll(async () => {
  buildCli();
  payment = createBus({ service: 'payment', transport: url, logger: silentLogger });
  payment.endpoint('payment', (e) => e.on(Charge, (cmd, ctx) => ctx.publish(Charged, { orderId: cmd.orderId })));
  announce(payment, { version: '3.1.0' });
  audit = createBus({ service: 'audit', transport: url, logger: silentLogger });
  audit.endpoint('audit', (e) => e.on(Charged, () => undefined));
  announce(audit);
  await payment.start();
  await audit.start();
  await payment.send(Charge, { orderId: 'o-1', amount: 3 });
}, 120_000);

afterAll(async () => {
  await payment?.stop();
  await audit?.stop();
  for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
  rmSync(out, { force: true });
});

describe('missive services, asyncapi and dashboard (built command)', () => {
  it('lists the live services and who sends and handles each contract', async () => {
    const { code, out: text } = await runMissive(url, ['services', '--json', '--wait', '1000']);
    expect(code).toBe(0);
    const { instances, contracts } = JSON.parse(text) as {
      instances: { service: string; version?: string }[];
      contracts: { name: string; sentBy: string[]; handledBy: string[] }[];
    };
    expect(instances.map((i) => [i.service, i.version])).toEqual([
      ['audit', undefined],
      ['payment', '3.1.0'],
    ]);
    expect(contracts.find((c) => c.name === Charged.name)).toMatchObject({ sentBy: ['payment'], handledBy: ['audit/audit'] });
    expect(contracts.find((c) => c.name === Charge.name)).toMatchObject({ handledBy: ['payment/payment'] });
    const table = await runMissive(url, ['services', '--wait', '1000']);
    expect(table.out).toMatch(/SERVICE\s+INSTANCE\s+STATUS\s+HEALTH\s+VERSION\s+HOST\s+ENDPOINTS/);
    expect(table.out).toMatch(/payment\s+\S+\s+live\s+ready\s+3\.1\.0/);
    expect(table.out).toMatch(/catalog\.charged\s+event\s+payment\s+audit\/audit/);
  });

  it("writes one service's AsyncAPI 3 document", async () => {
    const { code, out: text } = await runMissive(url, ['asyncapi', '--service', 'payment', '--out', out, '--wait', '1000']);
    expect(code).toBe(0);
    expect(text).toContain(`wrote ${out}`);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as {
      asyncapi: string;
      info: { title: string; version: string };
      channels: Record<string, { address: string }>;
    };
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.info).toMatchObject({ title: 'payment', version: '3.1.0' });
    expect(
      Object.values(doc.channels)
        .map((c) => c.address)
        .sort(),
    ).toEqual([Charge.name, Charged.name]);
  });

  it('serves the dashboard on 127.0.0.1 with the printed token, and stops on SIGTERM', async () => {
    const child = startProcess(process.execPath, [missiveMain, 'dashboard', '--token', 'a-long-enough-test-token'], {
      env: { MISSIVE_URL: url },
    });
    const [, address] = await child.waitFor(/^dashboard: (http:\/\/127\.0\.0\.1:\d+)\/#token=a-long-enough-test-token$/);
    expect((await fetch(`${address}/api/services`)).status).toBe(401);
    const res = await fetch(`${address}/api/services`, { headers: { authorization: 'Bearer a-long-enough-test-token' } });
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });
});
