/**
 * A conversation drawn as an SVG sequence diagram, on the server so it is the same everywhere and
 * testable without a browser: a box and a dashed lifeline per service, an arrow per journal row
 * (solid when handled, dashed orange when retried, red with a cross when dead-lettered, purple for
 * a compensation), the message type above it, its note below, and the timings (+sent, handler
 * duration) in the left margin. Every text is escaped.
 *
 * @example
 * ```ts
 * const svg = svgOf(sequenceOf(entries));
 * ```
 * @module
 */
import { formatMs, noteOf, type Arrow, type Sequence } from './sequence.js';

const COLUMN = 190;
const MARGIN = 150;
const HEAD = 56;
const ROW = 46;

/** Characters XML 1.0 does not allow at all, even escaped: C0 controls but tab, CR and LF; lone surrogates; U+FFFE, U+FFFF. */
const NOT_XML = /[^\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]/gu;

/**
 * XML-escapes text, and replaces a character XML cannot hold with U+FFFD: one control character in
 * a message's error text (a payload value quoted by a handler) made the whole diagram unparseable.
 */
export function escapeXml(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function colorOf(arrow: Arrow): string {
  if (arrow.outcome === 'dead-lettered') return '#c62828';
  if (arrow.outcome === 'retried' || arrow.outcome === 'dropped') return '#ef6c00';
  if (arrow.compensation) return '#6a1b9a';
  return '#1f3b57';
}

/** The SVG document of `sequence`. */
export function svgOf(sequence: Sequence): string {
  const x = (name: string) => MARGIN + sequence.lifelines.indexOf(name) * COLUMN + COLUMN / 2;
  const width = MARGIN + Math.max(1, sequence.lifelines.length) * COLUMN + 20;
  const height = HEAD + sequence.arrows.length * ROW + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="sequence" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    '<defs>',
    ...['#1f3b57', '#ef6c00', '#c62828', '#6a1b9a'].map(
      (c) =>
        `<marker id="head-${c.slice(1)}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`,
    ),
    '</defs>',
    `<text x="8" y="20" fill="#555">time (+sent · took)</text>`,
  ];
  for (const name of sequence.lifelines) {
    const cx = x(name);
    parts.push(
      `<g class="lifeline" data-service="${escapeXml(name)}"><rect x="${cx - 80}" y="6" width="160" height="28" rx="5" fill="#e8eef5" stroke="#1f3b57"/>`,
      `<text x="${cx}" y="25" text-anchor="middle" font-weight="600">${escapeXml(name)}</text>`,
      `<line x1="${cx}" y1="34" x2="${cx}" y2="${height - 8}" stroke="#9aa8b5" stroke-dasharray="4 4"/></g>`,
    );
  }
  sequence.arrows.forEach((arrow, i) => {
    const y = HEAD + i * ROW + 18;
    const color = colorOf(arrow);
    const from = x(arrow.from);
    const to = x(arrow.to);
    const dash = arrow.outcome === 'handled' ? '' : ' stroke-dasharray="6 3"';
    const note = noteOf(arrow);
    const title = escapeXml(
      `${arrow.type} ${arrow.messageId} → ${arrow.to}/${arrow.endpoint}${arrow.error === undefined ? '' : `\n${arrow.error}`}`,
    );
    parts.push(
      `<g class="arrow outcome-${arrow.outcome}${arrow.compensation ? ' compensation' : ''}" data-message-id="${escapeXml(arrow.messageId)}" data-type="${escapeXml(arrow.type)}"><title>${title}</title>`,
    );
    parts.push(
      `<text x="8" y="${y + 4}" fill="#555">+${escapeXml(formatMs(arrow.offsetMs))} · ${escapeXml(formatMs(arrow.durationMs))}</text>`,
    );
    if (from === to) {
      parts.push(
        `<path d="M${from},${y} h40 v14 h-40" fill="none" stroke="${color}" stroke-width="1.6"${dash} marker-end="url(#head-${color.slice(1)})"/>`,
      );
      parts.push(`<text x="${from + 46}" y="${y + 4}" fill="${color}">${escapeXml(arrow.type)}</text>`);
    } else {
      parts.push(
        `<line x1="${from}" y1="${y}" x2="${to}" y2="${y}" stroke="${color}" stroke-width="1.6"${dash} marker-end="url(#head-${color.slice(1)})"/>`,
      );
      parts.push(`<text x="${(from + to) / 2}" y="${y - 5}" text-anchor="middle" fill="${color}">${escapeXml(arrow.type)}</text>`);
    }
    if (arrow.outcome === 'dead-lettered')
      parts.push(`<text x="${to + 6}" y="${y + 5}" fill="${color}" font-size="16" font-weight="700">✕</text>`);
    if (note !== '')
      parts.push(
        `<text x="${from === to ? from + 46 : (from + to) / 2}" y="${y + 15}" text-anchor="${from === to ? 'start' : 'middle'}" fill="${color}" font-size="11" font-style="italic">${escapeXml(note)}</text>`,
      );
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}
