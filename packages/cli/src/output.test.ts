import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { createOutput, printable } from './output.js';

/** Text from a hostile message: an OSC title change, a screen clear, a C1 CSI and a right-to-left override. */
const HOSTILE = 'shop.evil\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202egnp.exe';
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function capture(json: boolean) {
  let text = '';
  return { out: createOutput(json, (t) => (text += t)), text: () => text };
}

describe('the CLI output on a terminal', () => {
  it('prints a table cell with terminal controls shown, never sent, and keeps the table on one line per row', () => {
    const { out, text } = capture(false);
    out.table([{ type: HOSTILE, error: 'line one\nline two\tend' }], ['type', 'error']);
    expect(text()).not.toMatch(CONTROLS);
    const [header, row, end] = text().split('\n');
    expect([header, end]).toEqual([expect.stringMatching(/^TYPE +ERROR$/), '']);
    expect(row).toMatch(/^shop\.evil\\u001b\]0;pwned\\u0007\\u001b\[2J\\u009b31m\\u202egnp\.exe +line one\\u000aline two\\u0009end$/);
  });

  it('prints lines and documents without controls; JSON stays JSON with the same text', () => {
    for (const json of [false, true]) {
      const { out, text } = capture(json);
      out.line(`tailing ${HOSTILE}`);
      out.document({ type: HOSTILE });
      out.table([{ type: HOSTILE }], ['type']);
      expect(text()).not.toMatch(CONTROLS);
      if (json) {
        const [, document, table] = text().trimEnd().split('\n');
        expect(JSON.parse(document!)).toEqual({ type: HOSTILE });
        expect(JSON.parse(table!)).toEqual([{ type: HOSTILE }]);
      }
    }
  });

  it('leaves ordinary text, tabs and line breaks of a line alone', () => {
    expect(printable('a\tb\nc — ü ✓')).toBe('a\tb\nc — ü ✓');
    expect(printable('a\tb\nc', true)).toBe('a\\u0009b\\u000ac');
  });
});

describe('the CLI on a terminal, end to end', () => {
  it("prints an error naming hostile text without the text's controls, as text and as JSON", async () => {
    for (const json of [[], ['--json']]) {
      let err = '';
      const code = await runCli(['dlq', 'list', HOSTILE, '--url', 'memory://', ...json], { out: () => undefined, err: (t) => (err += t) });
      expect(code).toBe(2);
      expect(err).toContain('shop.evil\\u001b]0;pwned');
      expect(err).not.toMatch(CONTROLS);
    }
  });
});
