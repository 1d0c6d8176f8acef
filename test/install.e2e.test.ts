/**
 * What a user outside this repository gets: the packages are packed as `npm publish` would pack
 * them, installed from the tarballs into a new project in a temp directory, and the README's
 * "Install in your project" files (taken from the README itself, so it cannot drift) are compiled
 * with `tsc` and run there: two services on SQLite as ES modules, and the CommonJS program under
 * `module: nodenext` and `module: commonjs` (node10 resolution, TypeScript 5's default for it).
 *
 * Speed and determinism: third-party packages come from the npm registry (`--prefer-offline`: the
 * npm cache first). Install scripts are skipped, so better-sqlite3 is neither compiled (minutes) nor
 * downloaded; the project pins the workspace's better-sqlite3 version and gets the workspace's
 * compiled binary, built for this same Node by `npm install` here.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, type TestProcess } from '@missive/testing';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Every workspace package under packages/ is published, so every one is packed and installed.
const packages = readdirSync(join(root, 'packages')).filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** The environment of nested npm runs, without the `npm_*` settings of an enclosing `npm test`. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
}

function run(command: string, args: readonly string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

/** The README's fenced blocks whose first line is `// <path>` (a path ending in .ts or .json). */
function readmeFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Install in your project'),
    readme.indexOf('\n## ', readme.indexOf('## Install in your project') + 1),
  );
  const files = new Map<string, string>();
  for (const [, body] of section.matchAll(/```(?:ts|jsonc)\n([\s\S]*?)```/g)) {
    const path = /^\/\/ ([\w./-]+\.(?:ts|json))\b/.exec(body!)?.[1];
    if (path !== undefined) files.set(path, body!);
  }
  return files;
}

interface PackedFile {
  readonly path: string;
}
interface Packed {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly PackedFile[];
}

let project: string;
let packed: Packed[];
let billing: TestProcess | undefined;

beforeAll(() => {
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
  project = mkdtempSync(join(tmpdir(), 'missive-install-'));
  const tarballs = join(project, 'tarballs');
  mkdirSync(tarballs);
  const workspaces = packages.flatMap((p) => ['-w', `packages/${p}`]);
  packed = JSON.parse(run('npm', ['pack', ...workspaces, '--pack-destination', tarballs, '--json'], root)) as Packed[];
  const version = (name: string) =>
    (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  const dependencies = Object.fromEntries(packed.map((p) => [p.name, `file:tarballs/${p.filename}`]));
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'missive-install-check',
      private: true,
      type: 'module',
      dependencies: { ...dependencies, zod: version('zod') },
      // Our own packages depend on each other by version: they resolve to the tarballs, never to the
      // registry. Third-party versions are the workspace's, so a new release elsewhere cannot change
      // the outcome (and better-sqlite3 matches the binary copied below).
      overrides: {
        ...Object.fromEntries(packed.map((p) => [p.name, `$${p.name}`])),
        'better-sqlite3': version('better-sqlite3'),
        '@types/node': version('@types/node'),
        '@types/better-sqlite3': version('@types/better-sqlite3'),
      },
    }),
  );
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
  const binary = join('build', 'Release', 'better_sqlite3.node');
  mkdirSync(join(project, 'node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
  copyFileSync(join(root, 'node_modules', 'better-sqlite3', binary), join(project, 'node_modules', 'better-sqlite3', binary));
  for (const [path, body] of readmeFiles()) {
    mkdirSync(dirname(join(project, path)), { recursive: true });
    writeFileSync(join(project, path), body);
  }
  writeFileSync(join(project, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
}, 300_000);

afterAll(async () => {
  billing?.kill('SIGKILL');
  if (billing !== undefined) await billing.exited;
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe('installing the packed packages in a new project', () => {
  it('packs each package with its LICENSE, metadata and public access, and without tests', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(packages.map((p) => `@missive/${p}`).sort());
    for (const p of packed) {
      const paths = p.files.map((f) => f.path);
      expect(paths, p.name).toContain('LICENSE');
      expect(
        paths.filter((f) => /\.test\.|test-support|test-fixtures|tsbuildinfo/.test(f)),
        p.name,
      ).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules', p.name, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest, p.name).toMatchObject({
        license: 'MIT',
        publishConfig: { access: 'public' },
        engines: { node: '^20.19.0 || >=22.12.0' },
      });
      expect(manifest.repository, p.name).toMatchObject({ type: 'git', directory: `packages/${p.name.slice('@missive/'.length)}` });
      expect(manifest.homepage, p.name).toEqual(expect.any(String));
      expect(manifest.bugs, p.name).toEqual({ url: expect.any(String) });
    }
  });

  it('compiles the README files against the packages, whose .d.ts need only what they declare', () => {
    expect([...readmeFiles().keys()].sort()).toEqual([
      'cjs/src/main.ts',
      'src/billing.ts',
      'src/contracts.ts',
      'src/shop.ts',
      'tsconfig.json',
    ]);
    // Every entry's types (but @missive/testing/vitest, whose vitest is an optional peer), checked with
    // no skipLibCheck: @types/node comes only from the packages' own peers.
    writeFileSync(
      join(project, 'src', 'entries.ts'),
      packed.map((p) => `export type * as ${p.name.slice('@missive/'.length)} from '${p.name}';\n`).join('') +
        "export type * as kit from '@missive/core/transport';\n",
    );
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'))).not.toHaveProperty('devDependencies');
    run(process.execPath, [tsc, '-p', '.'], project);
    expect(existsSync(join(project, 'dist', 'shop.js'))).toBe(true);
  }, 120_000);

  it('runs the two services as separate processes on SQLite, and the missive command sees their queues', async () => {
    billing = startProcess(process.execPath, ['dist/billing.js'], { cwd: project, env: cleanEnv() });
    await billing.waitFor(/^billing ready$/, 60_000);
    const shop = startProcess(process.execPath, ['dist/shop.js'], { cwd: project, env: cleanEnv() });
    expect(await shop.exited, shop.stderr()).toBe(0);
    expect(shop.lines).toContain('shop: invoice inv-o-1 for 30');
    const help = run('npx', ['--no', '--', 'missive', '--help'], project);
    expect(help).toContain('usage: missive <command>');
    const queues = JSON.parse(run('npx', ['--no', '--', 'missive', 'queues', '--url', 'sqlite://.missive/bus.db', '--json'], project)) as {
      name: string;
    }[];
    expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(['billing', 'shop']));
    billing.kill('SIGTERM');
    expect(await billing.exited, billing.stderr()).toBe(0);
  }, 120_000);

  it('runs the harness of @missive/testing under node:test, with no vitest installed', () => {
    expect(existsSync(join(project, 'node_modules', 'vitest'))).toBe(false);
    writeFileSync(
      join(project, 'harness.test.mjs'),
      [
        "import assert from 'node:assert/strict';",
        "import { test } from 'node:test';",
        "import { defineEvent } from '@missive/core';",
        "import { createTestHarness } from '@missive/testing';",
        "import { z } from 'zod';",
        "const Placed = defineEvent('check.placed', z.object({ id: z.string() }));",
        "test('a message through the harness', async () => {",
        '  const h = createTestHarness();',
        "  const bus = h.bus('billing');",
        '  const seen = [];',
        "  bus.endpoint('billing', (e) => e.on(Placed, (m) => void seen.push(m.id)));",
        '  await bus.start();',
        "  await bus.publish(Placed, { id: 'p-1' });",
        '  await h.idle();',
        "  assert.deepEqual(seen, ['p-1']);",
        '  await h.stop();',
        '});',
      ].join('\n'),
    );
    expect(run(process.execPath, ['--test', 'harness.test.mjs'], project)).toMatch(/# pass 1\n# fail 0/);
  });

  it('runs the CommonJS program (require of the ES modules) under module nodenext and module commonjs', () => {
    const base = JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8').replace(/^\/\/.*\n/, '')) as {
      compilerOptions: Record<string, unknown>;
    };
    const variants = {
      nodenext: { module: 'nodenext' },
      commonjs: { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' },
    };
    for (const [name, options] of Object.entries(variants)) {
      const outDir = `dist-${name}`;
      // The ES module compile above checked the packages' .d.ts files; here only the program is.
      const config = {
        compilerOptions: { ...base.compilerOptions, ...options, outDir, rootDir: 'src', skipLibCheck: true },
        include: ['src'],
      };
      writeFileSync(join(project, 'cjs', `tsconfig.${name}.json`), JSON.stringify(config));
      run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], join(project, 'cjs'));
      expect(readFileSync(join(project, 'cjs', outDir, 'main.js'), 'utf8'), name).toContain('require("@missive/core")');
      rmSync(join(project, '.missive', 'cjs.db'), { force: true });
      expect(run(process.execPath, [join('cjs', outDir, 'main.js')], project), name).toBe('heard CommonJS\n');
    }
  }, 180_000);
});
