/**
 * A bridge from MQTT device topics into the bus. Devices publish to an MQTT broker (Mosquitto) as
 * they always do; the bridge subscribes to their topics with an MQTT 5 shared subscription
 * (`$share/<group>/<filter>`: the bridge instances of one group compete, each message goes to one),
 * QoS 1 and a persistent session (`clean: false` with a session expiry), and publishes each message
 * to the bus as a typed event.
 *
 * Guarantees: a message is acknowledged to the broker (PUBACK) only after the bus confirmed the
 * event (or the rejection event, for a bad payload), so a bridge that crashes or loses its
 * connection gets it again: **at least once**, with duplicates possible (give `messageId` so
 * consumers with an inbox drop them). A bad payload (not JSON, no route, a `map` that throws, a
 * payload the contract's schema refuses, an event over the codec's size limit) becomes a
 * {@link MqttMessageRejected} event with the reason (and the payload's first 64 KiB) and is
 * acknowledged; it never stops the bridge. A bus that fails to publish is retried
 * with backoff while the message stays unacknowledged.
 *
 * What MQTT cannot promise (so neither can the bridge): no broker-side dead letters or retries
 * with backoff (the bridge supplies the rejection event); order per topic only, and only within one
 * bridge instance: a shared subscription spreads one topic's messages over the group, so the bus
 * event carries the topic as partition key and a consumer orders per key; messages published
 * while no session exists are lost (a persistent session keeps them only once it was created, and
 * only for `sessionExpirySeconds`); the broker's queue per session is bounded by its own limits
 * (Mosquitto `max_queued_messages`, default 1000), beyond which it drops QoS 1 messages.
 *
 * @example
 * ```ts
 * const bridge = createMqttBridge({
 *   url: 'mqtt://127.0.0.1:1883', bus, clientId: 'telemetry-bridge-1', group: 'telemetry',
 *   routes: [{ filter: 'drones/+/telemetry', contract: DroneTelemetry, map: (p, topic) => ({ ...p, droneId: topic.split('/')[1] }) }],
 * });
 * bus.attach(bridge);
 * await bus.start();
 * ```
 * @module
 */
import { connect, ErrorWithReasonCode, type IPublishPacket, type MqttClient } from 'mqtt';
import {
  ConfigurationError,
  MessageTooLargeError,
  TransportError,
  ValidationError,
  type BusComponent,
  type EventContract,
  type Logger,
  type PayloadInput,
  type PublishOptions,
} from '@missive/core';
import { checkKnownKeys } from '@missive/core/transport';
import { connackRefusal } from './connack-refusal.js';
import { MqttMessageRejected } from './dead-letter.js';
import { topicFilter } from './topic-filter.js';

/** One MQTT topic filter and the event its messages become. */
export interface MqttRoute<C extends EventContract = EventContract> {
  /** An MQTT topic filter (`drones/+/telemetry`). */
  readonly filter: string;
  readonly contract: C;
  /** From the parsed JSON payload and the topic to the event's payload; throw to reject. Default: the payload as is. */
  readonly map?: (payload: unknown, topic: string) => PayloadInput<C>;
  /** A stable id for the event (from the device's own message id), so repeats can be dropped downstream. */
  readonly messageId?: (payload: unknown, topic: string) => string | undefined;
}

/**
 * A route with its payload type checked against the contract (an array of routes of different
 * contracts is typed loosely; build each with this).
 *
 * @example
 * ```ts
 * mqttRoute({ filter: 'drones/+/telemetry', contract: DroneTelemetry, map: (p, topic) => ({ ...(p as Reading), droneId: topic.split('/')[1]! }) })
 * ```
 */
export function mqttRoute<C extends EventContract>(route: MqttRoute<C>): MqttRoute {
  return route;
}

/** The bus as the bridge needs it. */
export interface BridgeBus {
  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): Promise<void>;
}

/** Options of {@link createMqttBridge}. */
export interface MqttBridgeOptions {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` broker URL. Credentials in it are never logged. */
  readonly url: string;
  readonly bus: BridgeBus;
  readonly routes: readonly MqttRoute[];
  /** The MQTT client id. Stable across restarts: it names the persistent session. */
  readonly clientId: string;
  /** The shared-subscription group; bridges of one group compete for messages. Default: no sharing. */
  readonly group?: string;
  /** How long the broker keeps the session (and queues QoS 1 messages) while the bridge is away, s. Default 3600. */
  readonly sessionExpirySeconds?: number;
  /** How long `start` waits for the first connection, ms. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Delay between reconnect attempts, ms. Default 1000. */
  readonly reconnectMs?: number;
  readonly logger?: Logger;
}

/** Counters of a bridge. */
export interface MqttBridgeStats {
  /** Messages published to the bus. */
  readonly forwarded: number;
  /** Messages turned into rejection events. */
  readonly rejected: number;
  /** Failed bus publishes that were retried. */
  readonly retried: number;
  /** Connections made (1 + reconnects). */
  readonly connects: number;
  readonly connected: boolean;
}

/** A bridge: a `BusComponent`, started and stopped with the bus (or on its own). */
export interface MqttBridge extends BusComponent {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): MqttBridgeStats;
}

const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

/**
 * The most payload bytes a rejection event carries (base64: a third more). A payload rejected for
 * its size must not make its rejection too large for the bus as well; the reason says it was cut.
 */
const REJECTED_PAYLOAD_MAX = 64 * 1024;

/** Whether a publish failed because of the message itself: retrying cannot help, the message is rejected. */
function isMessageFault(error: unknown): error is Error {
  return error instanceof ValidationError || error instanceof MessageTooLargeError;
}

/** Where the broker is, without credentials. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Creates a bridge; options are checked here, nothing connects until `start`. */
export function createMqttBridge(options: MqttBridgeOptions): MqttBridge {
  checkKnownKeys('MQTT bridge', options, {
    url: true,
    bus: true,
    routes: true,
    clientId: true,
    group: true,
    sessionExpirySeconds: true,
    connectTimeoutMs: true,
    reconnectMs: true,
    logger: true,
  });
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new ConfigurationError('MQTT bridge url is not a URL: use mqtt://host:1883');
  }
  if (!SCHEMES.has(parsed.protocol))
    throw new ConfigurationError(`MQTT bridge url must be mqtt://, mqtts://, ws:// or wss://, got ${parsed.protocol}//`);
  if (options.clientId === '' || options.clientId.includes('/'))
    throw new ConfigurationError('MQTT bridge clientId must be non-empty and contain no /');
  if (options.group !== undefined && !/^[^/+#]+$/.test(options.group))
    throw new ConfigurationError('MQTT bridge group must be non-empty and contain no /, + or #');
  if (options.routes.length === 0) throw new ConfigurationError('MQTT bridge needs at least one route');
  const routes = options.routes.map((route) => ({ route, matches: topicFilter(route.filter) }));
  const where = describeUrl(options.url);
  const sessionExpiry = options.sessionExpirySeconds ?? 3600;
  const log = options.logger;
  let client: MqttClient | undefined;
  let stopping = false;
  const counters = { forwarded: 0, rejected: 0, retried: 0, connects: 0 };

  const reject = async (topic: string, payload: Buffer, reason: string) => {
    const cut = payload.length > REJECTED_PAYLOAD_MAX;
    await publishWithRetry(
      MqttMessageRejected,
      {
        bridge: options.clientId,
        topic,
        payload: (cut ? payload.subarray(0, REJECTED_PAYLOAD_MAX) : payload).toString('base64'),
        reason: cut ? `${reason}; payload of ${payload.length} bytes cut to the first ${REJECTED_PAYLOAD_MAX}` : reason,
        at: new Date().toISOString(),
      },
      { partitionKey: topic },
    );
    counters.rejected++;
  };

  const publishWithRetry = async <C extends EventContract>(contract: C, payload: PayloadInput<C>, publishOptions: PublishOptions) => {
    for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
      try {
        await options.bus.publish(contract, payload, publishOptions);
        return;
      } catch (error) {
        if (isMessageFault(error) || stopping) throw error;
        counters.retried++;
        log?.warn({ error: (error as Error).message, type: contract.name }, 'mqtt bridge: bus publish failed, retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  /** Forwards one message; resolves when it may be acknowledged to the broker. */
  const forward = async (packet: IPublishPacket) => {
    const topic = packet.topic;
    const bytes = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const found = routes.find((r) => r.matches(topic))?.route;
    if (found === undefined) return reject(topic, bytes, 'no route for topic');
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      return reject(topic, bytes, `not JSON: ${(error as Error).message}`);
    }
    let payload: unknown;
    let messageId: string | undefined;
    try {
      payload = found.map === undefined ? json : found.map(json, topic);
      messageId = found.messageId?.(json, topic);
    } catch (error) {
      return reject(topic, bytes, `mapping failed: ${(error as Error).message}`);
    }
    try {
      await publishWithRetry(found.contract, payload, { partitionKey: topic, ...(messageId === undefined ? {} : { messageId }) });
      counters.forwarded++;
    } catch (error) {
      if (!isMessageFault(error)) throw error;
      return reject(topic, bytes, error.message);
    }
  };

  return {
    async start() {
      if (client !== undefined) return;
      stopping = false;
      const timeoutMs = options.connectTimeoutMs ?? 10_000;
      const c = connect(options.url, {
        clientId: options.clientId,
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: sessionExpiry },
        reconnectPeriod: options.reconnectMs ?? 1000,
        // A refused CONNACK on a reconnect (a password rotated on the broker, a busy broker) would end mqtt.js's
        // reconnecting for good, leaving the bridge down; it keeps trying instead, logged as an error.
        reconnectOnConnackError: true,
        connectTimeout: timeoutMs,
        // The puback of a QoS 1 message goes out when handleMessage calls back: after the bus has it.
        customHandleAcks: (_topic, _message, _packet, done) => done(0),
      });
      // Set before the connection exists: a resumed session delivers its queued messages right after CONNACK.
      c.handleMessage = (packet, callback) => {
        forward(packet).then(
          () => callback(),
          (error: unknown) => {
            // Only a stop ends here (retries run until then): leave the message unacknowledged for the next session.
            log?.warn({ error: (error as Error).message, topic: packet.topic }, 'mqtt bridge: message left unacknowledged');
          },
        );
      };
      c.on('connect', () => void counters.connects++);
      c.on('error', (error) => {
        if (error instanceof ErrorWithReasonCode && client === c)
          log?.error(
            { error: connackRefusal(where, error).message, broker: where },
            'mqtt bridge: the broker refused to reconnect; retrying',
          );
        else log?.warn({ error: error.message, broker: where }, 'mqtt bridge: connection error');
      });
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            c.off('error', refused);
            reject(new TransportError(`MQTT broker at ${where} did not accept a connection within ${timeoutMs} ms`));
          }, timeoutMs);
          // A refused CONNACK (a wrong password, ...) ends mqtt.js's reconnecting: fail now, not at the timeout.
          // Other errors (a refused socket) are retried until the timeout.
          const refused = (error: Error) => {
            if (!(error instanceof ErrorWithReasonCode)) return;
            clearTimeout(timer);
            c.off('error', refused);
            reject(connackRefusal(where, error));
          };
          c.on('error', refused);
          c.once('connect', () => {
            clearTimeout(timer);
            c.off('error', refused);
            resolve();
          });
        });
        const share = (filter: string) => (options.group === undefined ? filter : `$share/${options.group}/${filter}`);
        await c.subscribeAsync(
          routes.map((r) => share(r.route.filter)),
          { qos: 1 },
        );
      } catch (error) {
        await c.endAsync(true);
        throw error instanceof TransportError
          ? error
          : new TransportError(`could not subscribe at the MQTT broker at ${where}: ${(error as Error).message}`);
      }
      client = c;
    },
    async stop() {
      stopping = true;
      const c = client;
      client = undefined;
      // Forced: a message in hand is not acknowledged and comes back to the session (or the group).
      await c?.endAsync(true);
    },
    stats() {
      return { ...counters, connected: client?.connected ?? false };
    },
  };
}
