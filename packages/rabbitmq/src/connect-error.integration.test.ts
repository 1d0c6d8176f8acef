/**
 * A wrong virtual host fails the first connect with one clear error that names it (not amqplib's
 * "Expected ConnectionOpenOk; got <ConnectionClose channel:0>"), without a "gave up reconnecting"
 * log line before it, and without the password.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createBus, type LogMethod, type Logger } from '@missive/core';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { needRabbitMq, rabbitUrl } from './test-support/broker.js';

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) =>
    ((first: unknown, message?: string) => void lines.push(`${level} ${typeof first === 'string' ? first : (message ?? '')}`)) as LogMethod;
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

describe('connecting to a virtual host that is not there', () => {
  it('fails with a ConfigurationError naming the vhost, and logs nothing about giving up', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const vhost = `missive-no-such-vhost-${randomUUID().slice(0, 8)}`;
    const url = new URL(rabbitUrl);
    url.pathname = `/${vhost}`;
    const logger = recordingLogger();
    const transport = new RabbitMqTransport({ url: url.href }, { logger });
    const error = (await transport.connect().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`refused to open virtual host "${vhost}"`);
    expect(error.message).toContain(`rabbitmqctl add_vhost ${vhost}`);
    expect(error.message).not.toContain('ConnectionOpenOk');
    expect(error.message).not.toContain(`:${new URL(rabbitUrl).password}@`);
    expect(logger.lines.filter((l) => l.startsWith('error'))).toEqual([]);
  });

  it('makes bus.start() fail with the same error', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const url = new URL(rabbitUrl);
    url.pathname = '/missive-no-such-vhost';
    const logger = recordingLogger();
    const bus = createBus({ service: 'vhost-check', transport: url.href, logger });
    const error = (await bus.start().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('virtual host "missive-no-such-vhost"');
    expect(logger.lines.some((l) => l.includes('gave up'))).toBe(false);
  });
});
