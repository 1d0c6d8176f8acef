import { describe, expect, it } from 'vitest';
import { startProcess } from './processes.js';

describe('startProcess', () => {
  it('waitFor with a count resolves on the count-th matching line, counting lines already seen', async () => {
    const child = startProcess(process.execPath, ['-e', "for (const n of [7, 1, 9, 2]) console.log('sent ' + n); console.log('end')"]);
    await child.waitFor(/^end$/);
    expect((await child.waitFor(/^sent (\d+)$/, 5000, 3))[1]).toBe('9');
    expect((await child.waitFor(/^sent (\d+)$/))[1]).toBe('7');
    await expect(child.waitFor(/^sent (\d+)$/, 5000, 5)).rejects.toThrow(/exited|4 of 5 lines/);
    await child.exited;
  });

  it('exited resolves only once the output is read to the end: the last line is there', async () => {
    // Each child writes 30 KB and a last line into the pipe (it fits, so the write is done before
    // the exit) and exits at once: the exit event can come before the pipe is read. 40 at a time.
    const children = Array.from({ length: 40 }, () =>
      startProcess(process.execPath, ['-e', "process.stdout.write('x'.repeat(30000) + '\\nlast\\n'); process.exit(3)"]),
    );
    for (const child of children) {
      expect(await child.exited).toBe(3);
      expect(child.lines.at(-1)).toBe('last');
    }
  });

  it('exited resolves after the exit even when a grandchild holds the output pipe open', async () => {
    // The child starts a detached grandchild that inherits its stdout (so the pipe stays open after
    // the child is gone: no 'close'), prints the grandchild's pid and a last line, and exits.
    const script = [
      "const { spawn } = require('node:child_process');",
      "const g = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 60000)'], { detached: true, stdio: ['ignore', 'inherit', 'ignore'] });",
      "console.log('grandchild ' + g.pid);",
      "console.log('bye');",
      'process.exit(4);',
    ].join('\n');
    const child = startProcess(process.execPath, ['-e', script]);
    const pid = Number((await child.waitFor(/^grandchild (\d+)$/))[1]);
    try {
      expect(await child.exited).toBe(4);
      expect(child.lines.at(-1)).toBe('bye');
      expect(child.child.stdout?.readableEnded).toBe(false); // the pipe was still open: resolved on the exit, not on 'close'
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });
});
