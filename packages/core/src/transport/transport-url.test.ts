import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus } from '../bus/bus.js';
import { systemClock } from '../clock.js';
import { defineEvent, defineQuery } from '../contracts/contract.js';
import { ConfigurationError } from '../errors.js';
import { redactUrl, silentLogger } from '../logger.js';
import { MemoryBroker } from './memory/memory-broker.js';
import type { TransportFactory } from './transport.js';
import { loadTransport, parseTransportUrl, transportPackage } from './transport-url.js';

const Echo = defineQuery('test.echo', z.object({ text: z.string() }), z.object({ text: z.string() }));
const options = { clock: systemClock, logger: silentLogger };

describe('transport URLs', () => {
  it('refuse non-URLs at createBus, without printing credentials', () => {
    expect(() => createBus({ service: 's', transport: 'user:hunter2@nowhere' })).toThrow(ConfigurationError);
    try {
      createBus({ service: 's', transport: 'user:hunter2@nowhere' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => parseTransportUrl('not a url')).toThrow(/is not a URL of the form/);
    expect(() => parseTransportUrl('sqlite:bus.db')).toThrow(/<scheme>:\/\//);
  });

  it('name the package of a scheme by convention: @missive/<scheme>, with protocol aliases', () => {
    expect(transportPackage('sqlite:')).toBe('@missive/sqlite');
    expect(transportPackage('amqp')).toBe('@missive/rabbitmq');
    expect(transportPackage('amqps:')).toBe('@missive/rabbitmq');
    expect(transportPackage('postgres:')).toBe('@missive/postgres');
    expect(transportPackage('postgresql:')).toBe('@missive/postgres');
    expect(transportPackage('nats:')).toBe('@missive/nats');
    expect(transportPackage('redis:')).toBe('@missive/redis');
    expect(transportPackage('rediss:')).toBe('@missive/redis');
    expect(transportPackage('tls:')).toBe('@missive/tls'); // not NATS: tls:// names no broker
  });

  it('fail at start naming the missing package and the transports option, without printing credentials', async () => {
    const bus = createBus({ service: 's', transport: 'kafka://user:hunter2@127.0.0.1:9092' });
    const error = (await bus.start().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('needs the package @missive/kafka: run "npm install @missive/kafka"');
    expect(error.message).toContain('transports: { kafka: createTransport }');
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

  it('load an installed transport package by its scheme', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'missive-url-'));
    try {
      const transport = await loadTransport(parseTransportUrl(`sqlite://${join(dir, 'bus.db')}`), options);
      expect(transport.kind).toBe('sqlite');
      await transport.connect();
      await transport.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('use a factory given in the transports option before any package, for any scheme', async () => {
    const urls: string[] = [];
    const broker = new MemoryBroker();
    const factory: TransportFactory = (url) => {
      urls.push(url.href);
      return broker.transport();
    };
    const server = createBus({
      service: 'server',
      transport: 'custom://queue-host/x',
      transports: { custom: factory },
      logger: silentLogger,
    });
    server.endpoint('echo', (e) => e.reply(Echo, (q) => ({ text: q.text })));
    // `sqlite:` with its colon, to show the option wins over the package of the same scheme.
    const client = createBus({
      service: 'client',
      transport: 'sqlite://ignored.db',
      transports: { 'sqlite:': factory },
      logger: silentLogger,
    });
    await server.start();
    await client.start();
    try {
      expect(await client.request(Echo, { text: 'hi' })).toEqual({ text: 'hi' });
      expect(urls).toEqual(['custom://queue-host/x', 'sqlite://ignored.db']);
      expect(client.transport.kind).toBe('memory');
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('refuse a bad transports option at createBus', () => {
    expect(() => createBus({ service: 's', transport: 'memory://', transports: { redis: 'ioredis' as never } })).toThrow(
      /transports.redis must be/,
    );
    expect(() => createBus({ service: 's', transport: 'memory://', transports: { 'not a scheme': (() => undefined) as never } })).toThrow(
      /is not a URL scheme/,
    );
    expect(() => createBus({ service: 's', transport: 'memory://', transports: 42 as never })).toThrow(/transports must be an object/);
  });

  it('redact passwords and secret parameters', () => {
    expect(redactUrl('amqp://guest:secret@host:5672/vh?password=x&heartbeat=5')).toBe(
      'amqp://guest:***@host:5672/vh?password=***&heartbeat=5',
    );
    expect(redactUrl('nonsense')).toBe('<unparseable URL>');
    // A NATS user part without a password is a token; elsewhere it is a user name.
    expect(redactUrl('nats://S3cr3tT0ken@host:4222?prefix=p')).toBe('nats://***@host:4222?prefix=p');
    expect(redactUrl('tls://S3cr3tT0ken@host:4443')).toBe('tls://***@host:4443');
    expect(redactUrl('nats://u:pw@host:4222')).toBe('nats://u:***@host:4222');
    expect(redactUrl('amqp://guest@host:5672')).toBe('amqp://guest@host:5672');
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
