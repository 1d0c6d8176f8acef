/**
 * What `npm install` of the quick start does: it installs no benchmark peer frameworks (they live in
 * bench/peers, installed by `npm run bench`), and it compiles better-sqlite3 from source (nothing is
 * downloaded from GitHub) through `.prebuild-installrc`, which npm does not read, so it prints no
 * "Unknown project config" warning as `build-from-source` in `.npmrc` did.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PEERS = ['moleculer', '@moleculer/channels', 'bullmq', 'rascal', '@node-ts/bus-core', '@node-ts/bus-rabbitmq'];

describe('the workspace install', () => {
  it('leaves the benchmark peer frameworks to bench/peers', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const installed = Object.keys(lock.packages).filter((path) => PEERS.some((name) => path.endsWith(`node_modules/${name}`)));
    expect(installed).toEqual([]);
    const peers = JSON.parse(readFileSync(join(root, 'bench', 'peers', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(peers.dependencies)).toEqual(expect.arrayContaining(PEERS));
    expect(existsSync(join(root, 'bench', 'peers', 'package-lock.json'))).toBe(true);
  });

  it('builds better-sqlite3 from source by prebuild-install configuration, with no npm config npm warns about', () => {
    const npmrc = join(root, '.npmrc');
    expect(existsSync(npmrc) ? readFileSync(npmrc, 'utf8') : '').not.toMatch(/^\s*build-from-source/m);
    // prebuild-install's own reading of its configuration, from better-sqlite3's directory as at install time.
    const sqliteDir = dirname(createRequire(join(root, 'package.json')).resolve('better-sqlite3/package.json'));
    const requireThere = createRequire(join(sqliteDir, 'package.json'));
    const readConfig = requireThere('prebuild-install/rc') as (pkg: { name: string }) => { buildFromSource: boolean };
    const cwd = process.cwd();
    const saved = process.env.npm_config_build_from_source;
    delete process.env.npm_config_build_from_source;
    try {
      process.chdir(sqliteDir);
      expect(readConfig(requireThere('./package.json') as { name: string }).buildFromSource).toBe(true);
    } finally {
      process.chdir(cwd);
      if (saved !== undefined) process.env.npm_config_build_from_source = saved;
    }
  });
});
