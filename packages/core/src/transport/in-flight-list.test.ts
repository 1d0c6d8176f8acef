import { describe, expect, it } from 'vitest';
import { InFlightList } from './in-flight-list.js';

describe('InFlightList', () => {
  it('keeps insertion order through removals at the front, middle and end', () => {
    const [a, b, c, d, e] = [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }];
    const list = new InFlightList<object>();
    for (const item of [a, b, c, d, e]) list.add(item);
    expect(list.remove(a)).toBe(true);
    expect(list.remove(c)).toBe(true);
    expect(list.remove(e)).toBe(true);
    expect(list.toArray()).toEqual([b, d]);
    expect(list.size).toBe(2);
  });

  it('answers membership, refuses to remove a stranger, and clears', () => {
    const [a, b] = [{ n: 1 }, { n: 2 }];
    const list = new InFlightList<object>();
    list.add(a);
    expect(list.has(a)).toBe(true);
    expect(list.has(b)).toBe(false);
    expect(list.remove(b)).toBe(false);
    list.clear();
    expect(list.size).toBe(0);
    expect(list.has(a)).toBe(false);
  });

  it('hands out a copy', () => {
    const a = { n: 1 };
    const list = new InFlightList<object>();
    list.add(a);
    const copy = list.toArray();
    list.remove(a);
    expect(copy).toEqual([a]);
  });
});
