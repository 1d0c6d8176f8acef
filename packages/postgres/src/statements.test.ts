import { describe, expect, it } from 'vitest';
import { topicMatcher } from '@missive/core/transport';
import { patternRegex } from './statements.js';

/** PostgreSQL's regular expressions agree with JavaScript's on these (anchors, classes, groups, `*`). */
const pgMatch = (pattern: string, topic: string) => new RegExp(patternRegex(pattern)).test(`.${topic}`);

describe('patternRegex', () => {
  const patterns = ['shop.order-placed', 'shop.*', 'shop.#', '#', '*.order-placed', 'a.#.b', '#.b', 'a.*.#', 'a.b_c.*'];
  const topics = [
    'shop.order-placed',
    'shop.order',
    'shop',
    'shop.a.b',
    'x.order-placed',
    'a.b',
    'a.x.b',
    'a.x.y.b',
    'b',
    'a',
    'a.b_c.d',
    'a.bxc.d',
    'shopx.order-placed',
  ];

  it('matches exactly the topics the bus matcher matches (AMQP topic semantics)', () => {
    for (const pattern of patterns) {
      const matches = topicMatcher(pattern);
      for (const topic of topics) expect(pgMatch(pattern, topic), `${pattern} ~ ${topic}`).toBe(matches(topic));
    }
  });
});
