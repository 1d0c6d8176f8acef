/**
 * A focused loop over Missive's memory path for a CPU profile: one bus, one endpoint, `count`
 * messages published with at most 100 unconfirmed.
 *
 * ```sh
 * node --cpu-prof --cpu-prof-dir=/tmp/missive-prof bench/dist/profile/memory-path.js 300000 [--bounded]
 * node bench/dist/profile/summarize.js /tmp/missive-prof/*.cpuprofile
 * ```
 * @module
 */
import { publishBounded, publishWindowed, Tally } from '../harness/roles.js';
import { createPair } from '../subjects/missive-memory.js';
import { nowUs } from '../harness/time.js';

const count = Number(process.argv[2] ?? 300_000);
const tally = new Tally();
const pair = await createPair({ name: 'profile', prefetch: 16, concurrency: 8 }, tally.onMessage);
const t0 = nowUs();
// --bounded: publish 100, wait until handled, repeat (no backlog); default: at most 100 unconfirmed (a backlog builds).
if (process.argv.includes('--bounded')) await publishBounded(pair, tally, count, 100, 't');
else await publishWindowed(pair, count, 100, 't');
await tally.reach('t', count, 120_000);
const seconds = (tally.lastAt.t - t0) / 1e6;
await pair.close();
const heap = process.memoryUsage();
console.log(
  `${count} messages in ${seconds.toFixed(2)} s: ${Math.round(count / seconds)} msg/s; rss ${(heap.rss / 2 ** 20).toFixed(0)} MB, heap used ${(heap.heapUsed / 2 ** 20).toFixed(0)} MB, peak rss ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
