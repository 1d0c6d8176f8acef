/**
 * `amqps://`: the transport speaks TLS to the broker. The broker here listens without TLS, so the
 * test puts a TLS terminator of its own on loopback in front of it (a certificate made with
 * `openssl` for 127.0.0.1): with the certificate's CA the transport connects and messages flow;
 * without it, the connection is refused with an error that names the problem and hides the password.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { TransportError, silentLogger } from '@missive/core';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const url = new URL(rabbitUrl);
const cleanup = cleanupAfterEach();

/** A self-signed certificate for 127.0.0.1, made by the `openssl` command. */
function certificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'missive-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Terminates TLS on a loopback port and forwards the plain bytes to the broker. */
async function tlsTerminator(credentials: { key: Buffer; cert: Buffer }): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(credentials, (client) => {
    const upstream = net.connect(Number(url.port || 5672), url.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('rabbitmq over TLS', () => {
  it('connects with amqps:// and the CA of the broker certificate; refuses an unknown CA without printing the password', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const credentials = certificate();
    const terminator = await tlsTerminator(credentials);
    cleanup.push(() => terminator.close());
    const secure = new URL(url.href);
    secure.protocol = 'amqps:';
    secure.port = String(terminator.port);

    const transport = new RabbitMqTransport({ url: secure.href, socketOptions: { ca: [credentials.cert] } }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    const queue = `tls-${randomBytes(4).toString('hex')}`;
    cleanup.push(() => transport.deleteQueue(queue));
    await transport.declare({ name: queue, topics: [] });
    const consumer = transport.consume(queue, { prefetch: 1 });
    await consumer.ready;
    await transport.send(queue, { id: 'over-tls', type: 't', body: Buffer.from('{}'), headers: {} });
    const next = await consumer[Symbol.asyncIterator]().next();
    if (next.done === true) throw new Error('the consumer ended early');
    expect(next.value.message.id).toBe('over-tls');
    await next.value.ack();
    await consumer.close();

    const secret = new URL(secure.href);
    secret.password = 'hunter2-secret';
    const untrusting = new RabbitMqTransport({ url: secret.href }, { logger: silentLogger });
    const refused = (await untrusting.connect().catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused.message).toContain('cannot connect to RabbitMQ');
    expect(refused.message).toMatch(/self[- ]signed certificate/);
    expect(refused.message).not.toContain('hunter2-secret');
  }, 60_000);
});
