import { describe, expect, it } from 'vitest';
import { spanContextOf, traceIdOf, traceparentOf } from './trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('spanContextOf', () => {
  it('reads the ids, the sampled flag and the trace state of a traceparent', () => {
    expect(spanContextOf(`00-${TRACE}-${SPAN}-01`, 'vendor=a')).toMatchObject({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
      isRemote: true,
    });
    expect(spanContextOf(`00-${TRACE}-${SPAN}-01`, 'vendor=a')?.traceState?.get('vendor')).toBe('a');
    expect(spanContextOf(`00-${TRACE}-${SPAN}-02`)).toMatchObject({ traceFlags: 0, traceState: undefined });
  });

  it('refuses what is absent or malformed', () => {
    for (const bad of [
      undefined,
      '',
      `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
      `00-${'0'.repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero span id
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper-case hex
      `00-${TRACE}-${SPAN}-01-extra`,
      `00_${TRACE}_${SPAN}_01`,
      `00-${TRACE.slice(1)}g-${SPAN}-01`,
    ]) {
      expect(spanContextOf(bad), String(bad)).toBeUndefined();
    }
  });

  it('reads the sampled flag of every flags byte, and refuses every character next to the hex digits', () => {
    for (let flags = 0; flags < 256; flags++) {
      const hex = flags.toString(16).padStart(2, '0');
      expect(spanContextOf(`00-${TRACE}-${SPAN}-${hex}`)?.traceFlags, hex).toBe(flags & 1);
    }
    // '/' and ':' border the digits, '`' and 'g' the letters; 'İ' (U+0130) and 'š' (U+0161) are '0' and 'a' in their low byte.
    for (const c of ['/', ':', '`', 'g', 'A', 'F', ' ', '\u0130', '\u0161', '\u0080']) {
      expect(spanContextOf(`0${c}-${TRACE}-${SPAN}-01`), `version ${c}`).toBeUndefined();
      expect(spanContextOf(`00-${TRACE.slice(0, 31)}${c}-${SPAN}-01`), `trace id ${c}`).toBeUndefined();
      expect(spanContextOf(`00-${TRACE}-${c}${SPAN.slice(1)}-01`), `span id ${c}`).toBeUndefined();
      expect(spanContextOf(`00-${TRACE}-${SPAN}-0${c}`), `flags ${c}`).toBeUndefined();
    }
  });

  it('round-trips through traceparentOf and traceIdOf', () => {
    const traceparent = `00-${TRACE}-${SPAN}-01`;
    expect(traceparentOf(spanContextOf(traceparent)!)).toBe(traceparent);
    expect(traceIdOf(traceparent)).toBe(TRACE);
  });
});
