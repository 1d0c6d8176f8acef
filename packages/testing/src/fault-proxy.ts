/**
 * A TCP proxy on loopback for fault tests: clients connect to the proxy, the proxy connects them to
 * the real broker, and the test cuts every connection at once (as a network failure would) or stops
 * accepting new ones for a while. Traffic stays on 127.0.0.1.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ port: 5672 });
 * const url = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
 * proxy.cut(); // every client sees its connection drop
 * await proxy.close();
 * ```
 * @module
 */
import { createServer, connect, type Socket } from 'node:net';

/** A running proxy. */
export interface FaultProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Connections made through the proxy so far. */
  readonly accepted: number;
  /** Destroys every open connection, both ways. */
  cut(): void;
  /** While true, new connections are refused (closed at once). */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a proxy to `host:port` (default host 127.0.0.1). */
export async function startFaultProxy(target: { readonly port: number; readonly host?: string }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port });
    client.setNoDelay(true); // small AMQP frames must not wait for Nagle's algorithm
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no port');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const socket of [...sockets]) socket.destroy();
      sockets.clear();
    },
    refuse(on) {
      refusing = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
