import { describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';

describe('missive dashboard', () => {
  it('refuses a journal URL that is not one as a usage error (exit 2), without its password', async () => {
    for (const journal of ['mysql://u:s3cretpw@h/db', 'postgres://u:s3cretpw@[::1/db']) {
      let err = '';
      const code = await runCli(['dashboard', '--url', 'memory://', '--journal', journal], {
        out: () => undefined,
        err: (t) => (err += t),
      });
      expect([journal, code]).toEqual([journal, 2]);
      expect(err).toMatch(/^missive: --journal: /);
      expect(err).not.toContain('s3cretpw');
    }
  });
});
