import { describe, expect, it } from 'vitest';
import { Packer } from './pack.js';

describe('packer (MessagePack, one flat array)', () => {
  it('writes small numbers, short and long strings and bytes in their MessagePack forms', () => {
    const packer = new Packer();
    packer.number(2);
    packer.number(300);
    packer.string('q');
    packer.string('é and more than ten');
    packer.bytes(Buffer.from([0, 255]));
    expect([...packer.finish()]).toEqual([
      0x95, // fixarray of 5
      0x02, // positive fixint
      0xce,
      0,
      0,
      0x01,
      0x2c, // uint 32: 300
      0xa1,
      0x71, // fixstr 'q'
      0xdb,
      0,
      0,
      0,
      20,
      ...Buffer.from('é and more than ten'), // str 32, 20 UTF-8 bytes
      0xdb,
      0,
      0,
      0,
      2,
      0,
      255, // bytes as str 32
    ]);
  });

  it('sizes the array header by the count and grows past its first buffer', () => {
    const packer = new Packer();
    const body = Buffer.alloc(3000, 7);
    for (let i = 0; i < 20; i++) packer.bytes(body);
    const out = packer.finish();
    expect([...out.subarray(0, 3)]).toEqual([0xdc, 0, 20]); // array 16
    expect(out.length).toBe(3 + 20 * (5 + 3000));
    expect(out.subarray(out.length - 3000).equals(body)).toBe(true);
  });
});
