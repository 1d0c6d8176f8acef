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
});
