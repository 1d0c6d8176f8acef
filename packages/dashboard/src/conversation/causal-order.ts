/**
 * Orders a conversation's journal rows as they happened causally: each message after the message
 * whose handling sent it (its causation id), siblings by the time they were sent, and the rows of
 * one message (a retry, then its success) by when they settled. Clock skew between machines and
 * millisecond ties cannot put an effect before its cause.
 *
 * @example
 * ```ts
 * const rows = causalOrder(await store.conversation('o-42'));
 * ```
 * @module
 */
import type { JournalEntry } from '../journal/journal-entry.js';

/** The rows in causal order (a new array). */
export function causalOrder(entries: readonly JournalEntry[]): JournalEntry[] {
  const byMessage = new Map<string, JournalEntry[]>();
  for (const entry of entries) {
    const rows = byMessage.get(entry.messageId);
    if (rows === undefined) byMessage.set(entry.messageId, [entry]);
    else rows.push(entry);
  }
  const sent = (rows: readonly JournalEntry[]) => Math.min(...rows.map((r) => r.sentAt ?? r.at));
  const children = new Map<string, string[]>();
  const roots: string[] = [];
  for (const [id, rows] of byMessage) {
    const cause = rows[0]!.causationId;
    if (cause !== undefined && cause !== id && byMessage.has(cause)) {
      const list = children.get(cause);
      if (list === undefined) children.set(cause, [id]);
      else list.push(id);
    } else {
      roots.push(id);
    }
  }
  const bySent = (a: string, b: string) => sent(byMessage.get(a)!) - sent(byMessage.get(b)!);
  const ordered: JournalEntry[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    ordered.push(...[...byMessage.get(id)!].sort((a, b) => a.at - b.at || a.seq - b.seq));
    for (const child of (children.get(id) ?? []).sort(bySent)) visit(child);
  };
  for (const root of roots.sort(bySent)) visit(root);
  for (const id of byMessage.keys()) visit(id); // a causation cycle (never from Missive): still every row once
  return ordered;
}
