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

/** Renders a cell. */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(cell).join(',');
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return value.toString();
    default:
      return JSON.stringify(value) ?? '';
  }
}

/** An output on a stream. */
export function createOutput(json: boolean, write: (text: string) => void = (t) => void process.stdout.write(t)): Output {
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
