/**
 * A three-node NATS cluster on loopback, started by the test (distinct client, cluster and store
 * settings, routes between them), with Missive's streams at three replicas. The node leading the
 * messages stream is SIGKILLed mid-stream: every publish that was acknowledged is consumed, and the
 * client carries on through the other nodes.
 */
import { describe, expect, it } from 'vitest';
import { TransportError, silentLogger } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { createWaiter } from '@missive/testing';
import { NatsTransport } from './nats-transport.js';
import { freePort, startOwnServer, type OwnServer } from './test-support/own-server.js';
import { uniquePrefix } from './test-support/server.js';

const waiter = createWaiter({ timeoutMs: 90_000 });

async function startCluster(): Promise<OwnServer[]> {
  const clusterPorts = [await freePort(), await freePort(), await freePort()];
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`);
  return Promise.all(
    clusterPorts.map((clusterPort, i) =>
      startOwnServer({ cluster: { name: `n${i}`, clusterPort, routes: routes.filter((_, j) => j !== i) } }),
    ),
  );
}

describe('nats cluster', () => {
  it('SIGKILL of the stream leader mid-stream: every acknowledged publish is consumed, the client carries on', async () => {
    const nodes = await startCluster();
    const prefix = uniquePrefix();
    const [first, ...others] = nodes.map((n) => `127.0.0.1:${n.port}`);
    const url = `nats://${first}?prefix=${prefix}&replicas=3&ackWait=3000&publishTimeout=5000&servers=${others.join(',')}`;
    const transport = new NatsTransport({ url }, { logger: silentLogger });
    try {
      // JetStream in a fresh cluster answers once its meta leader is elected.
      await waiter.eventually(
        () =>
          transport.connect().then(
            () => true,
            () => false,
          ),
        (ok) => ok,
        'the cluster to accept JetStream requests',
      );
      await transport.declare({ name: 'clustered', topics: ['cluster.topic'] });
      const info = await transport.jsm().streams.info(transport.names.messages);
      expect(info.config.num_replicas).toBe(3);
      const leaderName = info.cluster?.leader;
      const leader = nodes[Number(leaderName?.slice(1))]!;
      const received = new Set<string>();
      let deliveries = 0;
      const consumer = transport.consume('clustered', { prefetch: 50 });
      const loop = (async () => {
        for await (const delivery of consumer as AsyncIterable<Delivery>) {
          received.add(delivery.message.id);
          deliveries++;
          waiter.notify();
          await delivery.ack().catch(() => undefined);
        }
      })();
      const confirmed: string[] = [];
      let failed = 0;
      const started = Date.now();
      let killedAt = 0;
      let firstAfterKill = 0;
      for (let batch = 0; batch < 20; batch++) {
        if (batch === 7) {
          await leader.kill('SIGKILL');
          killedAt = Date.now();
        }
        await Promise.all(
          Array.from({ length: 20 }, (_, k) => {
            const id = `c-${batch * 20 + k}`;
            return transport.publish('cluster.topic', { id, type: 't', body: Buffer.from(id), headers: {} }).then(
              () => {
                confirmed.push(id);
                if (killedAt > 0 && firstAfterKill === 0) firstAfterKill = Date.now();
              },
              (error: unknown) => {
                expect(error).toBeInstanceOf(TransportError);
                failed++;
              },
            );
          }),
        );
      }
      // It carries on: once the remaining nodes elected a new leader, a publish (retried under the
      // same message id, so it is stored once) is acknowledged again.
      const later = { id: 'c-after', type: 't', body: Buffer.from('after'), headers: {} };
      await waiter.eventually(
        () =>
          transport.publish('cluster.topic', later).then(
            () => true,
            () => false,
          ),
        (ok) => ok,
        'a publish acknowledged by the cluster after the leader died',
      );
      confirmed.push(later.id);
      const resumedMs = (firstAfterKill || Date.now()) - killedAt;
      await waiter.until(
        () => confirmed.every((id) => received.has(id)),
        `all ${confirmed.length} acknowledged messages after the leader's death`,
      );
      expect(confirmed.length + failed).toBe(401);
      const figures = {
        sent: 401,
        confirmed: confirmed.length,
        failedTyped: failed,
        delivered: received.size,
        lost: confirmed.filter((id) => !received.has(id)).length,
        redelivered: deliveries - received.size,
        firstPublishAcknowledgedAfterKillMs: resumedMs,
        totalMs: Date.now() - started,
      };
      process.stdout.write(`nats cluster failover: ${JSON.stringify({ ...figures, leader: leaderName })}\n`);
      const after = await transport.jsm().streams.info(transport.names.messages);
      expect(after.cluster?.leader).not.toBe(leaderName);
      await consumer.close();
      await loop;
    } finally {
      await transport.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 180_000);
});
