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
});
