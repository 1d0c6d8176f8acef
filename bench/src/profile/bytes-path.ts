/**
 * CPU per message of the bus on a networked transport's path, without a broker: what core does
 * for each message a broker transport hands it (consume: bytes in → decode → schema check → the
 * endpoint's pipeline → handler → ack) or takes from it (publish: envelope → schema check → encode
 * → the transport's `publish`). The transport here is a stand-in built on the transport kit, as
 * `@missive/nats` and `@missive/redis` are (`BufferedConsumer`, `SettleOnceDelivery`):
 *
 * - `consume`: envelopes of the bench's order event, encoded beforehand by the build's JSON codec,
 *   are handed over as `Uint8Array` views into one read buffer (as nats.js's parser hands them), a
 *   delivery object and a `TransportMessage` made for each; the room freed by acks is refilled once
 *   per event-loop turn (`setImmediate`, as a socket read would); an ack resolves at once (acks are
 *   batched and not awaited on both brokers) with the transport's own resolved promise, or with
 *   `--kit-settled` the kit's `SETTLED` (where the build has it). One endpoint, concurrency 16,
 *   prefetch 32, a synchronous handler.
 * - `publish`: `bus.publish` with at most 100 unconfirmed, to a transport whose `publish` keeps the
 *   body and resolves at once.
 *
 * Each argument `label=path` names a build of `@missive/core` (its `dist/index.js`; the transport
 * kit is read from `dist/transport/index.js` beside it); the builds run in alternating rounds in this
 * one process, after a warm-up of 20,000 messages each. It prints the median CPU µs per message
 * (`process.cpuUsage()`: the whole process) and the wall-clock rate of each.
 *
 * ```sh
 * node bench/dist/profile/bytes-path.js --mode consume --rounds 8 --count 50000 before=node_modules/.base-core-b/dist/index.js after=packages/core/dist/index.js
 * node bench/dist/profile/bytes-path.js --mode publish --rounds 8 --count 50000 before=… after=…
 * # instructions per message: the difference of two counts, after the same warm-up
 * valgrind --tool=callgrind --smc-check=all-non-file node --single-threaded bench/dist/profile/bytes-path.js --mode consume --rounds 1 --count 2000 after=packages/core/dist/index.js
 * ```
 * @module
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as MissiveCore from '@missive/core';
import type * as MissiveKit from '@missive/core/transport';
import { makeOrder, ORDER_TOPIC, orderSchema } from '../harness/payload.js';

type CoreModule = typeof MissiveCore;
type KitModule = typeof MissiveKit;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const mode = option('mode', 'consume');
const rounds = Number(option('rounds', '5'));
const count = Number(option('count', '50000'));
const warmup = Number(option('warmup', '20000'));
const useKitSettled = process.argv.includes('--kit-settled');
const builds = process.argv.slice(2).filter((arg) => arg.includes('=') && !arg.startsWith('--'));
if (builds.length === 0) builds.push(`current=${new URL('../../../packages/core/dist/index.js', import.meta.url).pathname}`);
if (mode !== 'consume' && mode !== 'publish') throw new Error(`--mode consume or publish, not ${mode}`);

const PREFETCH = 32;
const CONCURRENCY = 16;
/** Distinct encoded messages cycled through (enough that nothing is cached by accident). */
const DISTINCT = 4096;

interface Subject {
  readonly label: string;
  run(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A transport of the build's kit that hands pre-encoded bytes to one consumer and takes publishes. */
function bytesTransport(core: CoreModule, kit: KitModule, frames: readonly Uint8Array[]) {
  const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
  // The transport's own resolved promise, as @missive/nats and @missive/redis return from an ack
  // today; `--kit-settled`: the kit's `SETTLED` where the build has it (the bus then goes on at once).
  const kitSettled = (kit as { SETTLED?: Promise<void> }).SETTLED;
  const SETTLED = useKitSettled && kitSettled !== undefined ? kitSettled : Promise.resolve();
  let consumer: BytesConsumer | undefined;
  let bodyBytes = 0;

  class BytesDelivery extends kit.SettleOnceDelivery {
    readonly deliveryCount = 1;
    constructor(
      owner: BytesConsumer,
      readonly message: MissiveCore.TransportMessage,
    ) {
      super(owner);
    }
    protected onAck(): Promise<void> {
      consumer?.acked();
      return SETTLED;
    }
    protected onNack(): Promise<void> {
      return SETTLED;
    }
    protected onDeadLetter(failure: MissiveCore.DeadLetterFailure): Promise<void> {
      throw new Error(`dead letter in the bench: ${failure.reason} ${failure.errorMessage}`);
    }
  }

  class BytesConsumer extends kit.BufferedConsumer<BytesDelivery> {
    /** Messages still to hand over in this run. */
    left = 0;
    next = 0;
    private refill: NodeJS.Immediate | undefined;
    constructor() {
      super('bytes', PREFETCH);
    }
    acked(): void {
      this.refill ??= setImmediate(() => {
        this.refill = undefined;
        this.fill();
      });
    }
    /** Hands over as many messages as there is room for (one socket read's worth). */
    fill(): void {
      let room = this.room();
      while (room-- > 0 && this.left > 0) {
        this.left--;
        const body = frames[this.next++ % frames.length]!;
        this.offer(new BytesDelivery(this, { id: '', type: ORDER_TOPIC, body, headers: EMPTY }));
      }
    }
    protected detach(): void {}
    protected giveBack(): void {}
  }

  const transport: MissiveCore.Transport = {
    kind: 'bytes',
    capabilities: { delayedDelivery: false, cancelScheduled: false, orderingKeys: false, multiProcess: true },
    deadLetters: {
      list: async () => [],
      count: async () => 0,
      get: async () => undefined,
      replay: async () => 0,
      purge: async () => 0,
    },
    connect: async () => undefined,
    close: async () => {
      consumer?.closeNow();
    },
    declare: async () => undefined,
    publish: (_topic, message) => {
      bodyBytes += message.body.byteLength;
      return SETTLED;
    },
    send: (_queue, message) => {
      bodyBytes += message.body.byteLength;
      return SETTLED;
    },
    consume: () => (consumer = new BytesConsumer()),
    cancelScheduled: async () => false,
    queues: async () => [],
    deleteQueue: async () => undefined,
  };
  return {
    transport,
    /** Hands `n` more messages over, starting now. */
    deliver(n: number): void {
      consumer!.left += n;
      consumer!.fill();
    },
    /** Bytes of the bodies published so far. */
    get bodyBytes(): number {
      return bodyBytes;
    },
  };
}

async function subject(label: string, path: string): Promise<Subject> {
  const url = pathToFileURL(resolve(path));
  const core = (await import(url.href)) as CoreModule;
  const kit = (await import(new URL('transport/index.js', url).href)) as KitModule;
  const Placed = core.defineEvent(ORDER_TOPIC, orderSchema);
  const codec = core.jsonCodec();
  // One read buffer holding every frame, each message a view into it (as a socket read).
  const encoded: Uint8Array[] = [];
  for (let i = 0; i < DISTINCT; i++)
    encoded.push(codec.encode(core.createEnvelope({ type: ORDER_TOPIC, source: '/missive/bench-publisher', data: makeOrder(i, 't') })));
  const read = Buffer.concat(encoded);
  const frames: Uint8Array[] = [];
  let at = 0;
  for (const e of encoded) {
    frames.push(new Uint8Array(read.buffer, read.byteOffset + at, e.byteLength));
    at += e.byteLength;
  }
  const bytes = bytesTransport(core, kit, frames);
  const bus = core.createBus({ service: 'bench', transport: bytes.transport, logger: core.consoleLogger('error') });
  let handled = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  if (mode === 'consume') {
    bus.endpoint(
      `bytes-${label}`,
      (e) =>
        e.on(Placed, (order) => {
          if (order.lines !== 3) throw new Error('not the order');
          handled++;
          if (handled >= target) wake?.();
        }),
      { concurrency: CONCURRENCY, prefetch: PREFETCH },
    );
  }
  await bus.start();
  return {
    label,
    async run(n) {
      if (mode === 'consume') {
        target = handled + n;
        const done = new Promise<void>((resolveDone) => (wake = resolveDone));
        bytes.deliver(n);
        await done;
        return;
      }
      let inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        inFlight.push(bus.publish(Placed, makeOrder(i, 't')));
        if (inFlight.length === 100) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
    },
    close: () => bus.stop(),
  };
}

const subjects: Subject[] = [];
for (const build of builds) {
  const at = build.indexOf('=');
  subjects.push(await subject(build.slice(0, at), build.slice(at + 1)));
}
for (const s of subjects) await s.run(warmup);
const results = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
const rates = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 === 0 ? subjects : [...subjects].reverse()) {
    const before = process.cpuUsage();
    const startedAt = performance.now();
    await s.run(count);
    const used = process.cpuUsage(before);
    rates.get(s.label)!.push(count / ((performance.now() - startedAt) / 1000));
    results.get(s.label)!.push((used.user + used.system) / count);
  }
}
for (const s of subjects) await s.close();
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(
  `${mode}, ${rounds} rounds of ${count} messages, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const [label, values] of results) {
  const rate = rates.get(label)!;
  console.log(
    `${label.padEnd(12)} CPU µs/message: median ${median(values).toFixed(2)}  (${values.map((v) => v.toFixed(2)).join(', ')});` +
      `  msg/s (wall): median ${Math.round(median(rate))}  (${rate.map((v) => Math.round(v)).join(', ')})`,
  );
}
process.exit(0);
