import { describe, expect, it } from 'vitest';
import { jsonCopy, NOT_PLAIN, plainCopy } from './json-copy.js';

const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

describe('jsonCopy', () => {
  it('copies plain JSON data deeply, equal to the JSON round trip', () => {
    const value = { a: 1, b: 'x', c: [true, null, { d: -0 }], e: { f: undefined, g: 2.5 }, h: Object.create(null) as object };
    const copy = jsonCopy(value, 1024) as typeof value;
    expect(copy).toEqual(roundTrip(value));
    expect(Object.is((copy.c[2] as { d: number }).d, 0)).toBe(true);
    expect('f' in copy.e).toBe(false);
    expect(copy.c).not.toBe(value.c);
    expect(Object.getPrototypeOf(copy.h)).toBe(Object.prototype);
  });

  it('gives up on what JSON would change or the decoder refuses', () => {
    class Point {
      x = 1;
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [
      { at: new Date(0) },
      new Point(),
      new Map(),
      [1, undefined],
      { f: () => 1 },
      { n: Number.NaN },
      { n: 1n },
      { s: Symbol('s') },
      JSON.parse('{"__proto__":{}}'),
      { constructor: 'x' },
      cyclic,
      new Number(1),
    ]) {
      expect(jsonCopy(value, 1024)).toBe(NOT_PLAIN);
    }
  });

  it('gives up when the encoded text could exceed the limit', () => {
    expect(jsonCopy({ s: 'x'.repeat(10) }, 200)).toEqual({ s: 'x'.repeat(10) });
    expect(jsonCopy({ s: 'x'.repeat(40) }, 200)).toBe(NOT_PLAIN);
  });
});

describe('plainCopy', () => {
  it('copies what jsonCopy returned deeply, sharing no object with it', () => {
    const copy = jsonCopy({ a: 1, b: [{ c: 'x' }, [2, null]], d: { e: { f: true } }, g: null }, 1024) as {
      b: [{ c: string }, unknown[]];
      d: { e: object };
    };
    const again = plainCopy(copy);
    expect(again).toEqual(copy);
    expect(again).not.toBe(copy);
    expect(again.b).not.toBe(copy.b);
    expect(again.b[0]).not.toBe(copy.b[0]);
    expect(again.b[1]).not.toBe(copy.b[1]);
    expect(again.d.e).not.toBe(copy.d.e);
  });
});
