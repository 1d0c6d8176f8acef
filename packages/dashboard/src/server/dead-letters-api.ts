/**
 * The dead-letter part of the dashboard's API, on core's `DeadLetterQueue` with the CLI's
 * semantics: list with filters (endpoint, reason, type, time), show one with its decoded envelope,
 * and replay or purge by ids (one or a selection), `all` (purge needs `confirm`), a `reason` or a
 * `type` — exactly one of them, as `missive dlq replay|purge`.
 *
 * @example
 * ```ts
 * await replayOrPurge(transport, 'replay', 'payment', { reason: 'HANDLER_FAILED' }); // { replayed: 3 }
 * ```
 * @module
 */
import { DeadLetterQueue, Header, jsonCodec, type DeadLetter, type DeadLetterSelector, type Transport } from '@missive/core';
import { HttpError } from './http-kit.js';

/** A dead letter as the list shows it. */
export interface DeadLetterSummary {
  readonly endpoint: string;
  readonly id: string;
  readonly type: string;
  readonly reason: string;
  readonly attempts: number;
  readonly time: string;
  readonly error: string;
  readonly service: string;
}

/** Filters of the list. */
export interface DeadLetterFilter {
  readonly endpoint?: string | undefined;
  readonly reason?: string | undefined;
  readonly type?: string | undefined;
  /** Epoch ms bounds of the failure time. */
  readonly since?: number | undefined;
  readonly until?: number | undefined;
}

const LIST_LIMIT = 500;

function summaryOf(letter: DeadLetter, endpoint: string): DeadLetterSummary {
  return {
    endpoint,
    id: letter.message.id,
    type: letter.message.type,
    reason: letter.failure.reason,
    attempts: letter.failure.attempts,
    time: new Date(letter.failure.time).toISOString(),
    error: `${letter.failure.errorName}: ${letter.failure.errorMessage}`,
    service: letter.failure.service,
  };
}

/** Dead letters matching `filter`, newest first, at most 500. */
export async function listDeadLetters(
  transport: Transport,
  filter: DeadLetterFilter,
): Promise<{ readonly total: number; readonly deadLetters: DeadLetterSummary[] }> {
  const queues = (await transport.queues()).filter(
    (q) => q.deadLetters > 0 && (filter.endpoint === undefined || q.name === filter.endpoint),
  );
  const dlq = new DeadLetterQueue(transport);
  const rows: DeadLetterSummary[] = [];
  let total = 0;
  for (const queue of queues) {
    for (const letter of await dlq.list(queue.name, { limit: LIST_LIMIT })) {
      if (filter.reason !== undefined && letter.failure.reason !== filter.reason) continue;
      if (filter.type !== undefined && letter.message.type !== filter.type) continue;
      if (filter.since !== undefined && letter.failure.time < filter.since) continue;
      if (filter.until !== undefined && letter.failure.time > filter.until) continue;
      total++;
      rows.push(summaryOf(letter, queue.name));
    }
  }
  rows.sort((a, b) => b.time.localeCompare(a.time));
  return { total, deadLetters: rows.slice(0, LIST_LIMIT) };
}

/** One dead letter with its failure, headers and decoded envelope. */
export async function showDeadLetter(transport: Transport, endpoint: string, id: string): Promise<Record<string, unknown>> {
  const letter = await new DeadLetterQueue(transport).get(endpoint, id);
  if (letter === undefined) throw new HttpError(404, `no dead letter ${id} in ${endpoint}`);
  let envelope: unknown;
  try {
    envelope = jsonCodec().decode(letter.message.body);
    // A payload nested too deeply to serialize (JSON.parse reads it, JSON.stringify overflows the
    // stack) throws here, and is shown raw, instead of making the answer a 500.
    JSON.stringify(envelope);
  } catch (error) {
    envelope = { undecodable: (error as Error).message, raw: Buffer.from(letter.message.body).toString('utf8').slice(0, 2000) };
  }
  const { [Header.Attempts]: _before, ...headers } = letter.message.headers;
  return {
    ...summaryOf(letter, endpoint),
    failure: { ...letter.failure, time: new Date(letter.failure.time).toISOString() },
    headers,
    envelope,
  };
}

/** The selector of a replay or purge body: exactly one of ids, all, reason, type. */
export function selectorOf(body: Record<string, unknown>, action: 'replay' | 'purge'): DeadLetterSelector {
  const ids = Array.isArray(body.ids) ? body.ids.filter((id): id is string => typeof id === 'string') : [];
  const reason = typeof body.reason === 'string' ? body.reason : undefined;
  const type = typeof body.type === 'string' ? body.type : undefined;
  const all = body.all === true;
  const ways = [ids.length > 0, all, reason !== undefined, type !== undefined].filter(Boolean).length;
  if (ways !== 1) throw new HttpError(400, `${action} needs exactly one of: ids, all, reason, type`);
  if (ids.length > 0) return { ids };
  if (all) {
    if (action === 'purge' && body.confirm !== true)
      throw new HttpError(400, 'purging every dead letter of an endpoint needs "confirm": true');
    return 'all';
  }
  if (reason !== undefined) return { filter: (l) => l.failure.reason === reason };
  return { filter: (l) => l.message.type === type };
}

/** Replays or purges the selected dead letters of `endpoint`. */
export async function replayOrPurge(
  transport: Transport,
  action: 'replay' | 'purge',
  endpoint: string,
  body: Record<string, unknown>,
): Promise<Record<string, number>> {
  const selector = selectorOf(body, action);
  if (!(await transport.queues()).some((q) => q.name === endpoint)) throw new HttpError(404, `no queue named "${endpoint}"`);
  const dlq = new DeadLetterQueue(transport);
  return action === 'replay' ? { replayed: await dlq.replay(endpoint, selector) } : { purged: await dlq.purge(endpoint, selector) };
}
