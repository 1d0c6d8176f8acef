import { describe, expect, it } from 'vitest';
import { brokerRedeliveries, republishedCount } from './wire.js';

describe('rabbitmq delivery counts from headers', () => {
  it('never reads a negative or unreadable count (it would switch off maxDeliveries)', () => {
    expect(republishedCount(-1000)).toBe(0);
    expect(republishedCount('-1000')).toBe(0);
    expect(republishedCount('abc')).toBe(0);
    expect(republishedCount(Buffer.from('3'))).toBe(3);
    expect(republishedCount(2)).toBe(2);
    expect(brokerRedeliveries({ 'x-delivery-count': -5 }, true)).toBe(1);
    expect(brokerRedeliveries({ 'x-delivery-count': 'x' }, false)).toBe(0);
    expect(brokerRedeliveries({ 'x-delivery-count': 4 }, true)).toBe(4);
    expect(brokerRedeliveries({}, true)).toBe(1);
  });
});
