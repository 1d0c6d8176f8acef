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

  it('keeps order and size through a long run of removals oldest first and out of order (the array is cut down as it goes)', () => {
    const items = Array.from({ length: 1000 }, (_, n) => ({ n }));
    const list = new InFlightList<{ n: number }>();
    const model: { n: number }[] = [];
    for (let i = 0; i < items.length; i++) {
      list.add(items[i]!);
      model.push(items[i]!);
      if (i % 3 === 2) {
        const victim = i % 2 === 0 ? model[0]! : model[Math.floor(model.length / 2)]!; // the oldest, or one in the middle
        expect(list.remove(victim)).toBe(true);
        model.splice(model.indexOf(victim), 1);
      }
      if (model.length > 100) {
        expect(list.remove(model[0]!)).toBe(true);
        model.shift();
      }
    }
    expect(list.toArray()).toEqual(model);
    expect(list.size).toBe(model.length);
    expect(list.has(model[5]!)).toBe(true);
    expect(list.has(items[0]!)).toBe(false);
    expect(list.remove(items[0]!)).toBe(false);
    for (const item of [...model]) list.remove(item);
    expect(list.size).toBe(0);
    expect(list.toArray()).toEqual([]);
  });
});
