/**
 * A TCP proxy on loopback that speaks just enough of the NATS client protocol to lose chosen
 * publishes: what a server does with a request nothing takes (nats-server 2.9 drops it without a
 * word), made to happen on purpose. Client to server, it reads whole operations and drops the
 * next `count` `PUB`/`HPUB` whose subject starts with a prefix; everything else, both ways, goes
 * through unchanged.
 *
 * @example
 * ```ts
 * const proxy = await startDroppingProxy({ port: 4222 });
 * proxy.drop('$JS.API.DIRECT.GET.', 1); // the next direct get is lost
 * const url = `nats://127.0.0.1:${proxy.port}`;
 * await proxy.close();
 * ```
 * @module
 */
import { createServer, connect, type Socket } from 'node:net';

/** A running proxy. */
export interface DroppingProxy {
  readonly port: number;
  /** Publishes dropped so far. */
  readonly dropped: number;
  /** Drops the next `count` publishes to subjects starting with `prefix` (Infinity: all of them). */
  drop(prefix: string, count: number): void;
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');

/** Starts a proxy to `127.0.0.1:port`. */
export async function startDroppingProxy(target: { readonly port: number }): Promise<DroppingProxy> {
  const sockets = new Set<Socket>();
  let rule: { prefix: string; left: number } | undefined;
  let dropped = 0;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target.port });
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('error', () => undefined).on('close', () => (client.destroy(), upstream.destroy(), sockets.delete(socket)));
    }
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf(CRLF);
        if (end < 0) return;
        const line = pending.subarray(0, end).toString('latin1');
        const [op = '', subject = '', ...rest] = line.split(' ');
        const verb = op.toUpperCase();
        // PUB <subject> [reply] <size>; HPUB <subject> [reply] <header size> <total size>
        const size = verb === 'PUB' || verb === 'HPUB' ? Number(rest[rest.length - 1]) : -1;
        const length = size < 0 ? end + 2 : end + 2 + size + 2;
        if (pending.length < length) return;
        const frame = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (size >= 0 && rule !== undefined && rule.left > 0 && subject.startsWith(rule.prefix)) {
          rule.left--;
          dropped++;
          continue;
        }
        upstream.write(frame);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('dropping proxy has no port');
  return {
    port: address.port,
    get dropped() {
      return dropped;
    },
    drop(prefix, count) {
      rule = { prefix, left: count };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
