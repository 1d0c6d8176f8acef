/**
 * A TCP proxy on loopback for fault tests: clients connect to the proxy, the proxy connects them to
 * the real broker, and the test cuts every connection at once (as a network failure would), freezes
 * them (as a host that vanished would: nothing arrives, nothing closes, only heartbeats notice),
 * blackholes the link (frozen, and new connections accepted but never forwarded: packets dropped, as
 * an iptables DROP rule would; used where network namespaces with iptables are not available), or
 * stops accepting new ones for a while. Traffic stays on 127.0.0.1.
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
  /** Connections refused so far (see `refuse`). */
  readonly refused: number;
  /** When each connection attempt (accepted, refused or blackholed) arrived, `performance.now()` ms. */
  readonly attempts: readonly number[];
  /** Destroys every open connection, both ways. */
  cut(): void;
  /**
   * Stops forwarding on every open connection, both ways, without closing it: the proxy stops
   * reading, so what the peers send backs up in their buffers, and nothing reaches the other side.
   */
  freeze(): void;
  /** While true, new connections are refused (closed at once). */
  refuse(on: boolean): void;
  /**
   * While true, the link drops every packet: open connections are frozen (see `freeze`) and new
   * ones are accepted and then held, never connected upstream, never answered, never closed. Off:
   * the network is back: what was frozen or held is reset (as a peer answers a stale connection
   * with RST), and new connections are forwarded again.
   */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a proxy to `host:port` (default host 127.0.0.1). */
export async function startFaultProxy(target: { readonly port: number; readonly host?: string }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const frozen = new WeakSet<Socket>();
  let accepted = 0;
  let refused = 0;
  let refusing = false;
  let blackholing = false;
  const attempts: number[] = [];
  const held = new Set<Socket>();
  const server = createServer((client) => {
    attempts.push(performance.now());
    if (blackholing) {
      held.add(client);
      client.pause();
      client.on('error', () => undefined).on('close', () => held.delete(client));
      return;
    }
    if (refusing) {
      refused++;
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
    forward(client, upstream, frozen);
    forward(upstream, client, frozen);
  });
  const freeze = () => {
    for (const socket of sockets) {
      frozen.add(socket);
      socket.pause(); // unread bytes back up into the sender's buffers, as they would on a dead link
    }
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no port');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    attempts,
    cut() {
      for (const socket of [...sockets]) socket.destroy();
      sockets.clear();
    },
    freeze,
    refuse(on) {
      refusing = on;
    },
    blackhole(on) {
      blackholing = on;
      if (on) {
        freeze();
        return;
      }
      for (const socket of [...sockets]) if (frozen.has(socket)) socket.destroy();
      for (const socket of [...held]) socket.destroy();
      held.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of [...sockets, ...held]) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Copies `from` to `to` with backpressure, and drops what `from` sends once it is frozen. */
function forward(from: Socket, to: Socket, frozen: WeakSet<Socket>): void {
  from.on('data', (chunk: Buffer) => {
    if (frozen.has(from) || to.destroyed) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => {
        if (!frozen.has(from)) from.resume();
      });
    }
  });
}
