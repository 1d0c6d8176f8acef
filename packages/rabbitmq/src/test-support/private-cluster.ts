/**
 * A three-node RabbitMQ cluster of a test's own on loopback: three {@link startPrivateNode} nodes
 * (own names, ports and data directories) joined with `rabbitmqctl join_cluster`. Quorum queues
 * declared on it are replicated on all three. Needs root, like a private node.
 *
 * @example
 * ```ts
 * const cluster = await startPrivateCluster({ name: `missive-cluster-${run}` });
 * const url = cluster.url; // amqp://…:<port1>?failover=127.0.0.1:<port2>,127.0.0.1:<port3>
 * const leader = await cluster.leaderOf('orders');
 * await leader.kill();
 * await cluster.stop();
 * ```
 * @module
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPrivateNode, type PrivateNode } from './private-node.js';

const run = promisify(execFile);

/** A cluster this test started. */
export interface PrivateCluster {
  readonly nodes: readonly PrivateNode[];
  /** The first node's URL with the other two as `failover` nodes. */
  readonly url: string;
  /** The node that leads the quorum queue `queue` now. */
  leaderOf(queue: string): Promise<PrivateNode>;
  /** Resolves when all three nodes are running in the cluster again. */
  awaitOnline(): Promise<void>;
  /** Stops every node and deletes their directories. */
  stop(): Promise<void>;
}

/** Starts three nodes (`<name>-1..3`, free ports) and joins them. */
export async function startPrivateCluster(options: { readonly name: string }): Promise<PrivateCluster> {
  const nodes: PrivateNode[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startPrivateNode({ name: `${options.name}-${i + 1}` }));
    const ctl = (node: PrivateNode, ...args: string[]) => run('rabbitmqctl', ['-n', node.nodeName, ...args], { timeout: 120_000 });
    for (const node of nodes.slice(1)) {
      await ctl(node, 'stop_app');
      await ctl(node, 'join_cluster', nodes[0]!.nodeName);
      await ctl(node, 'start_app');
    }
    await ctl(nodes[0]!, 'await_online_nodes', '3');
  } catch (error) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    throw error;
  }
  const ports = nodes.map((n) => n.port);
  return {
    nodes,
    url: `amqp://guest:guest@127.0.0.1:${ports[0]}?failover=${ports
      .slice(1)
      .map((p) => `127.0.0.1:${p}`)
      .join(',')}`,
    async leaderOf(queue) {
      for (const node of nodes) {
        try {
          const { stdout } = await run(
            'rabbitmqctl',
            ['-n', node.nodeName, '--quiet', '--no-table-headers', 'list_queues', 'name', 'leader'],
            { timeout: 60_000 },
          );
          for (const line of stdout.split('\n')) {
            const [name, leader] = line.trim().split(/\s+/);
            if (name === queue) {
              const found = nodes.find((n) => n.nodeName === leader);
              if (found !== undefined) return found;
            }
          }
        } catch {
          /* that node is down: ask the next */
        }
      }
      throw new Error(`no node reports a leader for queue ${queue}`);
    },
    async awaitOnline() {
      await run('rabbitmqctl', ['-n', nodes[0]!.nodeName, 'await_online_nodes', '3', '--timeout', '120'], { timeout: 130_000 });
    },
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
    },
  };
}
