/**
 * Connecting to a cluster: the transport hands amqplib a connect-options object instead of a URL
 * string, and points it at the next node before each reconnection attempt. amqplib reads the object
 * on every attempt and asks `calculateDelay` (its documented recovery option) how long to wait
 * before each one, so that is where the next node is chosen: a lost node costs one reconnect delay
 * (100 ms at first) before the connection is on another. The nodes share the URL's credentials,
 * vhost and parameters.
 *
 * @example
 * ```ts
 * const failover = failoverTarget(options.url, options.nodes);
 * await amqp.connect(failover.target, { recovery: { calculateDelay: (n) => failover.advance(n) } });
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { redactUrl } from '@missive/core';
import type { NodeAddress } from './rabbitmq-options.js';

/** The reconnect backoff: 100 ms doubling to 10 s, ±20 %. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(10_000 / 1.2, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A connect target that moves through `nodes`. */
export interface FailoverTarget {
  /** What amqplib connects to; changed in place by {@link advance}. */
  readonly target: amqp.Options.Connect;
  /** The node the next (or current) connection goes to. */
  current(): NodeAddress;
  /** Moves to the next node; returns the delay before trying it (amqplib's `calculateDelay`). */
  advance(attempt: number): number;
}

/** Builds the target from the resolved URL (credentials, vhost, parameters) and the nodes. */
export function failoverTarget(url: string, nodes: readonly NodeAddress[]): FailoverTarget {
  const parsed = new URL(url);
  const number = (name: string): number | undefined => {
    const value = parsed.searchParams.get(name);
    return value === null ? undefined : Number(value);
  };
  const vhost = decodeURIComponent(parsed.pathname.slice(1));
  const target: amqp.Options.Connect = {
    protocol: parsed.protocol.replace(/:$/, ''),
    hostname: nodes[0]!.hostname,
    port: nodes[0]!.port,
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    heartbeat: number('heartbeat'),
    frameMax: number('frameMax'),
    channelMax: number('channelMax'),
    locale: parsed.searchParams.get('locale') ?? undefined,
    ...(vhost === '' ? {} : { vhost }),
  };
  let index = 0;
  return {
    target,
    current: () => nodes[index]!,
    advance(attempt) {
      index = (index + 1) % nodes.length;
      target.hostname = nodes[index]!.hostname;
      target.port = nodes[index]!.port;
      // The first try of the next node goes at once; a full round of failures backs off.
      return attempt <= nodes.length - 1 ? 0 : reconnectDelay(Math.ceil(attempt / nodes.length));
    },
  };
}

/**
 * The URL of `node` with the credentials, vhost and parameters of `url`, redacted (see
 * `redactUrl`): how the logs name the node a connection went to or was lost from.
 */
export function nodeUrl(url: string, node: NodeAddress): string {
  const at = new URL(url);
  at.hostname = node.hostname.includes(':') ? `[${node.hostname}]` : node.hostname;
  at.port = String(node.port);
  return redactUrl(at);
}
