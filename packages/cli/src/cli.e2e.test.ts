/**
 * The built `missive` command, end to end, against a SQLite bus file that a bus in this process
 * fills: queues, dead letters (list, show, replay, purge), publish (argument and stdin), tail, and
 * the error exits.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, defineCommand, defineEvent, silentLogger, type Bus } from '@missive/core';
import { startProcess } from '@missive/testing';
import { z } from 'zod';
import { buildCli, missiveMain as main, runMissive, until } from './test-support/run-cli.js';

const db = join(tmpdir(), `missive-cli-${randomUUID()}.db`);
const url = `sqlite://${db}`;

const Charge = defineCommand('cli.charge', z.object({ orderId: z.string(), amount: z.number() }));
const Placed = defineEvent('cli.order-placed', z.object({ orderId: z.string() }));
let bus: Bus;
let healthy = false;
const charged: string[] = [];

const missive = (args: readonly string[], input?: string) => runMissive(url, args, input);

beforeAll(async () => {
  buildCli();
  bus = createBus({ service: 'payment', transport: url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
  bus.endpoint('payment', (e) =>
    e.on(Charge, (cmd) => {
      if (!healthy) throw new Error(`card gateway down for ${cmd.orderId}`);
      charged.push(cmd.orderId);
    }),
  );
  bus.endpoint('audit', (e) => e.on(Placed, () => undefined));
  await bus.start();
  for (const n of [1, 2, 3]) await bus.send(Charge, { orderId: `o-${n}`, amount: n * 10 }, { messageId: `m-${n}` });
  await until(() => bus.stats().endpoints.payment!.deadLettered === 3, 'three dead letters');
}, 120_000);

afterAll(async () => {
  await bus?.stop();
  for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
});

describe('missive (built command)', () => {
  it('lists queues with their depths and dead-letter counts', async () => {
    const { code, out } = await missive(['queues', '--json']);
    expect(code).toBe(0);
    const queues = JSON.parse(out) as { name: string; deadLetters: number; topics: string[] }[];
    expect(queues.find((q) => q.name === 'payment')).toMatchObject({ deadLetters: 3, topics: ['cli.charge'] });
    const text = await missive(['queues']);
    expect(text.out).toMatch(/NAME\s+DEPTH\s+INFLIGHT\s+DEADLETTERS\s+TOPICS/);
  });

  it('lists and shows dead letters', async () => {
    const list = await missive(['dlq', 'list', 'payment', '--json']);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.out) as { id: string; reason: string; error: string }[];
    expect(rows.map((r) => r.id)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(rows[0]).toMatchObject({ reason: 'HANDLER_FAILED', error: 'Error: card gateway down for o-1' });
    const show = await missive(['dlq', 'show', 'payment', 'm-2', '--json']);
    const letter = JSON.parse(show.out) as { failure: { attempts: number; endpoint: string }; envelope: { data: unknown; type: string } };
    expect(letter.failure).toMatchObject({ attempts: 1, endpoint: 'payment' });
    expect(letter.envelope).toMatchObject({ type: 'cli.charge', data: { orderId: 'o-2', amount: 20 } });
  });

  it('replays by id and by type, and purges all with --yes', async () => {
    healthy = true;
    const one = await missive(['dlq', 'replay', 'payment', 'm-1']);
    expect(one).toMatchObject({ code: 0 });
    expect(one.out).toContain('replayed 1 message(s)');
    await until(() => charged.includes('o-1'), 'o-1 handled after replay');
    const byType = await missive(['dlq', 'replay', 'payment', '--type', 'cli.charge', '--json']);
    expect(JSON.parse(byType.out)).toEqual({ replayed: 2 });
    await until(() => charged.length === 3, 'all handled');
    healthy = false;
    await bus.send(Charge, { orderId: 'o-9', amount: 1 });
    await until(() => bus.stats().endpoints.payment!.deadLettered === 4, 'a new dead letter');
    const refused = await missive(['dlq', 'purge', 'payment', '--all']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--yes');
    const purged = await missive(['dlq', 'purge', 'payment', '--all', '--yes', '--json']);
    expect(JSON.parse(purged.out)).toEqual({ purged: 1 });
  });

  it('publishes from an argument and from stdin, and tails live', async () => {
    const tail = startProcess(process.execPath, [main, 'tail', 'cli.#', '--count', '2', '--json'], { env: { MISSIVE_URL: url } });
    try {
      await until(() => tail.stderr().includes('tailing'), 'tail to start');
      const fromArg = await missive(['publish', 'cli.order-placed', '{"orderId":"o-7"}', '--correlation-id', 'corr-7']);
      expect(fromArg.code).toBe(0);
      const fromStdin = await missive(['publish', 'cli.charge', '--kind', 'command'], '{"orderId":"o-8","amount":5}');
      expect(fromStdin.code).toBe(0);
      expect(await tail.exited).toBe(0);
      const seen = tail.lines.map((l) => JSON.parse(l) as { type: string; correlationId: string; data: unknown });
      expect(seen.map((s) => s.type)).toEqual(['cli.order-placed', 'cli.charge']);
      expect(seen[0]).toMatchObject({ correlationId: 'corr-7', data: { orderId: 'o-7' } });
      expect((await bus.transport.queues()).some((q) => q.name.startsWith('missive-tail-'))).toBe(false);
    } finally {
      tail.kill('SIGKILL');
    }
  });

  it('fails clearly: bad URL (no password shown), bad JSON, unknown queue, unroutable command, unknown command', async () => {
    const badUrl = await missive(['queues', '--url', 'kafka://admin:hunter2@somewhere']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).toContain('needs the package @missive/kafka');
    expect(badUrl.err).not.toContain('hunter2');
    const badJson = await missive(['publish', 'cli.order-placed', '{oops']);
    expect(badJson).toMatchObject({ code: 2 });
    expect(badJson.err).toContain('not valid JSON');
    const noQueue = await missive(['dlq', 'list', 'nowhere']);
    expect(noQueue.code).toBe(2);
    expect(noQueue.err).toContain('no queue named "nowhere"');
    const unroutable = await missive(['publish', 'cli.nobody-home', '{}', '--kind', 'command']);
    expect(unroutable.code).toBe(1);
    expect(unroutable.err).toContain('unroutable');
    const unknown = await missive(['frobnicate']);
    expect(unknown.code).toBe(2);
    const noUrl = startProcess(process.execPath, [main, 'queues'], { env: { MISSIVE_URL: '' } });
    expect(await noUrl.exited).toBe(2);
    expect(noUrl.stderr()).toContain('pass --url or set MISSIVE_URL');
  });
});
