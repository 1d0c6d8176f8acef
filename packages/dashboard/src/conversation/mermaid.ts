/**
 * A conversation as Mermaid `sequenceDiagram` text ("copy as Mermaid" in the dashboard): the same
 * lifelines, arrows and notes as the SVG. Failed deliveries are `--x` arrows.
 *
 * @example
 * ```ts
 * navigator.clipboard.writeText(mermaidOf(sequence));
 * ```
 * @module
 */
import { formatMs, noteOf, type Sequence } from './sequence.js';

/** Text Mermaid shows as-is: no `;`, `#` or line breaks, which its grammar reads. */
function text(value: string): string {
  return value.replace(/[;#\r\n]/g, ' ');
}

/** The Mermaid source of `sequence`. */
export function mermaidOf(sequence: Sequence): string {
  const ids = new Map(sequence.lifelines.map((name, i) => [name, `s${i}`]));
  const lines = ['sequenceDiagram'];
  for (const name of sequence.lifelines) lines.push(`  participant ${ids.get(name)} as ${text(name)}`);
  for (const a of sequence.arrows) {
    const arrow = a.outcome === 'handled' ? '->>' : '--x';
    lines.push(`  ${ids.get(a.from)}${arrow}${ids.get(a.to)}: ${text(a.type)} (+${formatMs(a.offsetMs)}, ${formatMs(a.durationMs)})`);
    const note = noteOf(a);
    if (note !== '') lines.push(`  Note over ${ids.get(a.to)}: ${text(note)}`);
  }
  return `${lines.join('\n')}\n`;
}
