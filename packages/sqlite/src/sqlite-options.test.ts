import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { SqliteTransport, type SqliteTransportOptions } from './index.js';
import { resolveSqliteOptions } from './sqlite-options.js';

describe('sqlite object options', () => {
  it('refuses a misspelt option (JavaScript, no type check) at construction, named, with the known ones', () => {
    const options = { path: '/tmp/never-created.db', lease: 5000 } as SqliteTransportOptions;
    expect(() => new SqliteTransport(options)).toThrow(ConfigurationError);
    expect(() => new SqliteTransport(options)).toThrow(
      'unknown sqlite option "lease"; known: path, create, synchronous, leaseMs, pollMs, busyTimeoutMs',
    );
  });

  it('takes every documented option', () => {
    const options = { path: '/tmp/x.db', create: false, synchronous: 'NORMAL', leaseMs: 500, pollMs: 10, busyTimeoutMs: 0 } as const;
    expect(resolveSqliteOptions(options)).toEqual(options);
  });
});
