import { describe, expect, it } from 'vitest';
import { KeyLines } from './key-lines.js';

const d = (id: string, key?: string) => ({ id, message: { partitionKey: key } });

describe('KeyLines', () => {
  it('hands out one message per key; the next of the key when the holder is done', () => {
    const lines = new KeyLines<ReturnType<typeof d>>();
    const [a1, a2, a3, b1] = [d('a1', 'a'), d('a2', 'a'), d('a3', 'a'), d('b1', 'b')];
    expect(lines.admit(a1, 'a')).toBe(true);
    expect(lines.admit(a2, 'a')).toBe(false);
    expect(lines.admit(b1, 'b')).toBe(true);
    expect(lines.admit(a3, 'a')).toBe(false);
    expect(lines.done(a2)).toBeUndefined(); // not the holder
    expect(lines.done(a1)).toBe(a2);
    expect(lines.done(a2)).toBe(a3);
    expect(lines.done(a3)).toBeUndefined();
    expect(lines.admit(d('a4', 'a'), 'a')).toBe(true); // the key is free again
  });

  it('a copy takes its original place; withdrawing moves lines whose holder left and is not running', () => {
    const lines = new KeyLines<ReturnType<typeof d>>();
    const [a1, a2, b1, b2] = [d('a1', 'a'), d('a2', 'a'), d('b1', 'b'), d('b2', 'b')];
    lines.admit(a1, 'a');
    lines.admit(a2, 'a');
    lines.admit(b1, 'b');
    lines.admit(b2, 'b');
    const copy = d('a1', 'a');
    lines.replace(a1, copy);
    expect(lines.done(a1)).toBeUndefined();
    // a's holder is running; b's holder left with its channel, b2 stays
    expect(
      lines.withdraw(
        (x) => x === copy || x === b1,
        (x) => x === copy,
      ),
    ).toEqual([b2]);
    lines.lost((x) => x === copy);
    expect(lines.done(b2)).toBeUndefined(); // b was dropped
    expect(lines.done(copy)).toBeUndefined(); // a2 was dropped by lost()
    expect(lines.admit(d('a3', 'a'), 'a')).toBe(true);
  });
});
