/**
 * A small file system of a test's own to fill up: a tmpfs mounted on a new temporary directory
 * (root only; the reason is returned otherwise), and a filler that takes every byte left.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a tmpfs of `sizeKb`; `cleanup` receives the step that unmounts and removes it. */
export function smallDisk(sizeKb: number, cleanup: (step: () => void) => void): { dir: string } | { reason: string } {
  const dir = join(tmpdir(), `missive-full-${randomUUID()}`);
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `cannot mount a tmpfs to fill (needs root): ${(error as Error).message.split('\n')[0]}` };
  }
  cleanup(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir };
}

/** Fills the file system of `dir` with a file, leaving nothing free; returns the file (delete it to free the space). */
export function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let size = 0;
  for (;;) {
    try {
      writeFileSync(filler, chunk, { flag: size === 0 ? 'w' : 'a' });
      size += chunk.length;
    } catch {
      break;
    }
  }
  const one = Buffer.alloc(1024, 1);
  for (;;) {
    try {
      writeFileSync(filler, one, { flag: 'a' });
    } catch {
      return filler;
    }
  }
}
