import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { isExactTopic, topicMatcher } from './topic-pattern.js';

describe('topic patterns', () => {
  it.each([
    ['shop.order-placed', 'shop.order-placed', true],
    ['shop.order-placed', 'shop.order-paid', false],
    ['shop.*', 'shop.order-placed', true],
    ['shop.*', 'shop.order.placed', false],
    ['shop.#', 'shop', true],
    ['shop.#', 'shop.a.b.c', true],
    ['#', 'anything.at.all', true],
    ['*.order-placed', 'shop.order-placed', true],
    ['#.placed', 'shop.order.placed', true],
    ['shop.#.placed', 'shop.placed', true],
    ['shop.#.placed', 'shop.x.y.placed', true],
    ['shop.#.placed', 'shop.x.y.paid', false],
  ])('%s against %s is %s', (pattern, topic, expected) => {
    expect(topicMatcher(pattern)(topic)).toBe(expected);
  });

  it('refuses malformed patterns', () => {
    expect(() => topicMatcher('shop..x')).toThrow(ConfigurationError);
    expect(() => topicMatcher('shop.a b')).toThrow(/invalid word/);
    expect(() => topicMatcher('')).toThrow(ConfigurationError);
  });

  it.each([
    ['shop.order-placed', true],
    ['shop', true],
    ['shop.*', false],
    ['*', false],
    ['#', false],
    ['#.placed', false],
    ['shop.#.placed', false],
    ['shop.a*b', true],
    ['shop.**', true],
    ['shop.#x', true],
  ])('%s is exact: %s', (pattern, expected) => {
    expect(isExactTopic(pattern)).toBe(expected);
  });
});
