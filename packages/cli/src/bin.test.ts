/**
 * The `missive` bin is a committed file, so `npm install` links it before anything is built (a bin
 * pointing into dist/ is silently not linked on a fresh clone, and `npx missive` then fails with
 * "could not determine executable"). The file itself runs the built command.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCli, repositoryRoot } from './test-support/run-cli.js';

const cliDir = join(repositoryRoot, 'packages', 'cli');
const manifest = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };

describe('the missive bin', () => {
  it('points at a file tracked by git, outside dist/, that npm can link at install time', () => {
    const target = manifest.bin.missive!;
    expect(target).not.toMatch(/dist\//);
    const tracked = execFileSync('git', ['ls-files', '--error-unmatch', target], { cwd: cliDir, encoding: 'utf8' }).trim();
    expect(tracked).toBe(target.replace(/^\.\//, ''));
    expect(statSync(join(cliDir, target)).mode & 0o111).not.toBe(0);
    expect(manifest.files).toContain('bin');
  });

  it('runs the built command', () => {
    buildCli();
    const out = execFileSync(process.execPath, [join(cliDir, manifest.bin.missive!), '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe('0.1.0');
  });
});
