/**
 * Where a device message the bridge cannot forward goes: an event on the bus, `mqtt.message-rejected`,
 * with the topic, the payload (base64, as received) and the reason. MQTT has no dead-letter queue of
 * its own; this event puts the bad message where every Missive tool can see it (a consumer of the
 * event keeps it in its queue; the dashboard's journal shows it). The MQTT message is acknowledged
 * after the event is published, so a bad payload never loops.
 *
 * @example
 * ```ts
 * bus.endpoint('ops', (e) => e.on(MqttMessageRejected, (m) => log.warn(m.reason, m.topic)));
 * ```
 * @module
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { defineEvent } from '@missive/core';

/** The payload of {@link MqttMessageRejected}. */
export interface MqttRejection {
  /** The bridge that rejected it (its client id). */
  readonly bridge: string;
  readonly topic: string;
  /** The payload bytes, base64. */
  readonly payload: string;
  /** Why: `not JSON: …`, `no route for topic`, `mapping failed: …`, `invalid: …`. */
  readonly reason: string;
  /** When the bridge rejected it, ISO 8601. */
  readonly at: string;
}

const schema: StandardSchemaV1<MqttRejection, MqttRejection> = {
  '~standard': {
    version: 1,
    vendor: 'missive',
    validate(value) {
      const v = value as Partial<Record<keyof MqttRejection, unknown>> | null;
      if (typeof v !== 'object' || v === null) return { issues: [{ message: 'expected an object' }] };
      for (const key of ['bridge', 'topic', 'payload', 'reason', 'at'] as const) {
        if (typeof v[key] !== 'string') return { issues: [{ message: 'expected a string', path: [key] }] };
      }
      return { value: v as MqttRejection };
    },
  },
};

/** The event a bridge publishes for a device message it could not forward. */
export const MqttMessageRejected = defineEvent('mqtt.message-rejected', schema);
