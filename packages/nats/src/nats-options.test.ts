import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { resolveNatsOptions } from './nats-options.js';
import { NatsTransport } from './nats-transport.js';

describe('nats options', () => {
  it('reads the URL, with defaults', () => {
    const o = resolveNatsOptions({ url: 'nats://u:secret@127.0.0.1?prefix=shop&ackWait=3000&servers=127.0.0.1:4223,127.0.0.1:4224' });
    expect(o).toMatchObject({
      prefix: 'shop',
      ackWaitMs: 3000,
      user: 'u',
      pass: 'secret',
      servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223', 'nats://127.0.0.1:4224'],
      confirmAcks: false,
      tls: undefined,
    });
    expect(resolveNatsOptions({ url: 'nats://tok@h:4222' }).token).toBe('tok');
    expect(resolveNatsOptions({ url: 'nats://h?tls=true' }).servers).toEqual(['tls://h:4222']);
    expect(resolveNatsOptions({ url: 'tls://h:4443' }).servers).toEqual(['tls://h:4443']);
    expect(o.batch).toBe(1);
    expect(resolveNatsOptions({ url: 'nats://h?batch=64' }).batch).toBe(64);
    expect(resolveNatsOptions({ url: 'nats://h', batch: 8 }).batch).toBe(8);
    expect(() => resolveNatsOptions({ url: 'nats://h', batch: 100 })).toThrow(ConfigurationError);
  });

  it('refuses bad values saying what to fix, never showing the password', () => {
    const bad = [
      'amqp://h',
      'nats://u:secret@h?ackWait=soon',
      'nats://u:secret@h?prefix=a.b',
      'nats://u:secret@h?tls=yes',
      'nats://u:secret@h?servers=nohost',
      'nats://u:secret@h?batch=0',
      'nats://u:secret@h?batch=65',
      'nats://u:secret@h?batch=many',
      'nats://u:secret@h?bogus=1',
      'nats://u:secret@h?ackwait=30000',
    ];
    for (const url of bad) {
      let error: unknown;
      try {
        resolveNatsOptions({ url });
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(ConfigurationError);
      expect(String((error as Error).message)).not.toContain('secret');
    }
  });

  it('refuses an options key it does not know (JavaScript, a config file), listing the known ones', () => {
    expect(() => resolveNatsOptions({ url: 'nats://h', ackWait: 30000 } as never)).toThrow(
      'unknown nats option "ackWait"; known: url, prefix, ackWaitMs, publishTimeoutMs, replicas, maxDeliver, confirmAcks, ownersBucket, contentMode, batch, tls, name',
    );
    expect(() => new NatsTransport({ url: 'nats://h', batchSize: 8 } as never)).toThrow('unknown nats option "batchSize"');
  });

  it('refuses a URL parameter it does not know, listing the known ones', () => {
    expect(() => resolveNatsOptions({ url: 'nats://h?ackwait=30000' })).toThrow(
      'unknown nats URL parameter "ackwait"; known: prefix, ackWait, publishTimeout, replicas, maxDeliver, confirmAcks, ownersBucket, contentMode, batch, tls, servers, name',
    );
    // Every parameter the README lists is taken.
    const o = resolveNatsOptions({
      url: 'nats://h?prefix=p&ackWait=2000&publishTimeout=500&replicas=1&maxDeliver=5&confirmAcks=true&ownersBucket=B&contentMode=binary&batch=8&tls=true&servers=h2:4222&name=n',
    });
    expect(o).toMatchObject({ prefix: 'p', ackWaitMs: 2000, maxDeliver: 5, contentMode: 'binary', batch: 8, name: 'n' });
  });

  it('never shows the token (a user part without a password) in an error', () => {
    for (const url of ['nats://S3cr3tT0ken@h?ackWait=soon', 'tls://S3cr3tT0ken@h?prefix=a.b', 'amqp://S3cr3tT0ken@h']) {
      expect(() => resolveNatsOptions({ url }), url).toThrow(ConfigurationError);
      expect(() => resolveNatsOptions({ url }), url).not.toThrow(/S3cr3tT0ken/);
    }
    expect(() => resolveNatsOptions({ url: 'amqp://S3cr3tT0ken@h' })).toThrow('nats URL amqp://***@h must start with nats://');
    expect(resolveNatsOptions({ url: 'nats://S3cr3tT0ken@h' }).shown).toBe('nats://***@h');
  });
});
