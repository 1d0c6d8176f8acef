import { describe, expect, it } from 'vitest';
import { createBus } from './bus.js';
import { ConfigurationError } from './errors.js';
import { z } from 'zod';
import { defineEvent } from './contract.js';
import { redactUrl, silentLogger } from './logger.js';
import { MemoryBroker } from './memory/memory-broker.js';
import { parseTransportUrl } from './transport-url.js';

describe('transport URLs', () => {
  it('refuse unknown schemes and non-URLs at createBus, without printing credentials', () => {
    expect(() => createBus({ service: 's', transport: 'kafka://user:hunter2@host' })).toThrow(/unknown scheme "kafka:"/);
    try {
      createBus({ service: 's', transport: 'kafka://user:hunter2@host' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => parseTransportUrl('not a url')).toThrow(ConfigurationError);
    expect(() => parseTransportUrl('user:hunter2@nowhere')).toThrow(ConfigurationError);
  });

  it('fail at start naming the package to install when a transport package is missing', async () => {
    const bus = createBus({ service: 's', transport: 'nats://user:hunter2@127.0.0.1:4222' });
    const error = (await bus.start().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('npm install @missive/nats');
    expect(error.message).not.toContain('hunter2');
  });

  it('refuse a named memory URL (no private broker that silently never talks), and share a MemoryBroker instance instead', async () => {
    expect(() => createBus({ service: 'a', transport: 'memory://orders' })).toThrow(/cannot share one.*broker\.transport\(\)/);
    expect(() => parseTransportUrl('memory://orders/x?y=1')).toThrow(ConfigurationError);
    expect(parseTransportUrl('memory://').href).toBe('memory://');
    const Ping = defineEvent('url.ping', z.object({ n: z.number() }));
    const broker = new MemoryBroker();
    const sender = createBus({ service: 'sender', transport: broker.transport(), logger: silentLogger });
    const receiver = createBus({ service: 'receiver', transport: broker.transport(), logger: silentLogger });
    const heard = new Promise<number>((resolve) => receiver.endpoint('receiver', (e) => e.on(Ping, (p) => resolve(p.n))));
    await receiver.start();
    await sender.start();
    await sender.publish(Ping, { n: 7 });
    expect(await heard).toBe(7);
    await Promise.all([sender.stop(), receiver.stop()]);
  });

  it('redact passwords and secret parameters', () => {
    expect(redactUrl('amqp://guest:secret@host:5672/vh?password=x&heartbeat=5')).toBe('amqp://guest:***@host:5672/vh?password=***&heartbeat=5');
    expect(redactUrl('nonsense')).toBe('<unparseable URL>');
  });

  it('refuse bad bus options with a message that says what to fix', () => {
    expect(() => createBus({ service: 'bad name', transport: 'memory://' })).toThrow(/service name/);
    expect(() => createBus({ service: 's', transport: 42 as never })).toThrow(/transport must be a URL/);
    expect(() => createBus({ service: 's', transport: 'memory://', retry: { immediate: -1 } })).toThrow(/immediate/);
    const bus = createBus({ service: 's', transport: 'memory://' });
    expect(() => bus.endpoint('e', () => undefined)).toThrow(/no handlers/);
    expect(() => bus.endpoint('e', (e) => e.tap('a.b', () => undefined), { concurrency: 4, prefetch: 2 })).toThrow(/prefetch/);
  });
});
