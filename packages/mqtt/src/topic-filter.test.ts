import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError, defineEvent } from '@missive/core';
import { mqttRoute, type MqttRoute } from './mqtt-bridge.js';
import { topicFilter } from './topic-filter.js';

describe('topicFilter', () => {
  it('matches + as one level and # as the rest', () => {
    const one = topicFilter('drones/+/telemetry');
    expect(one('drones/d-1/telemetry')).toBe(true);
    expect(one('drones/d-1/events')).toBe(false);
    expect(one('drones/d-1/telemetry/extra')).toBe(false);
    expect(one('drones/telemetry')).toBe(false);
    const rest = topicFilter('drones/#');
    expect(rest('drones/d-1/telemetry')).toBe(true);
    expect(rest('drones')).toBe(true);
    expect(rest('other/d-1')).toBe(false);
    expect(topicFilter('a/b')('a/b')).toBe(true);
  });

  it('refuses filters MQTT would refuse', () => {
    for (const bad of ['', '$SYS/x', 'a/b+/c', 'a/#/c', 'a/b#']) expect(() => topicFilter(bad)).toThrow(ConfigurationError);
  });
});

describe('mqttRoute', () => {
  it("types map's result by the contract", () => {
    const Reading = defineEvent('test.reading', z.object({ id: z.string(), v: z.number() }));
    const route = mqttRoute({ filter: 'a/+', contract: Reading, map: (_p, topic) => ({ id: topic, v: 1 }) });
    expectTypeOf(route).toEqualTypeOf<MqttRoute>();
    // @ts-expect-error v must be a number
    mqttRoute({ filter: 'a/+', contract: Reading, map: (_p, topic) => ({ id: topic, v: 'one' }) });
  });
});
