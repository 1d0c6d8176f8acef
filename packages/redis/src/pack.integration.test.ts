import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Packer } from './pack.js';
import { needRedis, redisUrl } from './test-support/redis.js';

describe("packer against Redis's cmsgpack", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl, { lazyConnect: true });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('comes back from cmsgpack.unpack as the same numbers, strings and bytes', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const body = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a]);
    const long = 'ü'.repeat(40_000);
    const packer = new Packer();
    packer.number(1);
    packer.number(70_000);
    packer.string('missive:q:billing');
    packer.string(long);
    packer.bytes(body);
    for (let i = 0; i < 20; i++) packer.string(`s${i}`);
    const reply = (await redis.callBuffer(
      'EVAL',
      "local a = cmsgpack.unpack(ARGV[1]); local out = {} for i = 1, #a do out[i] = type(a[i]) == 'number' and 'n' .. a[i] or a[i] end return out",
      0,
      packer.finish(),
    )) as Buffer[];
    expect(reply.length).toBe(25);
    expect(reply.slice(0, 4).map(String)).toEqual(['n1', 'n70000', 'missive:q:billing', long]);
    expect(reply[4]!.equals(body)).toBe(true);
    expect(String(reply[24])).toBe('s19');
  });
});
