/**
 * CPU per message of each side of a Redis subject, measured alone (no other side running): the
 * publisher fills a backlog of `count` messages (at most 100 unconfirmed, as the redis scenario),
 * then the consumer drains it. Each phase runs in a process of its own, so each can be profiled
 * with `node --cpu-prof`. `process.cpuUsage()` of the phase ÷ `count`; for the consumer, from the
 * first handled message to the last (startup excluded). Redis's own CPU per message is read from
 * `/proc/<pid>/stat` when `REDIS_PID` is set (the shared server: others' work counts too).
 *
 * ```sh
 * node bench/dist/profile/redis-cpu.js missive publish 40000 run1   # declares the queue, fills it
 * node --cpu-prof bench/dist/profile/redis-cpu.js missive consume 40000 run1
 * node bench/dist/profile/redis-cpu.js raw publish 40000 run1 && node bench/dist/profile/redis-cpu.js raw consume 40000 run1
 * node bench/dist/profile/redis-cpu.js missive clean 0 run1
 * node bench/dist/profile/redis-cpu.js transport publish 40000 run3   # the transport without the bus
 * MISSIVE_BASELINE_DIR=<build> node bench/dist/profile/redis-cpu.js before publish 40000 run2   # an earlier build
 * ```
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_URL } from '../harness/machine.js';

import { loadSubject, publishWindowed } from '../harness/roles.js';
import type { SubjectArgs } from '../harness/subject.js';

const [which = 'missive', phase = 'publish', countText = '40000', id = String(process.pid)] = process.argv.slice(2);
const count = Number(countText);
const subject =
  which === 'raw' ? 'subjects/raw-redis.js' : which === 'transport' ? 'subjects/redis-transport-bare.js' : 'subjects/missive-bus.js';
const baseline = process.env.MISSIVE_BASELINE_DIR;
const args: SubjectArgs = {
  name: `cpu-${which}-${id}`,
  prefetch: 32,
  concurrency: 16,
  url: `${REDIS_URL}?prefix=bench-cpu-${id}`,
  // `before`: the @missive/redis of the build in MISSIVE_BASELINE_DIR (as the redis scenario's "Missive before").
  ...(which === 'before' && baseline !== undefined ? { transportModule: join(baseline, 'packages', 'redis', 'dist', 'index.js') } : {}),
};
const mod = await loadSubject(subject);

/** Redis's CPU time so far, µs (utime + stime of its process; clock ticks of 10 ms). */
function redisCpuUs(): number {
  const pid = process.env.REDIS_PID;
  if (pid === undefined) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const report = (what: string, ownUs: number, redisUs: number, ms: number) =>
  console.log(
    `${which} ${what}: ${(ownUs / count).toFixed(2)} µs CPU/msg in the process, Redis ${(redisUs / count).toFixed(2)} µs/msg, ${Math.round(count / (ms / 1000))} msg/s (${count} messages)`,
  );

if (phase === 'publish') {
  // The consumer's queue must exist for Missive's routing: subscribe once, then leave.
  await (await mod.createConsumer!(args, () => undefined)).close();
  const publisher = await mod.createPublisher!(args);
  await publishWindowed(publisher, 200, 100, 'w'); // warm-up (drained by the consumer phase too)
  const [c0, r0, t0] = [cpuUs(), redisCpuUs(), performance.now()];
  await publishWindowed(publisher, count, 100, 't');
  const [c1, r1, t1] = [cpuUs(), redisCpuUs(), performance.now()];
  report('publisher', c1 - c0, r1 - r0, t1 - t0);
  await publisher.close();
} else if (phase === 'consume') {
  let handled = 0;
  let c0 = 0;
  let r0 = 0;
  let t0 = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const subscription = await mod.createConsumer!(args, (order) => {
    if (order.phase !== 't') return;
    if (handled++ === 0) [c0, r0, t0] = [cpuUs(), redisCpuUs(), performance.now()];
    if (handled === count) done();
  });
  await finished;
  const [c1, r1, t1] = [cpuUs(), redisCpuUs(), performance.now()];
  report('consumer', c1 - c0, r1 - r0, t1 - t0);
  await subscription.close();
} else {
  await mod.cleanup?.(args);
}
process.exit(0);
