/**
 * `@missive/mqtt`: a bridge from MQTT device topics into the bus (MQTT 5 shared subscriptions,
 * QoS 1, persistent sessions), with a rejection event as the dead letter MQTT does not have.
 *
 * @example
 * ```ts
 * import { createMqttBridge, MqttMessageRejected } from '@missive/mqtt';
 * bus.attach(createMqttBridge({ url: 'mqtt://127.0.0.1:1883', bus, clientId: 'bridge-1', group: 'telemetry', routes }));
 * ```
 * @module
 */
export {
  createMqttBridge,
  mqttRoute,
  type MqttBridge,
  type MqttBridgeOptions,
  type MqttBridgeStats,
  type MqttRoute,
  type BridgeBus,
} from './mqtt-bridge.js';
export { MqttMessageRejected, type MqttRejection } from './dead-letter.js';
export { topicFilter } from './topic-filter.js';
