/**
 * Renders a {@link Breakdown} as a markdown table.
 *
 * @module
 */
import type { Breakdown } from './breakdown.js';

const us = (ns: number): string => (ns / 1000).toFixed(2);
const pct = (part: number, whole: number): string => `${Math.round((100 * part) / whole)} %`;

export function breakdownTable(b: Breakdown): string {
  const out = [
    '| step | µs per call | calls per message | µs per message | share of the bus path | note |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  let explained = 0;
  for (const s of b.steps) {
    const perMessage = s.ns * s.perMessage;
    if (!s.step.startsWith('  ') && s.perMessage > 0) explained += perMessage;
    out.push(
      `| ${s.step.startsWith('  ') ? `&nbsp;&nbsp;${s.step.trim()}` : s.step} | ${us(s.ns)} | ${s.perMessage} | ${s.perMessage === 0 ? '–' : us(perMessage)} | ${s.perMessage === 0 ? '–' : pct(perMessage, b.busNs)} | ${s.note} |`,
    );
  }
  explained += b.transportNs;
  out.push(
    `| memory transport alone (publish, hand out, ack) | ${us(b.transportNs)} | 1 | ${us(b.transportNs)} | ${pct(b.transportNs, b.busNs)} | measured without the bus, on a pre-encoded message |`,
  );
  const rest = b.busNs - explained;
  out.push(
    `| bus pipeline and runtime (the rest) | | | ${us(rest)} | ${pct(rest, b.busNs)} | pipeline steps, promises, consume state, handler context, bookkeeping, garbage collection |`,
  );
  out.push(
    `| **whole bus path, publish to handler** | | | **${us(b.busNs)}** | 100 % | ${Math.round(1e9 / b.busNs).toLocaleString('en-US')} msg/s in one process |`,
  );
  out.push(
    `| whole bus path, validateOutgoing: false | | | ${us(b.busNoOutgoingValidationNs)} | ${pct(b.busNoOutgoingValidationNs, b.busNs)} | |`,
  );
  out.push(`| bare handoff, for scale | | | ${us(b.bareNs)} | ${pct(b.bareNs, b.busNs)} | |`);
  return out.join('\n');
}
