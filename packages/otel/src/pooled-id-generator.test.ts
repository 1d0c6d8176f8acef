import { isValidSpanId, isValidTraceId } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { PooledIdGenerator } from './pooled-id-generator.js';

describe('PooledIdGenerator', () => {
  it('makes W3C trace and span ids, lowercase hex, across several refills of the pool', () => {
    const ids = new PooledIdGenerator();
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(isValidTraceId(traceId) && isValidSpanId(spanId)).toBe(true);
      traceIds.add(traceId);
      spanIds.add(spanId);
    }
    // 48 KiB drawn from a 4 KiB pool: no bytes are handed out twice.
    expect(traceIds.size).toBe(2000);
    expect(spanIds.size).toBe(2000);
  });

  it('uses every hex digit in every position (random, not a counter)', () => {
    const ids = new PooledIdGenerator();
    const seen = Array.from({ length: 32 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...ids.generateTraceId()].forEach((digit, at) => seen[at]!.add(digit));
    expect(seen.map((digits) => digits.size)).toEqual(Array(32).fill(16));
  });

  it('never returns an all-zero id: such a slice of the pool is skipped', () => {
    // A pool of zeros but for its last byte: 511 span ids' worth of zeros, then one that is not.
    const ids = new PooledIdGenerator((pool) => {
      pool.fill(0);
      pool[4095] = 0xab;
    });
    expect(ids.generateSpanId()).toBe('00000000000000ab');
    expect(ids.generateTraceId()).toBe('000000000000000000000000000000ab');
  });
});
