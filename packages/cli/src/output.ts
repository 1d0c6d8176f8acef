/**
 * Writing results: JSON (one document, or one line per item for streams) with `--json`, aligned
 * text tables otherwise.
 *
 * @example
 * ```ts
 * out.table([{ name: 'billing', depth: 3 }], ['name', 'depth']);
 * ```
 * @module
 */

/** Where a command writes. */
export interface Output {
  readonly json: boolean;
  line(text: string): void;
  /** A JSON document (with --json) or a table of `columns`. */
  table(rows: readonly Record<string, unknown>[], columns: readonly string[]): void;
  document(value: unknown): void;
}

/** Terminal controls: C0 (but tab and newline), DEL, C1, and the bidirectional overrides (text that reads other than it is). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `\u001b`: readable on a terminal, and the same character when it stands in a JSON string. */
const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `text` safe to print on a terminal: a message's type, error text or a service's name comes from
 * whoever published it, and an escape sequence in it (`ESC ]0;…`, `ESC [2J`) would be run by the
 * operator's terminal. Controls show as `\u001b`, `\u202e` (so a JSON line stays JSON, meaning the
 * same); `inline` escapes tabs and line breaks too (a table cell).
 */
export function printable(text: string, inline = false): string {
  return text.replace(inline ? CONTROL_OR_BREAK : CONTROL, escape);
}

/** Renders a cell: one line. */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(cell).join(',');
  switch (typeof value) {
    case 'string':
      return printable(value, true);
    case 'number':
    case 'boolean':
    case 'bigint':
      return value.toString();
    default:
      return JSON.stringify(value) ?? '';
  }
}

/** An output on a stream. */
export function createOutput(json: boolean, writeRaw: (text: string) => void = (t) => void process.stdout.write(t)): Output {
  const write = (text: string) => writeRaw(printable(text));
  return {
    json,
    line: (text) => write(`${text}\n`),
    document: (value) => write(`${JSON.stringify(value, null, json ? undefined : 2)}\n`),
    table(rows, columns) {
      if (json) {
        write(`${JSON.stringify(rows)}\n`);
        return;
      }
      if (rows.length === 0) {
        write('(none)\n');
        return;
      }
      const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
      const render = (values: readonly string[]) =>
        values
          .map((v, i) => v.padEnd(widths[i]!))
          .join('  ')
          .trimEnd();
      write(`${render(columns.map((c) => c.toUpperCase()))}\n`);
      for (const row of rows) write(`${render(columns.map((c) => cell(row[c])))}\n`);
    },
  };
}
