/**
 * Licensing end to end, as real processes: a license read fills the cache; an organization change
 * evicts it (the next read is fresh); with the organization service killed, the cached entry is
 * still served. With the in-process cache, and with Redis when it is reachable.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { brokersRequired, startProcess } from '@missive/testing';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

const redisUp = () =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 6379 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

async function scenario(extraEnv: Record<string, string>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'missive-licensing-'));
  const env = { LICENSING_DATA_DIR: dir, ...extraEnv };
  const organization = startProcess(process.execPath, [join(dist, 'organization-service.js')], { env });
  const licensing = startProcess(process.execPath, [join(dist, 'licensing-service.js')], { env });
  try {
    const [, orgPort] = await organization.waitFor(/^ready organization port=(\d+)/);
    const [, licPort] = await licensing.waitFor(/^ready licensing port=(\d+)/);
    const org = `http://127.0.0.1:${orgPort}/organizations/acme`;
    const license = `http://127.0.0.1:${licPort}/licenses/acme`;
    const put = (name: string) =>
      fetch(org, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, contactEmail: 'ops@acme.test' }),
      });
    const read = async () => (await (await fetch(license)).json()) as { source: string; organization: { name: string } };

    expect((await put('ACME')).status).toBe(200);
    await licensing.waitFor(/^licensing: evicted acme \(created\)/);
    expect(await read()).toMatchObject({ source: 'organization-service', organization: { name: 'ACME' } });
    expect(await read()).toMatchObject({ source: 'cache', organization: { name: 'ACME' } });

    expect((await put('ACME Corporation')).status).toBe(200);
    await licensing.waitFor(/^licensing: evicted acme \(updated\)/);
    expect(await read()).toMatchObject({ source: 'organization-service', organization: { name: 'ACME Corporation' } });

    organization.kill('SIGKILL');
    await organization.exited;
    expect(await read()).toMatchObject({ source: 'cache', organization: { name: 'ACME Corporation' } });
  } finally {
    organization.kill();
    licensing.kill();
    await Promise.all([organization.exited, licensing.exited]);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('licensing end to end', () => {
  it('with the in-process cache: evicts on change, serves cached data while organization is down', async () => {
    await scenario({ REDIS_URL: '' });
  }, 60_000);

  it('with Redis as the cache', async (ctx) => {
    if (!(await redisUp())) {
      if (brokersRequired()) throw new Error('Redis not reachable at 127.0.0.1:6379 (MISSIVE_REQUIRE_BROKERS=1)');
      ctx.skip('Redis not reachable at 127.0.0.1:6379; set MISSIVE_REQUIRE_BROKERS=1 to fail instead');
      return;
    }
    const prefix = `missive-test-${randomBytes(4).toString('hex')}:`;
    try {
      await scenario({ REDIS_URL: 'redis://127.0.0.1:6379', LICENSING_CACHE_PREFIX: prefix });
    } finally {
      execFileSync('redis-cli', ['-h', '127.0.0.1', 'del', `${prefix}acme`], { stdio: 'ignore' });
    }
  }, 60_000);
});
