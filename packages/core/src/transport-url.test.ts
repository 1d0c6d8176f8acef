import { describe, expect, it } from 'vitest';
import { createBus } from './bus.js';
import { ConfigurationError } from './errors.js';
import { redactUrl } from './logger.js';
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
