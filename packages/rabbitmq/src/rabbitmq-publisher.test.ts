/**
 * The publisher replaces a publisher channel the broker keeps refusing. In the three-node cluster
 * test, the channel opened on a surviving node while the killed node still led the queue was nacked
 * on every publish for minutes (each publish retried until publishTimeout, then failed), while a new
 * channel on the same connection was confirmed at once. Here the link's first channel nacks
 * everything and its next one confirms: the send must go through on the next channel, well before
 * publishTimeout.
 */
import { createHook } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import type * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { PublishRejectedError, UnroutableError } from '@missive/core';
import { RabbitPublisher, type PublishLink } from './rabbitmq-publisher.js';
import { resolveRabbitMqOptions } from './rabbitmq-options.js';

/** A confirm channel that nacks (`refusing`) or confirms every publish, on the next tick. */
class FakeChannel extends EventEmitter {
  readonly published: string[] = [];
  constructor(readonly refusing: boolean) {
    super();
  }
  publish(_exchange: string, _key: string, _body: Buffer, properties: { messageId: string }, callback: (error: unknown) => void): boolean {
    this.published.push(properties.messageId);
    setImmediate(() => callback(this.refusing ? new Error('message nacked') : null));
    return true;
  }
}

function linkOf(channels: FakeChannel[]): PublishLink & { renewals: number } {
  let current = 0;
  const link = {
    renewals: 0,
    open: true,
    get publisherNow() {
      return channels[current] as unknown as amqp.ConfirmChannel;
    },
    publisherChannel: () => Promise.resolve(channels[current] as unknown as amqp.ConfirmChannel),
    isPublisher: (channel: amqp.Channel) => (channels[current] as unknown) === channel,
    renewPublisher(stale: amqp.ConfirmChannel) {
      if ((channels[current] as unknown) === stale && current < channels.length - 1) {
        current++;
        link.renewals++;
      }
      return Promise.resolve();
    },
    adminChannel: () => Promise.reject(new Error('not used')),
    rpcChannel: () => Promise.reject(new Error('not used')),
  };
  return link;
}

const noExchanges = { typeExchange: () => undefined, forgetType: () => undefined };
const message = (id: string) => ({ id, type: 't', body: Buffer.from('{}'), headers: {} });

describe('rabbitmq publisher', () => {
  it('a publisher channel the broker keeps refusing is replaced: the publish goes through on the next one', async () => {
    const stale = new FakeChannel(true);
    const fresh = new FakeChannel(false);
    const link = linkOf([stale, fresh]);
    // Without the replacement the send fails after publishTimeout (8 s), inside the case's time.
    const options = resolveRabbitMqOptions({ url: 'amqp://localhost', publishTimeoutMs: 8_000 });
    const publisher = new RabbitPublisher(link, noExchanges, options);
    await publisher.send('billing', message('m-1'));
    expect(link.renewals).toBe(1);
    expect(stale.published.length).toBeGreaterThan(1);
    expect(fresh.published).toEqual(['m-1']);
  }, 15_000);

  it('a refusal that lasts past publishTimeout fails saying how often and for how long', async () => {
    const link = linkOf([new FakeChannel(true)]);
    const options = resolveRabbitMqOptions({ url: 'amqp://localhost', publishTimeoutMs: 300 });
    const publisher = new RabbitPublisher(link, noExchanges, options);
    const failed = await publisher.send('billing', message('m-2')).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(PublishRejectedError);
    expect((failed as Error).message).toMatch(/^RabbitMQ refused message m-2 to billing \d+ times over \d+ ms \(publishTimeout 300 ms\)$/);
    expect((failed as Error).cause).toBeInstanceOf(PublishRejectedError);
  });

  it("a publish that goes out at once makes one promise, the confirm's (none for async functions or their awaits)", async () => {
    const channel = new FakeChannel(false);
    const publisher = new RabbitPublisher(linkOf([channel]), noExchanges, resolveRabbitMqOptions({ url: 'amqp://localhost' }));
    let promises = 0;
    // The hook on, as the OpenTelemetry Node SDK's context manager turns it on: then every await makes a promise too.
    const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) }).enable();
    let publishing: Promise<void>;
    try {
      publishing = publisher.publish('shop.order-placed', message('m-3'));
    } finally {
      hook.disable();
    }
    await publishing;
    expect(promises).toBe(1);
    expect(channel.published).toEqual(['m-3']);
  });

  it('a first try on a channel that throws (closed) is made again on the next channel', async () => {
    const closed = new FakeChannel(false);
    closed.publish = () => {
      throw new Error('Channel closed');
    };
    const fresh = new FakeChannel(false);
    const link = linkOf([fresh]);
    // The closed channel is the publisher when the send starts; after it threw, the link has the next one.
    let reads = 0;
    const publisher = new RabbitPublisher(
      {
        ...link,
        get publisherNow() {
          return (reads++ === 0 ? closed : fresh) as unknown as amqp.ConfirmChannel;
        },
      },
      noExchanges,
      resolveRabbitMqOptions({ url: 'amqp://localhost' }),
    );
    await publisher.send('billing', message('m-4'));
    expect(fresh.published).toEqual(['m-4']);
  });

  it('a mandatory message the broker returned fails with UnroutableError, on the first try as on a later one', async () => {
    const channel = new FakeChannel(false);
    const publisher = new RabbitPublisher(linkOf([channel]), noExchanges, resolveRabbitMqOptions({ url: 'amqp://localhost' }));
    publisher.prepare(channel as unknown as amqp.ConfirmChannel);
    const original = channel.publish.bind(channel);
    channel.publish = (exchange, key, body, properties, callback) => {
      channel.emit('return', { properties: { messageId: properties.messageId } });
      return original(exchange, key, body, properties, callback);
    };
    await expect(publisher.send('nowhere', message('m-5'))).rejects.toBeInstanceOf(UnroutableError);
  });
});
