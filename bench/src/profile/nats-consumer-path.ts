/**
 * CPU per message of a NATS consumer's path in one process, without a broker's timing: JetStream
 * deliveries written as the server writes them (`HMSG` frames with the subject, ack reply, header
 * block and body each system really gets) are fed to nats.js's own protocol parser in chunks of the
 * prefetch, as a socket read would bring them; the consumer reads and acks them; its acks and pull
 * requests go out on a real connection to nats-server (to subjects nobody takes: the server drops
 * them), so nats.js's publish and the socket writes count. Only the socket reads and the server
 * are left out. Alternating rounds of:
 *
 * - `raw` (named like the others): the raw pattern's callback (parse the payload, publish `+ACK`);
 * - `<label>=<dir>`: `@missive/nats`'s consumer of the build in `<dir>` (its `dist`), read with
 *   `for await` and acked, as the bus would but without it (the body, an envelope, is not parsed:
 *   that is the bus's work);
 * - `bus:<label>=<dir>`: the same consumer under a bus with one endpoint (concurrency 16, prefetch
 *   32) whose handler takes the payload: decode, schema check, pipeline, ack. The bus is the
 *   `@missive/core` that build resolves (`<dir>/../../core/dist`, its checkout's core), so
 *   `bus:base=/tmp/base/packages/nats/dist` measures that checkout's core too.
 *
 * Missive's frames carry the header block the current build publishes (no `Missive-Type` on a
 * message published to its type's topic); `--with-type` writes the header as builds before
 * 2026-11-30 07:00 did (`Missive-Type` always), for a before/after of that change. A build whose
 * label contains `binary` gets its frames in binary content mode (the data as the payload, the
 * attributes in `ce-` headers, as `@missive/nats` publishes since 2026-11-30 10:00, written by its
 * own `wireOf`); any other, the envelope's JSON as the payload (structured, as before).
 *
 * ```sh
 * node --expose-gc bench/dist/profile/nats-consumer-path.js --rounds 6 --count 100000 raw now=packages/nats/dist base=node_modules/.base-nats/dist bus:now=packages/nats/dist
 * node --cpu-prof bench/dist/profile/nats-consumer-path.js --rounds 1 --count 300000 now=packages/nats/dist
 * # instructions per message, one build per process (the second round's dump: JIT warm)
 * valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg-now.out \
 *   node --single-threaded bench/dist/profile/nats-consumer-path.js --callgrind --rounds 2 --count 5000 now=packages/nats/dist
 * ```
 * The `nats` scenario measures the whole thing (broker, two processes); this isolates the client's work.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, type Msg, type NatsConnection, type Subscription } from 'nats';
import { type createBus, createEnvelope, type defineEvent, jsonCodec, silentLogger, type Transport } from '@missive/core';
import { BinaryMessage, type Consumer, type Delivery, type TransportMessage } from '@missive/core/transport';
import { NATS_URL } from '../harness/machine.js';
import { makeOrder, orderSchema } from '../harness/payload.js';
import { spread } from '../harness/stats.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const at = argv.indexOf(name);
  return at < 0 ? fallback : Number(argv.splice(at, 2)[1]);
};
const withTypeAt = argv.indexOf('--with-type');
if (withTypeAt >= 0) argv.splice(withTypeAt, 1);
const WITH_TYPE = withTypeAt >= 0;
const callgrindAt = argv.indexOf('--callgrind');
if (callgrindAt >= 0) argv.splice(callgrindAt, 1);
/** Under callgrind: counts zeroed right before each round's messages and dumped right after (one dump per round). */
const callgrind = (what: '-z' | '-d'): void => {
  if (callgrindAt >= 0) execFileSync('callgrind_control', [what, String(process.pid)], { stdio: 'ignore' });
};
const rounds = opt('--rounds', 4);
const count = opt('--count', 100_000);
const PREFETCH = 32;
const CONCURRENCY = 16;
interface Build {
  readonly label: string;
  readonly dir: string | undefined;
  readonly bus: boolean;
}
const builds: Build[] = (argv.length > 0 ? argv : ['raw', 'now=packages/nats/dist']).map((a) => {
  if (a === 'raw') return { label: 'raw', dir: undefined, bus: false };
  const [label, dir] = a.split('=') as [string, string];
  return { label, dir: resolve(dir), bus: label.startsWith('bus:') };
});

const encoder = new TextEncoder();
const id = Date.now().toString(36);
const RAW = { subject: `br${id}.raw`, ack: `$JS.ACK.BR${id.toUpperCase()}_RAW.raw` };
const QUEUE = `bench-${id}`;
const TYPE = `bench.${QUEUE}`;
const STREAM = `BM${id.toUpperCase()}_MSG`;
const LANE = `${QUEUE}!t0123456789`;

/** The build's `wireOf` (binary frames), for a build label naming `binary`. */
type WireOf = (message: TransportMessage, topic?: string) => { headers: { encode(): Uint8Array }; data: Uint8Array };

/** Frames of `n` deliveries for the subscription `sid`, in chunks of {@link PREFETCH}, as the server writes them. */
function chunks(n: number, sid: number, missive: boolean, wireOf?: WireOf): Uint8Array[] {
  const codec = jsonCodec();
  const out: Uint8Array[] = [];
  let frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const order = makeOrder(i, 't');
    let subject: string;
    let reply: string;
    let header: string;
    let body: Uint8Array;
    if (missive) {
      const envelope = createEnvelope({ type: TYPE, data: order, source: 'bench-publisher' });
      subject = `bm${id}._.t.${TYPE}`;
      reply = `$JS.ACK.${STREAM}.${LANE}.1.${1000 + i}.${1000 + i}.1732940000000000000.${n - i}`;
      header = WITH_TYPE
        ? `NATS/1.0\r\nNats-Msg-Id: ${envelope.id}\r\nMissive-Type: ${TYPE}\r\n\r\n`
        : `NATS/1.0\r\nNats-Msg-Id: ${envelope.id}\r\n\r\n`;
      body = codec.encode(envelope);
      if (wireOf !== undefined) {
        const wire = wireOf(new BinaryMessage(codec.toBinary!(envelope)!, {}, undefined), TYPE);
        header = new TextDecoder().decode(wire.headers.encode());
        body = wire.data;
      }
    } else {
      subject = RAW.subject;
      reply = `${RAW.ack}.1.${1000 + i}.${1000 + i}.1732940000000000000.${n - i}`;
      header = `NATS/1.0\r\nNats-Msg-Id: ${randomUUID()}-${i}\r\n\r\n`;
      body = encoder.encode(JSON.stringify(order));
    }
    const h = encoder.encode(header);
    const line = encoder.encode(`HMSG ${subject} ${sid} ${reply} ${h.length} ${h.length + body.length}\r\n`);
    const frame = new Uint8Array(line.length + h.length + body.length + 2);
    frame.set(line);
    frame.set(h, line.length);
    frame.set(body, line.length + h.length);
    frame.set([13, 10], frame.length - 2);
    frames.push(frame);
    if (frames.length === PREFETCH || i === n - 1) {
      const chunk = new Uint8Array(frames.reduce((s, f) => s + f.length, 0));
      let at = 0;
      for (const f of frames) {
        chunk.set(f, at);
        at += f.length;
      }
      out.push(chunk);
      frames = [];
    }
  }
  return out;
}

/** Socket writes so far (every write of this process: the connection's). */
let writes = 0;
{
  const proto = Socket.prototype as unknown as Record<'write', (this: Socket, ...args: unknown[]) => boolean>;
  const write = proto.write;
  proto.write = function (this: Socket, ...args: unknown[]): boolean {
    writes++;
    return write.apply(this, args);
  };
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const turn = () => new Promise<void>((r) => setImmediate(r));

interface Path {
  /** The subscription the frames are for. */
  readonly sid: number;
  readonly missive: boolean;
  /** The build's `wireOf`, when its frames are binary. */
  readonly wireOf?: WireOf;
  close(): Promise<void>;
}

/** nats.js's parser of this connection (internal): where a socket read's bytes go. */
function parserOf(nc: NatsConnection): { parse(chunk: Uint8Array): void } {
  return (nc as unknown as { protocol: { parser: { parse(chunk: Uint8Array): void } } }).protocol.parser;
}

interface NatsBuild {
  NatsConsumer: new (...args: unknown[]) => Consumer & { ready: Promise<void> };
  Confirmer: new (nc: NatsConnection, timeoutMs: number) => { close(): void; flush(): void };
}

/** `@missive/nats`'s consumer of the build in `dir`, on `nc`; its subscription's sid is captured. */
async function natsConsumer(dir: string, nc: NatsConnection): Promise<{ consumer: Consumer; sid: () => number; close(): void }> {
  const { NatsConsumer } = (await import(pathToFileURL(`${dir}/nats-consumer.js`).href)) as NatsBuild;
  const { Confirmer } = (await import(pathToFileURL(`${dir}/confirmer.js`).href)) as NatsBuild;
  let sub: Subscription | undefined;
  const watched = new Proxy(nc, {
    get(target, key) {
      if (key === 'subscribe')
        return (subject: string, opts: { callback: (error: unknown, msg: Msg) => void }) => (sub = target.subscribe(subject, opts));
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const confirmer = new Confirmer(nc, 10_000);
  const host = {
    nc: watched,
    confirmer,
    stream: STREAM,
    ackWaitMs: 10_000,
    confirmAcks: false,
    logger: silentLogger,
    storedHeaders: async () => undefined,
    storeHeaders: async () => undefined,
    forgetHeaders: () => undefined,
    deadLetter: async () => undefined,
    forget: () => undefined,
    present: () => async () => undefined,
  };
  const lane = {
    name: LANE,
    queue: QUEUE,
    filter: `bm${id}.*.t.${TYPE}`,
    pattern: TYPE,
    serial: false,
    pending: 0,
    ackPending: 0,
    created: 0,
  };
  const consumer = new NatsConsumer(host, QUEUE, PREFETCH, Promise.resolve([lane]));
  await consumer.ready;
  return { consumer, sid: () => (sub as unknown as { sid: number }).sid, close: () => confirmer.close() };
}

async function openPath(build: Build, nc: NatsConnection, onMessage: () => void): Promise<Path> {
  if (build.dir === undefined) {
    const decoder = new TextDecoder();
    const sub = nc.subscribe(`_INBOX.${id}`, {
      callback: (_error, m) => {
        JSON.parse(decoder.decode(m.data));
        onMessage();
        nc.publish(m.reply!, '+ACK');
      },
    });
    return { sid: (sub as unknown as { sid: number }).sid, missive: false, close: async () => sub.unsubscribe() };
  }
  const opened = await natsConsumer(build.dir, nc);
  const { consumer } = opened;
  const wireOf = build.label.includes('binary')
    ? ((await import(pathToFileURL(`${build.dir}/message-codec.js`).href)) as { wireOf: WireOf }).wireOf
    : undefined;
  const close = () => opened.close();
  const sid = () => opened.sid();
  if (!build.bus) {
    const loop = (async () => {
      for await (const delivery of consumer as AsyncIterable<Delivery>) {
        if (delivery.message.body.length > 0) onMessage();
        void delivery.ack();
      }
    })();
    return {
      sid: sid(),
      missive: true,
      wireOf,
      close: async () => {
        await consumer.close();
        await loop;
        close();
      },
    };
  }
  // Under a bus: a transport whose only live part is this consumer.
  const transport: Transport = {
    kind: 'nats',
    capabilities: { delayedDelivery: true, cancelScheduled: true, orderingKeys: true, multiProcess: true, binaryContent: true },
    deadLetters: {} as Transport['deadLetters'],
    connect: async () => undefined,
    close: async () => {
      await consumer.close();
      close();
    },
    declare: async () => undefined,
    publish: async () => undefined,
    send: async () => undefined,
    consume: () => consumer,
    cancelScheduled: async () => false,
    queues: async () => [],
    deleteQueue: async () => undefined,
  };
  // The core of the build's own checkout (what its `@missive/core` import resolves to).
  const core = (await import(pathToFileURL(resolve(build.dir, '../../core/dist/index.js')).href)) as {
    createBus: typeof createBus;
    defineEvent: typeof defineEvent;
  };
  const buildContract = core.defineEvent(TYPE, orderSchema);
  const bus = core.createBus({
    service: 'bench-consumer',
    transport: 'stub://x',
    transports: { stub: () => transport },
    stopTimeoutMs: 2000,
  });
  bus.endpoint(QUEUE, (e) => e.on(buildContract, () => onMessage()), { concurrency: CONCURRENCY, prefetch: PREFETCH });
  await bus.start();
  return { sid: sid(), missive: true, wireOf, close: () => bus.stop() };
}

const writesPerMessage = new Map<string, number>();

async function runOnce(build: Build, nc: NatsConnection): Promise<number> {
  let handled = 0;
  const path = await openPath(build, nc, () => handled++);
  let all: Uint8Array[] | undefined = chunks(Math.min(count, 20_000), path.sid, path.missive, path.wireOf);
  const parser = parserOf(nc);
  (globalThis as { gc?: () => void }).gc?.();
  callgrind('-z');
  const c0 = cpuNow();
  const w0 = writes;
  for (let i = 0; i * PREFETCH < count; i++) {
    parser.parse(all[i % all.length]!);
    const end = Math.min(count, (i + 1) * PREFETCH);
    // The reader takes them and acks; the acks' write goes out at the end of the turn, as after a socket read.
    do await turn();
    while (handled < end);
  }
  await nc.flush();
  const us = (cpuNow() - c0) / count;
  callgrind('-d');
  writesPerMessage.set(build.label, (writes - w0) / count);
  all = undefined;
  await path.close();
  return us;
}

const nc = await connect({ servers: new URL(NATS_URL).host });
const results = new Map<string, number[]>(builds.map((b) => [b.label, []]));
const loads = [loadavg()[0]!];
for (let r = 0; r < rounds; r++) {
  for (const build of r % 2 === 0 ? builds : [...builds].reverse()) {
    const us = await runOnce(build, nc);
    results.get(build.label)!.push(us);
    console.error(`round ${r + 1} ${build.label}: ${us.toFixed(3)} µs CPU/msg`);
  }
  loads.push(loadavg()[0]!);
}
await nc.close();
console.log(
  `\n${rounds} rounds of ${count} messages, alternating; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}\n`,
);
console.log('| consumer path | CPU µs/msg, median (min–max) | socket writes per message |');
console.log('| --- | ---: | ---: |');
for (const build of builds) {
  const s = spread(results.get(build.label)!);
  console.log(
    `| ${build.label} | ${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)}) | ${writesPerMessage.get(build.label)!.toFixed(3)} |`,
  );
}
process.exit(0);
