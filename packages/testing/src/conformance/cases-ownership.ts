/**
 * One owner per command: a command (or query) type is handled by one endpoint; a second endpoint
 * that handles it is refused at start, in one bus, across buses and across processes; a deliberate
 * take-over moves it; events still fan out and taps still take copies. Also what `queues()` says
 * about consumers (the CLI flags a queue with messages and no consumer).
 *
 * @example
 * ```ts
 * ownershipCases(test);
 * ```
 * @module
 */
import { expect } from 'vitest';
import { z } from 'zod';
import { CommandOwnerConflictError, ConfigurationError, type Transport } from '@missive/core';
import type { CommandOwnership } from '@missive/core/transport';
import { range, type CaseRegistrar } from './case.js';
import { child } from './cases-processes.js';
import type { Environment } from './environment.js';

const Num = z.object({ n: z.number().int() });

/** Waits until `queues()` shows `queue` with `depth` messages; returns its info. */
async function depthOf(env: Environment, transport: Transport, queue: string, depth: number) {
  const list = await env.eventually(
    () => transport.queues(),
    (qs) => qs.find((q) => q.name === queue)?.depth === depth,
    `${queue} to hold ${depth}`,
  );
  return list.find((q) => q.name === queue)!;
}

/** The transport's command owners; fails saying what to do when the target claims them and has none. */
function ownersOf(transport: Transport): CommandOwnership {
  if (transport.commandOwners === undefined) {
    throw new Error(
      `the ${transport.kind} transport has no commandOwners: implement CommandOwnership (see transport/command-owners.ts in @missive/core) or declare features.commandOwners = false`,
    );
  }
  return transport.commandOwners;
}

/** Registers the ownership cases. */
export function ownershipCases(test: CaseRegistrar): void {
  test('two endpoints of one bus that handle one command are refused at start, naming both', async (env) => {
    const DoThing = env.command('do-thing', Num);
    const bus = env.bus('one');
    bus.endpoint(env.name('alpha'), (e) => e.on(DoThing, () => undefined));
    bus.endpoint(env.name('gamma'), (e) => e.on(DoThing, () => undefined));
    const error = await bus.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toBeInstanceOf(CommandOwnerConflictError);
    expect((error as Error).message).toContain(env.name('alpha'));
    expect((error as Error).message).toContain(env.name('gamma'));
    expect((error as Error).message).toContain(DoThing.name);
  });

  test(
    'a second endpoint that handles an owned command is refused at start, and each command is handled once',
    async (env) => {
      ownersOf(await env.transport());
      const DoThing = env.command('do-thing', Num);
      const alpha = env.name('alpha');
      const gamma = env.name('gamma');
      const handled = { alpha: [] as number[], gamma: [] as number[] };
      const first = env.bus('service-a');
      first.endpoint(alpha, (e) => e.on(DoThing, (m) => void handled.alpha.push(m.n)));
      await first.start();
      const second = env.bus('service-b');
      second.endpoint(gamma, (e) => e.on(DoThing, (m) => void handled.gamma.push(m.n)));
      const error = await second.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CommandOwnerConflictError);
      expect(error).toMatchObject({ messageType: DoThing.name, owner: alpha, claimant: gamma });
      expect((error as Error).message).toContain(alpha);
      expect((error as Error).message).toContain(gamma);
      for (const n of range(10)) await first.send(DoThing, { n });
      await env.until(() => handled.alpha.length === 10, 'ten commands on alpha');
      const admin = await env.transport();
      // The refused endpoint was never bound: its queue does not exist, so it holds no copies.
      expect((await admin.queues()).some((q) => q.name === gamma)).toBe(false);
      expect(handled.gamma).toEqual([]);
      expect(await ownersOf(admin).owners()).toContainEqual(
        expect.objectContaining({ type: DoThing.name, queue: alpha, service: 'service-a' }),
      );
    },
    { needs: ['commandOwners'] },
  );

  test(
    'queries follow the same rule: a second responder endpoint is refused',
    async (env) => {
      ownersOf(await env.transport());
      const GetStock = env.query('get-stock', z.object({ sku: z.string() }), z.object({ available: z.number() }));
      const first = env.bus('inventory');
      first.endpoint(env.name('stock'), (e) => e.reply(GetStock, () => ({ available: 3 })));
      await first.start();
      const second = env.bus('warehouse');
      second.endpoint(env.name('stock-copy'), (e) => e.reply(GetStock, () => ({ available: 99 })));
      await expect(second.start()).rejects.toThrow(CommandOwnerConflictError);
      const client = env.bus('client');
      await client.start();
      expect(await client.request(GetStock, { sku: 'x' })).toEqual({ available: 3 });
    },
    { needs: ['commandOwners'] },
  );

  test('instances of one endpoint compete: both start and share the commands', async (env) => {
    const Work = env.command('owned-work', Num);
    const endpoint = env.name('workers');
    const got: number[] = [];
    const buses = range(2).map((i) => {
      const bus = env.bus(`instance-${i}`);
      bus.endpoint(endpoint, (e) => e.on(Work, (m) => void got.push(m.n)));
      return bus;
    });
    await Promise.all(buses.map((b) => b.start()));
    await Promise.all(range(20).map((n) => buses[n % 2]!.send(Work, { n })));
    await env.until(() => got.length >= 20, 'twenty commands');
    await env.settle();
    expect([...got].sort((a, b) => a - b)).toEqual(range(20));
  });

  test('events fan out to every subscriber; a tap takes copies of commands without owning them', async (env) => {
    const Happened = env.event('happened', Num);
    const DoThing = env.command('tapped-command', Num);
    const got = { one: [] as number[], two: [] as number[], owner: [] as number[], tap: [] as string[] };
    const a = env.bus('fan-a');
    a.endpoint(env.name('sub-one'), (e) => e.on(Happened, (m) => void got.one.push(m.n)));
    a.endpoint(env.name('owner'), (e) => e.on(DoThing, (m) => void got.owner.push(m.n)));
    const b = env.bus('fan-b');
    b.endpoint(env.name('sub-two'), (e) => e.on(Happened, (m) => void got.two.push(m.n)));
    b.endpoint(env.name('audit'), (e) => e.tap(`${env.prefix}.#`, (envelope) => void got.tap.push(envelope.type)));
    await a.start();
    await b.start();
    await a.publish(Happened, { n: 1 });
    await a.send(DoThing, { n: 2 });
    await env.until(
      () => got.one.length === 1 && got.two.length === 1 && got.owner.length === 1 && got.tap.length === 2,
      'both subscribers, the owner and the tap',
    );
    await env.settle();
    expect(got).toEqual({ one: [1], two: [1], owner: [2], tap: expect.arrayContaining([Happened.name, DoThing.name]) });
    const owners = await a.transport.commandOwners?.owners();
    if (owners !== undefined) expect(owners.filter((o) => o.type === DoThing.name).map((o) => o.queue)).toEqual([env.name('owner')]);
  });

  test(
    'takeOver moves a command deliberately: the old owner is unbound and keeps what it holds, each message with its type',
    async (env) => {
      const DoThing = env.command('moved', Num);
      const Kept = env.command('kept', Num); // a type the old owner keeps
      const before = env.name('before');
      const after = env.name('after');
      const old = env.bus('old-service');
      old.endpoint(before, (e) => e.on(DoThing, () => undefined).on(Kept, () => undefined));
      await old.start();
      await old.stop();
      const sender = env.bus('sender');
      await sender.start();
      await sender.send(DoThing, { n: 0 }); // waits in the old owner's queue
      await sender.send(Kept, { n: 100 }); // and so does this one
      const admin = await env.transport();
      await depthOf(env, admin, before, 2);
      const got: { type: string; n: number }[] = [];
      const next = env.bus('new-service');
      next.endpoint(after, (e) => e.on(DoThing, (m, ctx) => void got.push({ type: ctx.envelope.type, n: m.n })), { takeOver: true });
      await next.start();
      for (const n of range(5)) await sender.send(DoThing, { n: n + 1 });
      await env.until(() => got.length === 5, 'five commands on the new owner');
      // Sends resolve once the message is in every bound queue: the old owner got none of them.
      expect((await depthOf(env, admin, before, 2)).depth).toBe(2);
      expect(got.sort((a, b) => a.n - b.n)).toEqual(range(5).map((n) => ({ type: DoThing.name, n: n + 1 })));
      const owners = await ownersOf(admin).owners();
      expect(owners.filter((o) => o.type === DoThing.name)).toEqual([expect.objectContaining({ queue: after, service: 'new-service' })]);
      expect(owners.filter((o) => o.type === Kept.name)).toEqual([expect.objectContaining({ queue: before })]);
      // The old code started again is refused now: the move stays made.
      const again = env.bus('old-service');
      again.endpoint(before, (e) => e.on(DoThing, () => undefined).on(Kept, () => undefined));
      await expect(again.start()).rejects.toThrow(CommandOwnerConflictError);
      // What the old queue kept still has its types: the old service without the moved type handles
      // the kept command as its own, and a tap takes the moved one as a DoThing. A message that lost
      // its type on the move would be dead-lettered as an unknown type instead.
      const kept: { type: string; n: number; by: string }[] = [];
      const dead: string[] = [];
      const back = env.bus('old-service');
      back.on('dead-lettered', (d) => void dead.push(`${d.type || '(no type)'}: ${d.reason}`));
      back.endpoint(before, (e) =>
        e
          .on(Kept, (m, ctx) => void kept.push({ type: ctx.envelope.type, n: m.n, by: 'handler' }))
          .tap(DoThing.name, (envelope) => void kept.push({ type: envelope.type, n: (envelope.data as { n: number }).n, by: 'tap' })),
      );
      await back.start();
      await env.until(() => kept.length + dead.length >= 2, 'the two messages the old queue kept');
      expect(dead).toEqual([]);
      expect(kept.sort((a, b) => a.n - b.n)).toEqual([
        { type: DoThing.name, n: 0, by: 'tap' },
        { type: Kept.name, n: 100, by: 'handler' },
      ]);
    },
    { needs: ['commandOwners'] },
  );

  test(
    'deleting the owner queue releases its commands',
    async (env) => {
      const DoThing = env.command('released', Num);
      const first = env.bus('first');
      first.endpoint(env.name('first-owner'), (e) => e.on(DoThing, () => undefined));
      await first.start();
      await first.stop();
      const admin = await env.transport();
      await admin.deleteQueue(env.name('first-owner'));
      expect((await ownersOf(admin).owners()).some((o) => o.type === DoThing.name)).toBe(false);
      const got: number[] = [];
      const second = env.bus('second');
      second.endpoint(env.name('second-owner'), (e) => e.on(DoThing, (m) => void got.push(m.n)));
      await second.start();
      await second.send(DoThing, { n: 7 });
      await env.until(() => got.length === 1, 'the command on the new owner');
    },
    { needs: ['commandOwners'] },
  );

  test(
    'two claims of one command at the same instant: exactly one wins',
    async (env) => {
      const [a, b] = await Promise.all([env.transport(), env.transport()]);
      for (const round of range(4)) {
        const type = env.topic(`raced-${round}`);
        const queues = [env.name(`racer-a${round}`), env.name(`racer-b${round}`)];
        const results = await Promise.allSettled([
          ownersOf(a).claim({ queue: queues[0]!, service: 'a', types: [type] }),
          ownersOf(b).claim({ queue: queues[1]!, service: 'b', types: [type] }),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const refused = results.find((r) => r.status === 'rejected')!;
        expect(refused.reason).toBeInstanceOf(CommandOwnerConflictError);
        const owners = (await ownersOf(a).owners()).filter((o) => o.type === type);
        expect(owners).toHaveLength(1);
        expect((await ownersOf(b).owners()).filter((o) => o.type === type)).toEqual(owners);
        expect(owners[0]!.queue).toBe(queues[results.findIndex((r) => r.status === 'fulfilled')]);
        for (const q of queues) env.track(q);
      }
    },
    { needs: ['commandOwners'] },
  );

  test(
    'an endpoint in another process that handles an owned command is refused at its start',
    async (env) => {
      ownersOf(await env.transport());
      const Work = env.command('proc-owned', z.object({ n: z.number(), key: z.string().optional() }));
      const owner = env.name('proc-owner');
      const intruder = env.name('proc-intruder');
      env.track(owner);
      env.track(intruder);
      const first = child(env, { service: 'owner', endpoint: owner, type: Work.name });
      try {
        await first.waitFor(/^ready$/);
        // The intruder and another instance of the owner endpoint start side by side (both after the owner is ready).
        const second = child(env, { service: 'intruder', endpoint: intruder, type: Work.name });
        const twin = child(env, { service: 'owner', endpoint: owner, type: Work.name });
        try {
          const [line] = await second.waitFor(/^failed .*/);
          expect(await second.exited).toBe(3);
          expect(line).toContain('CommandOwnerConflictError');
          expect(line).toContain(owner);
          expect(line).toContain(intruder);
          // Another instance of the owner endpoint is no second owner: it starts.
          await twin.waitFor(/^ready$/);
        } finally {
          second.kill('SIGKILL');
          await second.exited;
          twin.kill('SIGKILL');
          await twin.exited;
        }
      } finally {
        first.kill('SIGKILL');
        await first.exited;
      }
    },
    { needs: ['processes', 'commandOwners'], timeoutMs: 60_000 },
  );

  test(
    'queues() counts consumers, and says since when a queue has had none',
    async (env) => {
      const Job = env.command('counted', Num);
      const endpoint = env.name('counted');
      const bus = env.bus('counted');
      bus.endpoint(endpoint, (e) => e.on(Job, () => undefined));
      const admin = await env.transport();
      await bus.start();
      const declared = await env.eventually(
        () => admin.queues(),
        (qs) => qs.some((q) => q.name === endpoint),
        'the queue in queues()',
      );
      if (declared.find((q) => q.name === endpoint)!.consumers === undefined)
        throw new Error(
          `the ${admin.kind} transport's queues() reports no consumers: report them or declare features.consumerCounts = false`,
        );
      const live = await env.eventually(
        () => admin.queues(),
        (qs) => (qs.find((q) => q.name === endpoint)?.consumers ?? 0) >= 1,
        'a consumer on the queue',
      );
      expect(live.find((q) => q.name === endpoint)!.idleSince).toBeUndefined();
      const stoppedAt = env.clock.now();
      await bus.stop();
      const sender = env.bus('counted-sender');
      await sender.start();
      await sender.send(Job, { n: 1 });
      const idle = await env.eventually(
        () => admin.queues(),
        (qs) => qs.find((q) => q.name === endpoint)?.consumers === 0,
        'no consumer on the queue',
      );
      const info = idle.find((q) => q.name === endpoint)!;
      expect(info.depth).toBe(1);
      if (env.features.idleSince) {
        expect(info.idleSince).toBeTypeOf('number');
        // The last consumer left at the stop (SQLite knows it to within a heartbeat).
        expect(info.idleSince!).toBeGreaterThanOrEqual(stoppedAt - 5_000);
        expect(info.idleSince!).toBeLessThanOrEqual(env.clock.now());
      }
    },
    { needs: ['consumerCounts'] },
  );
}
