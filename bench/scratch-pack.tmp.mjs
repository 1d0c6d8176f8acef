import { createBus, defineEvent, MemoryBroker, silentLogger } from '@missive/core';
import { defaultKeyFields } from '@missive/dashboard';
import { BatchPacker } from '../packages/dashboard/dist/journal/journal-pack.js';
import { MessageChannel } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
const S = `/proc/self/task/${process.pid}/schedstat`; const cpu = () => Number(readFileSync(S, 'utf8').split(' ')[0]) / 1000;
const Tick = defineEvent('bench.tick', z.object({ orderId: z.string(), n: z.number() }));
const bus = createBus({ service: 'bench', transport: new MemoryBroker().transport(), logger: silentLogger });
const events = []; const n = 20000; let wake;
bus.on('handled', (e) => { events.push(e); if (events.length === n) wake(); });
bus.endpoint('bench', (e) => e.on(Tick, () => undefined));
await bus.start(); const c = new Promise((r) => (wake = r));
for (let i = 0; i < n; i++) await bus.publish(Tick, { orderId: `o-${i}`, n: i });
await c; await bus.stop();
const options = { instance: 'x', payload: undefined, keys: defaultKeyFields };
const { port1, port2 } = new MessageChannel(); port2.on('message', () => {});
const ways = {
  add: () => { const p = new BatchPacker(1000, options); for (const e of events) { p.add(e, 0); if (p.full) p.take(); } },
  addNow: () => { const p = new BatchPacker(1000, options); for (const e of events) { p.add(e, Date.now()); if (p.full) p.take(); } },
  addPost: () => { const p = new BatchPacker(1000, options); for (const e of events) { p.add(e, 0); if (p.full) port1.postMessage(p.take()); } },
  noKeys: () => { const p = new BatchPacker(1000, { ...options, keys: () => false }); for (const e of events) { p.add(e, 0); if (p.full) p.take(); } },
};
for (let r = 0; r < 8; r++) { const out = []; for (const [k, f] of Object.entries(ways)) { const t = cpu(); f(); out.push(`${k} ${((cpu() - t) / n * 1000).toFixed(0)} ns`); } if (r > 2) console.log(out.join(' | ')); }
port1.close();
