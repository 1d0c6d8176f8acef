/**
 * Trace and span ids from a pool of random bytes: `crypto.randomFillSync` fills 4 KiB at a time
 * (about 170 trace-and-span pairs), and each id is a slice of it encoded as hex. The SDK's
 * `RandomIdGenerator` calls `Math.random` and writes a buffer for every id; this does half the work
 * per id (docs/BENCHMARKS.md, issue 15, sixth pass). Ids are W3C-valid: lowercase hex of 32 (trace)
 * or 16 (span) characters, never all zeros (an all-zero slice, one in 2^64, is drawn again).
 *
 * @example
 * ```ts
 * const ids = new PooledIdGenerator();
 * new NodeTracerProvider({ idGenerator: ids });
 * ids.generateTraceId(); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * ```
 * @module
 */
import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace-base';

const POOL_BYTES = 4096;
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

/** An {@link IdGenerator} drawing from a pool of cryptographically random bytes. Not shared between processes or threads. */
export class PooledIdGenerator implements IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);

  /** @param fill Fills the pool with random bytes: `crypto.randomFillSync` (a test's own source otherwise). */
  constructor(private readonly fill: (pool: Buffer) => void = randomFillSync) {}

  /** The next unused byte of the pool (the pool is refilled when fewer than an id's bytes are left). */
  private next = POOL_BYTES;

  /** 32 lowercase hex digits, not all zero. */
  generateTraceId(): string {
    return this.id(TRACE_ID_BYTES);
  }

  /** 16 lowercase hex digits, not all zero. */
  generateSpanId(): string {
    return this.id(SPAN_ID_BYTES);
  }

  private id(bytes: number): string {
    for (;;) {
      if (this.next + bytes > POOL_BYTES) {
        this.fill(this.pool);
        this.next = 0;
      }
      const start = this.next;
      this.next += bytes;
      // Never the same bytes twice: each id takes bytes of its own.
      for (let i = start; i < start + bytes; i++) if (this.pool[i] !== 0) return this.pool.toString('hex', start, start + bytes);
    }
  }
}
