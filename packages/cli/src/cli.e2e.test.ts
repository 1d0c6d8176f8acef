/**
 * The built `missive` command, end to end, against a SQLite bus file that a bus in this process
 * fills: queues, dead letters (list, show, replay, purge), publish (argument and stdin), tail, and
 * the error exits.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, createEnvelope, defineCommand, defineEvent, silentLogger, type Bus } from '@missive/core';
import { startProcess } from '@missive/testing';
import { z } from 'zod';
import { buildCli, missiveMain as main, runMissive, until } from './test-support/run-cli.js';

const db = join(tmpdir(), `missive-cli-${randomUUID()}.db`);
const url = `sqlite://${db}`;

const Charge = defineCommand('cli.charge', z.object({ orderId: z.string(), amount: z.number() }));
const Placed = defineEvent('cli.order-placed', z.object({ orderId: z.string() }));
const Refund = defineCommand('cli.refund', z.object({ orderId: z.string() }));
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
    expect(text.out).toMatch(/NAME\s+DEPTH\s+INFLIGHT\s+DEADLETTERS\s+CONSUMERS\s+OWNS\s+TOPICS\s+WARNING/);
  });

  it('shows which endpoint owns each command, and flags a queue with messages and no consumer', async () => {
    const commands = await missive(['commands', '--json']);
    expect(commands.code).toBe(0);
    expect(JSON.parse(commands.out)).toEqual([
      expect.objectContaining({ type: 'cli.charge', owner: 'payment', service: 'payment', alsoBound: [] }),
    ]);
    // An endpoint of an earlier deployment: it owns cli.refund, is stopped, and commands keep coming.
    const leftover = createBus({ service: 'refunds', transport: url, logger: silentLogger });
    leftover.endpoint('refunds-v1', (e) => e.on(Refund, () => undefined));
    await leftover.start();
    await leftover.stop();
    const sent = await missive(['publish', 'cli.refund', '{"orderId":"o-1"}', '--kind', 'command']);
    expect(sent.code).toBe(0);
    type Row = { name: string; depth: number; consumers: number; owns: string[]; stale: boolean; warning?: string; idleSince?: string };
    const rows = async (args: readonly string[]) => JSON.parse((await missive(['queues', '--json', ...args])).out) as Row[];
    // SQLite records consumers with each process's heartbeat (every 2 s).
    await until(async () => (await rows([])).find((q) => q.name === 'payment')?.consumers === 1, 'the payment consumer to be recorded');
    const flagged = JSON.parse((await missive(['queues', '--json', '--stale-after', '0'])).out) as Row[];
    expect(flagged.find((q) => q.name === 'refunds-v1')).toMatchObject({ depth: 1, consumers: 0, owns: ['cli.refund'], stale: true });
    expect(flagged.find((q) => q.name === 'refunds-v1')!.warning).toMatch(/^1 waiting and no consumer for \d+s$/);
    expect(flagged.find((q) => q.name === 'payment')).toMatchObject({ consumers: 1, owns: ['cli.charge'], stale: false });
    // Idle for less than the default five minutes: not flagged yet.
    const fresh = JSON.parse((await missive(['queues', '--json'])).out) as Row[];
    expect(fresh.find((q) => q.name === 'refunds-v1')).toMatchObject({ stale: false });
    const text = await missive(['queues', '--stale-after', '0']);
    expect(text.out).toMatch(/refunds-v1 .*cli\.refund .*1 waiting and no consumer for/);
    // The operator removes the leftover: the queue goes, and so does its claim.
    expect((await missive(['queues', 'delete', 'refunds-v1'])).code).toBe(2);
    const deleted = await missive(['queues', 'delete', 'refunds-v1', '--yes', '--json']);
    expect(JSON.parse(deleted.out)).toEqual({ deleted: 'refunds-v1', released: ['cli.refund'] });
    expect((JSON.parse((await missive(['queues', '--json'])).out) as Row[]).some((q) => q.name === 'refunds-v1')).toBe(false);
    expect((JSON.parse((await missive(['commands', '--json'])).out) as { type: string }[]).map((c) => c.type)).toEqual(['cli.charge']);
  });

  it('lists and shows dead letters', async () => {
    const list = await missive(['dlq', 'list', 'payment', '--json']);
    expect(list.code).toBe(0);
    const page = JSON.parse(list.out) as {
      total: number;
      offset: number;
      limit: number;
      deadLetters: { id: string; reason: string; error: string; time: string }[];
    };
    expect(page).toMatchObject({ total: 3, offset: 0, limit: 50 });
    expect(page.deadLetters.map((r) => r.id)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(page.deadLetters[0]).toMatchObject({ reason: 'HANDLER_FAILED', error: 'Error: card gateway down for o-1' });
    const limited = await missive(['dlq', 'list', 'payment', '--limit', '2']);
    expect(limited.out).toContain('1-2 of 3 dead letter(s); --offset 2 for the next 1');
    const show = await missive(['dlq', 'show', 'payment', 'm-2', '--json']);
    const letter = JSON.parse(show.out) as {
      failure: { attempts: number; endpoint: string; time: string };
      headers: Record<string, string>;
      envelope: { data: unknown; type: string };
    };
    expect(letter.failure).toMatchObject({ attempts: 1, endpoint: 'payment' });
    // One attempt count (the failure's) and one time format (ISO, as in `list`).
    expect(letter.headers).not.toHaveProperty('missive-attempts');
    expect(letter.failure.time).toBe(page.deadLetters[1]!.time);
    expect(letter.failure.time).toMatch(/^\d{4}-\d\d-\d\dT/);
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

  it('tails on past a payload nested too deeply to serialize, shown as undecodable', async () => {
    const tail = startProcess(process.execPath, [main, 'tail', 'deep.#', '--count', '2', '--json'], { env: { MISSIVE_URL: url } });
    try {
      await until(() => tail.stderr().includes('tailing'), 'tail to start');
      // Written by hand: encoding such a payload overflows the stack on this side too.
      const envelope = createEnvelope({ id: 'm-deep', type: 'deep.thing', source: '/missive/test', data: null });
      const deep = '['.repeat(200_000) + ']'.repeat(200_000);
      const body = new TextEncoder().encode(JSON.stringify(envelope).replace('"data":null', `"data":${deep}`));
      await bus.transport.publish('deep.thing', { id: 'm-deep', type: 'deep.thing', body, headers: {} });
      expect((await missive(['publish', 'deep.after', '{"ok":true}'])).code).toBe(0);
      expect(await tail.exited).toBe(0);
      const seen = tail.lines.map((l) => JSON.parse(l) as { type: string; id: string; undecodable?: string; data?: unknown });
      expect(seen).toMatchObject([
        { type: 'deep.thing', id: 'm-deep', undecodable: 'Maximum call stack size exceeded' },
        { type: 'deep.after', data: { ok: true } },
      ]);
    } finally {
      tail.kill('SIGKILL');
    }
  });

  it('shows a dead letter whose payload is nested too deeply to serialize, raw', async () => {
    const queue = `deep-${randomUUID().slice(0, 8)}`;
    await bus.transport.declare({ name: queue, topics: [] });
    try {
      const envelope = createEnvelope({ id: 'm-deep-letter', type: 'deep.thing', source: '/missive/test', data: null });
      const deep = '['.repeat(200_000) + ']'.repeat(200_000);
      const body = new TextEncoder().encode(JSON.stringify(envelope).replace('"data":null', `"data":${deep}`));
      await bus.transport.send(queue, { id: 'm-deep-letter', type: 'deep.thing', body, headers: {} });
      const consumer = bus.transport.consume(queue, { prefetch: 1 });
      for await (const delivery of consumer) {
        await delivery.deadLetter({
          reason: 'VALIDATION',
          errorName: 'ValidationError',
          errorMessage: 'too deep',
          attempts: 1,
          endpoint: queue,
          service: 'test',
          host: 'h',
          time: Date.now(),
        });
        break;
      }
      await consumer.close();
      const shown = await missive(['dlq', 'show', queue, 'm-deep-letter', '--json']);
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.out)).toMatchObject({ type: 'deep.thing', envelope: { undecodable: 'Maximum call stack size exceeded' } });
    } finally {
      await bus.transport.deleteQueue(queue);
    }
  });

  it('fails clearly: bad URL (no password shown), bad JSON, unknown queue, unroutable command, unknown command', async () => {
    const badUrl = await missive(['queues', '--url', 'kafka://admin:hunter2@somewhere']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).toContain('needs the package @missive/kafka');
    expect(badUrl.err).not.toContain('hunter2');
    // A NATS token (the user part without a password) is a secret too: port 1 refuses the connection.
    const natsToken = await missive(['queues', '--url', 'nats://S3cr3tT0ken@127.0.0.1:1']);
    expect(natsToken.code).toBe(1);
    expect(natsToken.err).toContain('cannot connect to NATS at nats://***@127.0.0.1:1');
    expect(natsToken.err + natsToken.out).not.toContain('S3cr3tT0ken');
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

  it('never creates a bus: a sqlite path with no bus file is a usage error, and nothing is written', async () => {
    const dir = join(tmpdir(), `missive-cli-none-${randomUUID()}`);
    const missing = await missive(['queues', '--url', `sqlite://${dir}/bus.db`]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no Missive bus at');
    expect(existsSync(dir)).toBe(false);
    const notABus = join(tmpdir(), `missive-cli-empty-${randomUUID()}.db`);
    writeFileSync(notABus, '');
    try {
      const empty = await missive(['queues', '--url', `sqlite://${notABus}`]);
      expect(empty.code).toBe(2);
      expect(empty.err).toContain('is not a Missive bus');
    } finally {
      rmSync(notABus, { force: true });
    }
  });

  it('with --json, errors are JSON documents on stderr too', async () => {
    const noQueue = await missive(['dlq', 'list', 'nowhere', '--json']);
    expect(noQueue.code).toBe(2);
    expect(JSON.parse(noQueue.err)).toEqual({
      error: { name: 'UsageError', message: 'no queue named "nowhere"; `missive queues` lists them', exitCode: 2 },
    });
    const badFlag = await missive(['queues', '--json', '--frobnicate']);
    expect(badFlag.code).toBe(2);
    expect(JSON.parse(badFlag.err)).toMatchObject({ error: { name: 'UsageError', exitCode: 2 } });
  });
});
