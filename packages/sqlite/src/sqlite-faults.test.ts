import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFaultScenarios } from '@missive/testing/vitest';
import { SqliteTransport } from './sqlite-transport.js';

describeFaultScenarios({
  name: 'sqlite',
  features: { processes: true },
  setup(clock) {
    const path = join(tmpdir(), `missive-faults-${randomUUID()}.db`);
    return {
      url: `sqlite://${path}?lease=2000`,
      connect: () => new SqliteTransport({ path, leaseMs: 2000, pollMs: 50 }, { clock }),
      async teardown() {
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
      },
    };
  },
});
