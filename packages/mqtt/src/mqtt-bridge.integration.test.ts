import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigurationError,
  TransportError,
  createBus,
  defineEvent,
  type EventContract,
  type PayloadInput,
  type Logger,
  type PublishOptions,
} from '@missive/core';
import { brokersRequired, createWaiter } from '@missive/testing';
import { MqttMessageRejected, type MqttRejection } from './dead-letter.js';
import { createMqttBridge, type BridgeBus, type MqttBridge } from './mqtt-bridge.js';
import { mqttUrl, needMosquitto, runPrefix, startOwnMosquitto, type OwnMosquitto } from './test-support/mosquitto.js';

const Telemetry = defineEvent(
  'test.telemetry',
  z.object({ droneId: z.string(), seq: z.number().int(), battery: z.number().min(0).max(100) }),
);
type Reading = z.infer<typeof Telemetry.schema>;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

/** A bus on the memory transport that records what the bridge forwards. */
async function recordingBus() {
  const bus = createBus({ service: 'mqtt-test', transport: 'memory://' });
  const readings: { reading: Reading; key: string | undefined; id: string }[] = [];
  const rejected: MqttRejection[] = [];
  bus.endpoint('recorder', (e) => {
    e.on(Telemetry, (m, ctx) => void readings.push({ reading: m, key: ctx.envelope.partitionkey, id: ctx.envelope.id }));
    e.on(MqttMessageRejected, (m) => void rejected.push(m));
  });
  await bus.start();
  cleanup.push(() => bus.stop());
  return { bus, readings, rejected };
}

async function device(url = mqttUrl): Promise<MqttClient> {
  const client = await connectAsync(url, { protocolVersion: 5, clientId: `device-${runPrefix().slice(13)}`, reconnectPeriod: 200 });
  cleanup.push(() => client.endAsync());
  return client;
}

function bridgeOf(
  bus: BridgeBus,
  prefix: string,
  clientId: string,
  extra: { group?: string; url?: string; logger?: Logger } = {},
): MqttBridge {
  const bridge = createMqttBridge({
    url: extra.url ?? mqttUrl,
    bus,
    clientId,
    group: extra.group,
    routes: [
      {
        filter: `${prefix}/drones/+/telemetry`,
        contract: Telemetry,
        map: (p, topic) => ({ ...(p as object), droneId: topic.split('/').at(-2)! }),
        messageId: (p) => `${(p as { seq?: number }).seq ?? 'none'}`,
      },
    ],
    reconnectMs: 200,
    sessionExpirySeconds: 120, // the broker forgets a test's session soon after the run
    logger: extra.logger,
  });
  cleanup.push(() => bridge.stop());
  return bridge;
}

const send = (client: MqttClient, topic: string, body: unknown) =>
  client.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
const waiter = createWaiter({ timeoutMs: 20_000 });

describe('mqtt bridge (Mosquitto)', () => {
  it('forwards device messages as typed events, keyed by topic', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    const prefix = runPrefix();
    const { bus, readings } = await recordingBus();
    const bridge = bridgeOf(bus, prefix, `${prefix.slice(13)}-a`);
    await bridge.start();
    const d = await device();
    for (let seq = 1; seq <= 20; seq++) await send(d, `${prefix}/drones/d-${seq % 2}/telemetry`, { seq, battery: 90 });
    await waiter.until(() => readings.length === 20, '20 readings on the bus');
    expect(readings.filter((r) => r.reading.droneId === 'd-1').map((r) => r.reading.seq)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(readings[0]?.key).toBe(`${prefix}/drones/d-1/telemetry`);
    expect(readings[0]?.id).toBe('1');
    expect(bridge.stats()).toMatchObject({ forwarded: 20, rejected: 0, connected: true });
  });

  it('turns malformed payloads into rejection events with the reason and keeps going', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    const prefix = runPrefix();
    const { bus, readings, rejected } = await recordingBus();
    const bridge = bridgeOf(bus, prefix, `${prefix.slice(13)}-b`);
    await bridge.start();
    const d = await device();
    const topic = `${prefix}/drones/d-9/telemetry`;
    await send(d, topic, '{not json');
    await send(d, topic, { seq: 1, battery: 250 });
    await send(d, topic, 'null');
    await send(d, topic, { seq: 2, battery: 50 });
    await waiter.until(() => readings.length === 1 && rejected.length === 3, 'one reading and three rejections');
    expect(readings[0]?.reading).toEqual({ droneId: 'd-9', seq: 2, battery: 50 });
    // The rejection events are handled concurrently, so they are matched by the payload they carry, not by order.
    const reasonOf = (payload: string) => rejected.find((r) => Buffer.from(r.payload, 'base64').toString() === payload)?.reason;
    expect(reasonOf('{not json')).toMatch(/^not JSON: /);
    expect(reasonOf(JSON.stringify({ seq: 1, battery: 250 }))).toMatch(/^invalid test\.telemetry payload: battery: /);
    expect(reasonOf('null')).toMatch(/^mapping failed: |^invalid test\.telemetry payload/);
    expect(rejected.find((r) => r.reason.startsWith('not JSON'))).toMatchObject({ topic, bridge: `${prefix.slice(13)}-b` });
    expect(bridge.stats()).toMatchObject({ forwarded: 1, rejected: 3 });
  });

  it('a payload too large for the bus is rejected with the reason and a cut copy of it; the bridge goes on', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    const prefix = runPrefix();
    const Note = defineEvent('test.note', z.object({ seq: z.number().int(), text: z.string() }));
    const bus = createBus({ service: 'mqtt-test', transport: 'memory://' });
    const notes: number[] = [];
    const rejected: MqttRejection[] = [];
    bus.endpoint('recorder', (e) => {
      e.on(Note, (m) => void notes.push(m.seq));
      e.on(MqttMessageRejected, (m) => void rejected.push(m));
    });
    await bus.start();
    cleanup.push(() => bus.stop());
    const bridge = createMqttBridge({
      url: mqttUrl,
      bus,
      clientId: `${prefix.slice(13)}-big`,
      routes: [{ filter: `${prefix}/notes`, contract: Note }],
      sessionExpirySeconds: 120,
    });
    cleanup.push(() => bridge.stop());
    await bridge.start();
    const d = await device();
    const topic = `${prefix}/notes`;
    // Over the codec's 1 MiB: as the event (valid JSON), and as a rejection with its payload whole (not JSON).
    const huge = 'x'.repeat(1_200_000);
    await send(d, topic, { seq: 1, text: huge });
    await send(d, topic, huge);
    await send(d, topic, { seq: 2, text: 'small' });
    await waiter.until(() => notes.length === 1 && rejected.length === 2, 'the note after two rejections');
    expect(notes).toEqual([2]);
    expect(rejected.map((r) => r.reason)).toEqual([
      expect.stringMatching(/over the limit of 1048576 bytes; payload of \d+ bytes cut to the first 65536$/),
      expect.stringMatching(/^not JSON: .*; payload of 1200000 bytes cut to the first 65536$/),
    ]);
    expect(Buffer.from(rejected[1]!.payload, 'base64').toString()).toBe(huge.slice(0, 65536));
    expect(bridge.stats()).toMatchObject({ forwarded: 1, rejected: 2 });
  });

  it('bridges in one shared-subscription group compete: each message forwarded once', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    const prefix = runPrefix();
    const { bus, readings } = await recordingBus();
    const one = bridgeOf(bus, prefix, `${prefix.slice(13)}-c1`, { group: `g${prefix.slice(13)}` });
    const two = bridgeOf(bus, prefix, `${prefix.slice(13)}-c2`, { group: `g${prefix.slice(13)}` });
    await one.start();
    await two.start();
    const d = await device();
    for (let seq = 1; seq <= 40; seq++) await send(d, `${prefix}/drones/d-${seq % 4}/telemetry`, { seq, battery: 80 });
    await waiter.until(() => one.stats().forwarded + two.stats().forwarded === 40, '40 forwarded between the two bridges');
    await waiter.until(() => readings.length === 40, '40 readings on the bus');
    expect(new Set(readings.map((r) => r.reading.seq)).size).toBe(40);
    expect(one.stats().forwarded).toBeGreaterThan(0);
    expect(two.stats().forwarded).toBeGreaterThan(0);
  });

  it('keeps its session: messages sent while the bridge is away arrive when it returns', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    const prefix = runPrefix();
    const { bus, readings } = await recordingBus();
    const clientId = `${prefix.slice(13)}-d`;
    const first = bridgeOf(bus, prefix, clientId);
    await first.start();
    await first.stop();
    const d = await device();
    for (let seq = 1; seq <= 10; seq++) await send(d, `${prefix}/drones/d-1/telemetry`, { seq, battery: 70 });
    const again = bridgeOf(bus, prefix, clientId);
    await again.start();
    await waiter.until(() => readings.length === 10, 'the 10 readings queued in the session');
    expect(readings.map((r) => r.reading.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('acknowledges only what the bus has: a message in hand when the bridge stops comes back', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    const prefix = runPrefix();
    const { bus, readings } = await recordingBus();
    let calls = 0;
    const held: string[] = [];
    // A bus that fails twice (retried), then never answers (the bridge is stopped with the message in hand).
    const stuck: BridgeBus = {
      publish<C extends EventContract>(_contract: C, payload: PayloadInput<C>, _options?: PublishOptions) {
        calls++;
        if (calls <= 2) return Promise.reject(new TransportError('bus down'));
        held.push(JSON.stringify(payload));
        return new Promise<void>(() => undefined);
      },
    };
    const clientId = `${prefix.slice(13)}-e`;
    const first = bridgeOf(stuck, prefix, clientId);
    await first.start();
    const d = await device();
    await send(d, `${prefix}/drones/d-5/telemetry`, { seq: 1, battery: 60 });
    await waiter.until(() => held.length === 1, 'the message held by the stuck bus after two retries');
    expect(first.stats().retried).toBe(2);
    await first.stop();
    const second = bridgeOf(bus, prefix, clientId);
    await second.start();
    await waiter.until(() => readings.length === 1, 'the unacknowledged message redelivered to the next session');
    expect(readings[0]?.reading).toEqual({ droneId: 'd-5', seq: 1, battery: 60 });
  });

  it('reconnects after its own Mosquitto restarts and goes on forwarding', async (ctx) => {
    if (!(await needMosquitto(ctx))) return;
    let own: OwnMosquitto;
    try {
      own = await startOwnMosquitto();
    } catch (error) {
      ctx.skip(`cannot start a private mosquitto: ${(error as Error).message}`);
      return;
    }
    cleanup.push(() => own.stop());
    const prefix = runPrefix();
    const { bus, readings } = await recordingBus();
    const bridge = bridgeOf(bus, prefix, `${prefix.slice(13)}-f`, { url: own.url });
    await bridge.start();
    const d = await device(own.url);
    await send(d, `${prefix}/drones/d-1/telemetry`, { seq: 1, battery: 50 });
    await waiter.until(() => readings.length === 1, 'a reading before the restart');
    await own.restart();
    await waiter.until(() => bridge.stats().connects >= 2 && bridge.stats().connected && d.connected, 'bridge and device reconnected');
    for (let seq = 2; seq <= 5; seq++) await send(d, `${prefix}/drones/d-1/telemetry`, { seq, battery: 50 });
    await waiter.until(() => readings.length === 5, 'the readings sent after the restart');
    expect(readings.map((r) => r.reading.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('checks its options at once and names an unreachable broker without credentials', async () => {
    const bus: BridgeBus = { publish: () => Promise.resolve() };
    const route = { filter: 'a/+/b', contract: Telemetry };
    expect(() => createMqttBridge({ url: 'http://x', bus, clientId: 'c', routes: [route] })).toThrow(ConfigurationError);
    expect(() => createMqttBridge({ url: 'mqtt://x', bus, clientId: 'c', routes: [{ filter: 'a/b+/c', contract: Telemetry }] })).toThrow(
      /whole level/,
    );
    expect(() => createMqttBridge({ url: 'mqtt://x', bus, clientId: 'c', routes: [] })).toThrow(/at least one route/);
    const bridge = createMqttBridge({ url: 'mqtt://user:s3cret@127.0.0.1:1', bus, clientId: 'c', routes: [route], connectTimeoutMs: 1500 });
    const failure = await bridge.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await bridge.stop();
    expect(failure).toBeInstanceOf(TransportError);
    expect(failure?.message).toContain('127.0.0.1:1');
    expect(failure?.message).not.toContain('s3cret');
  });

  it('a wrong password fails start at once with the CONNACK reason, never showing the password', async (ctx) => {
    if (!(await needOwnMosquitto(ctx))) return;
    const password = 'right-pa55word';
    const wrong = 'wr0ng-pa55word-never-shown';
    const own = await startOwnMosquitto({ users: { bridge: password } });
    cleanup.push(() => own.stop());
    const port = new URL(own.url).port;
    const lines: string[] = [];
    const logger = recordingLogger(lines);
    const bus: BridgeBus = { publish: () => Promise.resolve() };
    const route = { filter: 'a/+/b', contract: Telemetry };
    // A connect timeout far past the test's: the refusal must end start, not the timeout.
    const options = { bus, routes: [route], connectTimeoutMs: 120_000, logger };
    const refused = createMqttBridge({
      ...options,
      url: `mqtt://bridge:${wrong}@127.0.0.1:${port}`,
      clientId: `wrong-${runPrefix().slice(13)}`,
    });
    cleanup.push(() => refused.stop());
    const failure = await refused.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure).toBeInstanceOf(TransportError);
    expect(failure?.message).toMatch(
      new RegExp(
        `^MQTT broker at mqtt://127\\.0\\.0\\.1:${port} refused the connection: (not authorized|bad user name or password) \\(CONNACK reason code 13[45]\\); check the user name and password$`,
      ),
    );
    expect((failure as TransportError).retryable).toBe(false);
    const text = `${inspect(failure, { depth: 10 })} ${JSON.stringify(failure, Object.getOwnPropertyNames(failure))} ${lines.join('\n')}`;
    expect(text).not.toContain(wrong);
    expect(refused.stats().connected).toBe(false);

    // The same broker takes the right password: the refusal was the password's.
    const accepted = createMqttBridge({
      ...options,
      url: `mqtt://bridge:${password}@127.0.0.1:${port}`,
      clientId: `right-${runPrefix().slice(13)}`,
    });
    cleanup.push(() => accepted.stop());
    await accepted.start();
    expect(accepted.stats().connected).toBe(true);
  }, 20_000);

  it('a reconnect the broker refuses (a password changed under it) is logged as an error and retried until the broker takes it again', async (ctx) => {
    if (!(await needOwnMosquitto(ctx))) return;
    const password = 'first-pa55word-never-shown';
    const own = await startOwnMosquitto({ users: { bridge: password } });
    cleanup.push(() => own.stop());
    const url = `mqtt://bridge:${password}@127.0.0.1:${new URL(own.url).port}`;
    const lines: string[] = [];
    const prefix = runPrefix();
    const { bus, readings } = await recordingBus();
    const bridge = bridgeOf(bus, prefix, `${prefix.slice(13)}-p`, { url, logger: recordingLogger(lines) });
    await bridge.start();
    own.setUsers({ bridge: 'another-pa55word' });
    await own.restart(); // the bridge reconnects, and the broker refuses its password now
    await waiter.until(
      () =>
        lines.some((line) => line.startsWith('error') && line.includes('refused the connection: not authorized (CONNACK reason code 135)')),
      'the refused reconnect logged as an error',
    );
    own.setUsers({ bridge: password }); // the broker takes it again: the bridge, still retrying, gets in
    await waiter.until(() => bridge.stats().connects === 2 && bridge.stats().connected, 'the bridge reconnected');
    const d = await device(url);
    await send(d, `${prefix}/drones/d-1/telemetry`, { seq: 1, battery: 50 });
    await waiter.until(() => readings.length === 1, 'a reading forwarded after the reconnect');
    expect(lines.join('\n')).not.toContain(password);
  }, 30_000);
});

/** Skips (or fails under MISSIVE_REQUIRE_BROKERS=1) when `mosquitto` or `mosquitto_passwd` is not installed. */
async function needOwnMosquitto(ctx: { skip: (note?: string) => void }): Promise<boolean> {
  const missing = ['mosquitto', 'mosquitto_passwd'].filter((bin) => spawnSync(bin, ['-h']).error !== undefined);
  if (missing.length === 0) return true;
  const problem = `${missing.join(' and ')} not installed`;
  if (brokersRequired()) throw new Error(`${problem} (MISSIVE_REQUIRE_BROKERS=1)`);
  ctx.skip(problem);
  return false;
}

/** A logger that keeps every line, its fields whole (as pino would write them). */
function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (fields: object | string, message?: string) =>
    void lines.push(`${level} ${inspect(fields, { depth: 10 })} ${message ?? ''}`);
  const logger: Logger = { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), child: () => logger };
  return logger;
}
