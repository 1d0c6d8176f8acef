/**
 * A conversation as a sequence diagram's model: the services as lifelines (in order of first
 * appearance), each journal row as an arrow from the service that sent the message to the service
 * that handled it, in causal order, with its outcome (retried, dead-lettered), whether it is a
 * compensation, and its timings (sent how long after the conversation began; how long the handler
 * took). {@link svgOf} and {@link mermaidOf} draw it.
 *
 * @example
 * ```ts
 * const sequence = sequenceOf(await store.conversation('o-42'));
 * res.end(svgOf(sequence));
 * ```
 * @module
 */
import type { HandledOutcome } from '@missive/core';
import type { JournalEntry } from '../journal/journal-entry.js';
import { causalOrder } from './causal-order.js';

/** One arrow: one journal row. */
export interface Arrow {
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly kind: string | undefined;
  readonly endpoint: string;
  readonly messageId: string;
  readonly correlationId: string | undefined;
  readonly traceId: string | undefined;
  readonly outcome: HandledOutcome;
  readonly attempt: number;
  readonly compensation: boolean;
  readonly replayed: boolean;
  /** Sent this long after the conversation's first message, ms. */
  readonly offsetMs: number;
  readonly durationMs: number;
  readonly reason: string | undefined;
  readonly error: string | undefined;
}

/** The diagram's model. */
export interface Sequence {
  readonly lifelines: readonly string[];
  readonly arrows: readonly Arrow[];
  /** When the first message was sent, epoch ms (0 when empty). */
  readonly startedAt: number;
  /** From the first message sent to the last settlement, ms. */
  readonly elapsedMs: number;
  readonly correlationIds: readonly string[];
  readonly traceIds: readonly string[];
}

/** Message types that undo earlier work, by name: void, release, refund, cancel, compensate, undo, revert. */
export const DEFAULT_COMPENSATION = /(^|[.\-_])(void|release|refund|cancel|compensat|undo|revert)/i;

/** The model of `entries` (any order). */
export function sequenceOf(entries: readonly JournalEntry[], options: { readonly compensation?: RegExp } = {}): Sequence {
  const compensation = options.compensation ?? DEFAULT_COMPENSATION;
  const ordered = causalOrder(entries);
  const lifelines: string[] = [];
  const line = (name: string) => {
    if (!lifelines.includes(name)) lifelines.push(name);
    return name;
  };
  const startedAt = ordered.length === 0 ? 0 : Math.min(...ordered.map((e) => e.sentAt ?? e.at));
  const arrows = ordered.map((e): Arrow => ({
    from: line(e.source ?? '?'),
    to: line(e.service),
    type: e.type,
    kind: e.kind,
    endpoint: e.endpoint,
    messageId: e.messageId,
    correlationId: e.correlationId,
    traceId: e.traceId,
    outcome: e.outcome,
    attempt: e.attempt,
    compensation: compensation.test(e.type),
    replayed: e.replayed,
    offsetMs: Math.max(0, (e.sentAt ?? e.at) - startedAt),
    durationMs: e.durationMs,
    reason: e.reason,
    error: e.error,
  }));
  const unique = (values: readonly (string | undefined)[]) => [...new Set(values.filter((v): v is string => v !== undefined))];
  return {
    lifelines,
    arrows,
    startedAt,
    elapsedMs: ordered.length === 0 ? 0 : Math.max(...ordered.map((e) => e.at)) - startedAt,
    correlationIds: unique(ordered.map((e) => e.correlationId)),
    traceIds: unique(ordered.map((e) => e.traceId)),
  };
}

/** "12 ms", "1.4 s". */
export function formatMs(ms: number): string {
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The arrow's note: retry, dead letter, compensation, replay. */
export function noteOf(arrow: Arrow): string {
  const notes: string[] = [];
  if (arrow.outcome === 'retried') notes.push(`retried (attempt ${arrow.attempt})`);
  if (arrow.outcome === 'dead-lettered') notes.push(`dead-lettered: ${arrow.reason ?? 'failed'}`);
  if (arrow.outcome === 'dropped') notes.push(`dropped: ${arrow.reason ?? ''}`);
  if (arrow.outcome === 'handled' && arrow.attempt > 1) notes.push(`handled on attempt ${arrow.attempt}`);
  if (arrow.compensation) notes.push('compensation');
  if (arrow.replayed) notes.push('replayed');
  return notes.join(', ');
}
