/**
 * URL parameters of the RabbitMQ transport: a misspelt one fails at start with a message that
 * names it and the known ones (amqplib ignores what it does not know, so it would otherwise be lost
 * without a word); Missive's own parameters and amqplib's pass. Nothing here reaches a broker.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, silentLogger, systemClock } from '@missive/core';
import { createTransport, RabbitMqTransport, type RabbitMqOptions } from './index.js';

function open(url: string) {
  return createTransport(new URL(url), { clock: systemClock, logger: silentLogger });
}

describe('rabbitmq URL parameters', () => {
  it('a misspelt parameter is refused, named, with the known ones and without the password', () => {
    let refused: unknown;
    try {
      open('amqp://guest:s3cret@127.0.0.1:5672/?queuetype=classic');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConfigurationError);
    const message = (refused as Error).message;
    expect(message).toContain('unknown rabbitmq URL parameter "queuetype"');
    expect(message).toContain('queueType');
    expect(message).not.toContain('s3cret');
  });

  it("Missive's own parameters and amqplib's pass", async () => {
    const transport = open(
      'amqp://guest:guest@127.0.0.1:5672/?queueType=classic&publishTimeout=5&maxBuffered=1&failover=127.0.0.2:5672&heartbeat=5&frameMax=8192&channelMax=10&locale=en_US&maxFrameSize=8192',
    );
    await transport.close();
  });
});

describe('rabbitmq object options', () => {
  it('a misspelt option (JavaScript, no type check) is refused at construction, named, with the known ones', () => {
    const options = { url: 'amqp://guest:s3cret@127.0.0.1:5672/', prefetchh: 10 } as RabbitMqOptions;
    expect(() => new RabbitMqTransport(options)).toThrow(ConfigurationError);
    expect(() => new RabbitMqTransport(options)).toThrow(
      'unknown rabbitmq option "prefetchh"; known: url, queueType, publishTimeoutMs, maxBuffered, socketOptions, failover',
    );
  });

  it('every documented option passes', async () => {
    const transport = new RabbitMqTransport({
      url: 'amqp://guest:guest@127.0.0.1:5672/',
      queueType: 'classic',
      publishTimeoutMs: 5,
      maxBuffered: 1,
      socketOptions: {},
      failover: ['127.0.0.2:5672'],
    });
    await transport.close();
  });
});
