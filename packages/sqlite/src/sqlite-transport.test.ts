import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeTransportConformance } from '@missive/testing/vitest';
import { SqliteTransport } from './sqlite-transport.js';

describeTransportConformance({
  name: 'sqlite',
  features: { processes: true },
  setup(clock) {
    const path = join(tmpdir(), `missive-conformance-${randomUUID()}.db`);
    return {
      url: `sqlite://${path}?lease=3000`,
      connect: () => new SqliteTransport({ path, leaseMs: 3000, pollMs: 50 }, { clock }),
      async teardown() {
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
      },
    };
  },
});
