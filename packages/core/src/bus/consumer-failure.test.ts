/**
 * A consumer that cannot go on is never a silent stop: the bus emits `consumer-failed`, reports
 * itself not ready, and when nobody listens, a service with nothing else to do exits non-zero
 * (so a supervisor that restarts on failure restarts it).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startProcess } from '@missive/testing';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'test-fixtures', 'failing-consumer.ts');
const run = (...args: string[]) => startProcess(process.execPath, ['--import', 'tsx', '--conditions=@missive/source', fixture, ...args]);

describe('a consumer that fails', () => {
  it('with no listener: the error is logged and the process exits non-zero', async () => {
    const child = run();
    const code = await child.exited;
    expect(child.lines).toContain('handled 1');
    expect(code, `stderr: ${child.stderr()}`).toBe(1);
    expect(child.stderr()).toMatch(/consumer failed; the endpoint consumes no more messages endpoint=jobs.*the driver broke/s);
  });

  it('with a listener: the listener hears it, and the exit code is left to the service', async () => {
    const child = run('listen');
    const code = await child.exited;
    expect(child.lines).toContain('failed jobs the driver broke');
    expect(code).toBe(0);
  });
});

describe('readiness', () => {
  it('is true while every endpoint consumes, false once a consumer failed', async () => {
    const { createBus, defineCommand, MemoryBroker, silentLogger } = await import('../index.js');
    const { z } = await import('zod');
    const Job = defineCommand('ready.job', z.object({ n: z.number() }));
    const inner = new MemoryBroker().transport();
    let broken = false;
    const transport = new Proxy(inner, {
      get(target, key) {
        if (key === 'consume') {
          return (queue: string, options: { prefetch: number }) => {
            const consumer = inner.consume(queue, options);
            return {
              close: () => consumer.close(),
              async *[Symbol.asyncIterator]() {
                for await (const delivery of consumer) {
                  if (broken) throw new Error('the driver broke');
                  yield delivery;
                }
              },
            };
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const bus = createBus({ service: 'ready', transport, logger: silentLogger });
    const failed: string[] = [];
    bus.on('consumer-failed', ({ endpoint }) => void failed.push(endpoint));
    const handled: number[] = [];
    bus.endpoint('jobs', (e) => e.on(Job, ({ n }) => void handled.push(n)));
    expect(bus.ready).toBe(false);
    await bus.start();
    expect(bus.ready).toBe(true);
    await bus.send(Job, { n: 1 });
    const { createWaiter } = await import('@missive/testing');
    const waiter = createWaiter();
    await waiter.until(() => handled.length === 1, 'the first job');
    broken = true;
    await bus.send(Job, { n: 2 });
    await waiter.until(() => failed.length === 1, 'consumer-failed');
    expect(failed).toEqual(['jobs']);
    expect(bus.ready).toBe(false);
    await bus.stop();
  });
});
