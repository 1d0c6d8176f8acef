import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineEvent } from '../contracts/contract.js';
import { consoleLogger, type Logger } from '../logger.js';
import { UnrecoverableError } from '../errors.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** A real pino logger writing JSON lines into an array. */
function pinoLines(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('logs by default', () => {
  it('a pino logger passes straight in: handler failures at warn, delayed retries at info, dead letters at error, each with trace and correlation ids', async () => {
    const { logger, lines } = pinoLines();
    const h = createTestHarness();
    const bus = h.bus('shop', { logger, retry: { immediate: 1, delayed: { attempts: 1, initialMs: 1000, jitter: 0 } } });
    bus.endpoint('billing', (e) => e.on(OrderPlaced, () => Promise.reject(new Error('card service down'))));
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' }, { correlationId: 'corr-1' });
    await h.until(() => h.deadLettered.length === 1, 'the message is dead-lettered');
    await h.stop();

    const warn = lines.filter((l) => l.level === 40 && l.msg === 'handler failed');
    // Attempt 1 and its immediate retry, then the delayed redelivery and its immediate retry.
    expect(warn.map((l) => l.attempt)).toEqual([1, 2, 3, 4]);
    expect(warn[0]).toMatchObject({
      endpoint: 'billing',
      type: 'shop.order-placed',
      correlationId: 'corr-1',
      err: { message: 'card service down', type: 'Error' },
    });
    expect(typeof warn[0]!.messageId).toBe('string');
    const info = lines.filter((l) => l.level === 30 && String(l.msg).startsWith('redelivery in 1000 ms'));
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({ endpoint: 'billing', delayMs: 1000, attempt: 2, correlationId: 'corr-1' });
    const error = lines.filter((l) => l.level === 50);
    expect(error).toHaveLength(1);
    expect(error[0]).toMatchObject({
      endpoint: 'billing',
      reason: 'HANDLER_FAILED',
      msg: 'message dead-lettered: HANDLER_FAILED',
      attempt: 4,
      correlationId: 'corr-1',
    });
  });

  it('lines carry the trace id of the message', async () => {
    const { logger, lines } = pinoLines();
    const h = createTestHarness();
    const bus = h.bus('shop', { logger });
    bus.endpoint('billing', (e) => e.on(OrderPlaced, () => Promise.reject(new UnrecoverableError('bad order'))));
    await bus.start();
    // A message arriving with a trace context (as from another, traced, service).
    const raw = h.broker.transport();
    await raw.connect();
    await raw.publish(OrderPlaced.name, {
      id: 'm-1',
      type: OrderPlaced.name,
      headers: {},
      body: new TextEncoder().encode(
        JSON.stringify({
          specversion: '1.0',
          id: 'm-1',
          type: OrderPlaced.name,
          source: '/missive/gateway',
          time: new Date(0).toISOString(),
          datacontenttype: 'application/json',
          data: { orderId: 'o-2' },
          messagekind: 'event',
          dataversion: 1,
          correlationid: 'corr-2',
          conversationid: 'corr-2',
          traceparent: TRACEPARENT,
        }),
      ),
    });
    await h.until(() => h.deadLettered.length === 1, 'the message is dead-lettered');
    await h.stop();
    await raw.close();
    const failed = lines.find((l) => l.msg === 'handler failed');
    expect(failed).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', correlationId: 'corr-2', messageId: 'm-1', attempt: 1 });
    expect(lines.find((l) => l.level === 50)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', reason: 'UNRECOVERABLE' });
  });

  it('the console default prints readable lines, and child loggers add their fields', () => {
    const out: string[] = [];
    const logger = consoleLogger('info', { write: (line) => out.push(line) });
    logger.debug({ hidden: true }, 'not printed below info');
    logger.child!({ endpoint: 'billing' }).warn({ attempt: 2, err: new Error('boom'), note: 'two words' }, 'handler failed');
    logger.info('plain message');
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}handler failed endpoint=billing attempt=2 err="Error: boom" note="two words"\n$/,
    );
    expect(out[1]).toMatch(/INFO {2}plain message\n$/);
  });
});
