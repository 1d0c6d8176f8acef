import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFaultScenarios } from '@missive/testing/vitest';
import { silentLogger } from '@missive/core';
import { SqliteTransport } from './sqlite-transport.js';

// No broker and no network: the file is the queue. What SQLite claims beyond processes: a lease
// that expires while its holder's event loop is blocked, and a full disk (a tmpfs the scenario mounts).
describeFaultScenarios({
  name: 'sqlite',
  features: { processes: true, leases: true, diskFull: true },
  setup(clock) {
    const path = join(tmpdir(), `missive-faults-${randomUUID()}.db`);
    return {
      url: `sqlite://${path}?lease=2000`,
      connect: () => new SqliteTransport({ path, leaseMs: 2000, pollMs: 50 }, { clock }),
      // A full disk makes the transport log every failed fetch and heartbeat: quiet here.
      onDisk: (dir) => ({
        connect: () => new SqliteTransport({ path: join(dir, 'queues.db'), leaseMs: 2000, pollMs: 50 }, { clock, logger: silentLogger }),
      }),
      async teardown() {
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
      },
    };
  },
});
