import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '@missive/core';
import {
  deletionRecord,
  parseRecord,
  READ_WARN_MS,
  REGISTRY_QUEUE,
  RegistryFollower,
  registryRecord,
  typesRecord,
} from './queue-registry.js';

describe('queue registry records', () => {
  it('round-trips a queue and skips what is not a record', () => {
    expect(parseRecord(registryRecord({ name: 'billing', topics: ['shop.#'], ordered: true }))).toEqual({
      name: 'billing',
      topics: ['shop.#'],
      ordered: true,
    });
    expect(parseRecord(registryRecord({ name: 'audit', topics: [] }))).toEqual({ name: 'audit', topics: [], ordered: false });
    expect(parseRecord(deletionRecord('billing'))).toEqual({ name: 'billing', deleted: true });
    expect(parseRecord(typesRecord(['shop.order-placed']))).toEqual({ types: ['shop.order-placed'] });
    expect(parseRecord(Buffer.from('{"types":[1]}'))).toBeUndefined();
    expect(parseRecord(Buffer.from('{"marker":"m-1"}'))).toEqual({ marker: 'm-1' });
    for (const junk of ['', 'null', '{"name":3,"topics":[]}', '{"name":"x","topics":[1]}', '{"name":"x"}', '{'])
      expect(parseRecord(Buffer.from(junk))).toBeUndefined();
  });

  describe('a read that waits long for its marker', () => {
    afterEach(() => void vi.useRealTimers());

    it('is logged once, naming the registry and how long it has waited', async () => {
      vi.useFakeTimers();
      const warnings: { fields: Record<string, unknown>; message: string }[] = [];
      const noop = () => undefined;
      const logger: Logger = {
        debug: noop,
        info: noop,
        error: noop,
        warn: (fields: Record<string, unknown> | string, message?: string) =>
          void warnings.push(typeof fields === 'string' ? { fields: {}, message: fields } : { fields, message: message ?? '' }),
      };
      const follower = new RegistryFollower(logger);
      // A marker that never comes back (its append lost): the read waits out its timeout.
      const read = follower.sync(() => undefined);
      const failed = expect(read).rejects.toThrow(/did not reach this reader's marker/);
      await vi.advanceTimersByTimeAsync(READ_WARN_MS - 1);
      expect(warnings).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.fields).toMatchObject({ registry: REGISTRY_QUEUE, waitedMs: READ_WARN_MS });
      expect(warnings[0]?.message).toContain(`queue registry (${REGISTRY_QUEUE}) has waited ${READ_WARN_MS} ms`);
      await vi.advanceTimersByTimeAsync(30_000);
      await failed;
      expect(warnings, 'once per read').toHaveLength(1);
    });
  });
});
