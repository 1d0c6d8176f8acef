import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { createTransport, PostgresTransport } from './index.js';
import { postgresOptionsFromUrl, resolvePostgresOptions, withSetting, type PostgresTransportOptions } from './pg-options.js';

describe('postgres options', () => {
  it('takes its own parameters out of the URL and leaves the rest to pg', () => {
    const options = postgresOptionsFromUrl(
      new URL(
        'postgresql://app:secret@db.example:5433/shop?schema=bus&lease=5000&poll=250&pool=4&reconnect=1000&maxBuffered=50&heartbeat=1000&sslmode=require',
      ),
    );
    expect(options).toMatchObject({
      schema: 'bus',
      leaseMs: 5000,
      pollMs: 250,
      poolSize: 4,
      reconnectMs: 1000,
      maxBuffered: 50,
      heartbeatMs: 1000,
    });
    expect(options.connectionString).toBe('postgresql://app:secret@db.example:5433/shop?sslmode=require');
  });

  it('takes commit=async, and nothing else but durable', () => {
    expect(postgresOptionsFromUrl(new URL('postgres://h/db?commit=async')).commit).toBe('async');
    expect(postgresOptionsFromUrl(new URL('postgres://h/db?commit=async')).connectionString).toBe('postgres://h/db');
    expect(() => postgresOptionsFromUrl(new URL('postgres://h/db?commit=off'))).toThrow(/commit must be durable or async/);
  });

  it('fills in defaults', () => {
    expect(postgresOptionsFromUrl(new URL('postgres://127.0.0.1/test'))).toMatchObject({
      schema: 'missive',
      leaseMs: 30_000,
      pollMs: 1000,
      poolSize: 10,
      reconnectMs: 60_000,
      maxBuffered: 10_000,
      heartbeatMs: 5000,
      applicationName: 'missive',
      commit: 'durable',
    });
  });

  it('refuses bad values with what to fix, never showing the password', () => {
    const bad = (url: string) => () => postgresOptionsFromUrl(new URL(url));
    expect(bad('postgres://u:hunter2@h/db?lease=soon')).toThrow(/lease must be a whole number/);
    expect(bad('postgres://u:hunter2@h/db?schema=Robert%27);drop')).toThrow(/schema .* is not allowed/);
    expect(bad('postgres://u:hunter2@h/db?pool=0')).toThrow(ConfigurationError);
    // A misspelt parameter would reach pg, which ignores what it does not know.
    expect(bad('postgres://u:hunter2@h/db?pol=100')).toThrow(/unknown postgres URL parameter "pol"; Missive's: schema, lease, poll/);
    expect(bad('postgres://u:hunter2@h/db?ssl_mode=require')).toThrow(/unknown postgres URL parameter "ssl_mode".*pg's: sslmode/);
    expect(() =>
      postgresOptionsFromUrl(new URL('postgres://u@h/db?application_name=a&options=-c%20x%3D1&statement_timeout=5')),
    ).not.toThrow();
    try {
      resolvePostgresOptions({ connectionString: 'mysql://u:hunter2@h/db' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
      expect(error).toBeInstanceOf(ConfigurationError);
    }
    expect(() =>
      createTransport(new URL('postgres://u:hunter2@h/db?schema=1bad'), { clock: { now: () => 0 } as never, logger: console }),
    ).toThrow(ConfigurationError);
  });

  it("sets a session setting through startup options, keeping the URL's own", () => {
    expect(withSetting('postgres://u@h/db?sslmode=require', 'synchronous_commit=off')).toEqual({
      connectionString: 'postgres://u@h/db?sslmode=require',
      options: '-c synchronous_commit=off',
    });
    expect(withSetting('postgres://u@h/db?options=-c%20search_path%3Dapp', 'synchronous_commit=off')).toEqual({
      connectionString: 'postgres://u@h/db',
      options: '-c search_path=app -c synchronous_commit=off',
    });
  });

  it('refuses a misspelt option (JavaScript, no type check) at construction, named, with the known ones', () => {
    const options = { connectionString: 'postgres://app:s3cret@127.0.0.1:5432/db', lease: 5000 } as PostgresTransportOptions;
    expect(() => new PostgresTransport(options)).toThrow(ConfigurationError);
    expect(() => new PostgresTransport(options)).toThrow(
      'unknown postgres option "lease"; known: connectionString, schema, leaseMs, pollMs, poolSize, reconnectMs, maxBuffered, heartbeatMs, applicationName, commit',
    );
  });
});
