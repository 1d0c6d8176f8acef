/**
 * `missive dlq list|show|replay|purge <endpoint>`: the dead letters of an endpoint. Replay and purge
 * take ids, `--all`, `--reason CODE` or `--type TYPE`; purging everything needs `--yes`.
 *
 * @example
 * ```sh
 * missive dlq list payment
 * missive dlq replay payment --reason HANDLER_FAILED
 * missive dlq purge payment --all --yes
 * ```
 * @module
 */
import { DeadLetterQueue, Header, jsonCodec, type DeadLetter, type DeadLetterSelector, type Transport } from '@missive/core';
import { requireQueue } from '../connect.js';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';

/** Arguments of a dlq command. */
export interface DlqArgs {
  readonly action: string;
  readonly endpoint: string | undefined;
  readonly ids: readonly string[];
  readonly all: boolean;
  readonly reason: string | undefined;
  readonly type: string | undefined;
  readonly yes: boolean;
  readonly limit: number;
  readonly offset: number;
}

function summary(letter: DeadLetter): Record<string, unknown> {
  return {
    id: letter.message.id,
    type: letter.message.type,
    reason: letter.failure.reason,
    attempts: letter.failure.attempts,
    time: new Date(letter.failure.time).toISOString(),
    error: `${letter.failure.errorName}: ${letter.failure.errorMessage}`,
  };
}

/** The footer of a text listing: which slice of how many, and how to see the next. */
function page(total: number, offset: number, shown: number, limit: number): string {
  if (shown === 0) return `${total} dead letter(s) in all`;
  const next = offset + shown < total ? `; --offset ${offset + shown} for the next ${Math.min(limit, total - offset - shown)}` : '';
  return `${offset + 1}-${offset + shown} of ${total} dead letter(s)${next}`;
}

function selector(args: DlqArgs): DeadLetterSelector {
  const ways = [args.ids.length > 0, args.all, args.reason !== undefined, args.type !== undefined].filter(Boolean).length;
  if (ways !== 1) throw new UsageError(`dlq ${args.action} needs exactly one of: ids, --all, --reason CODE, --type TYPE`);
  if (args.ids.length > 0) return { ids: args.ids };
  if (args.all) return 'all';
  if (args.reason !== undefined) return { filter: (l) => l.failure.reason === args.reason };
  return { filter: (l) => l.message.type === args.type };
}

export async function dlqCommand(transport: Transport, args: DlqArgs, out: Output): Promise<void> {
  if (args.endpoint === undefined) throw new UsageError(`dlq ${args.action} needs an endpoint: missive dlq ${args.action} <endpoint>`);
  await requireQueue(transport, args.endpoint);
  const dlq = new DeadLetterQueue(transport);
  switch (args.action) {
    case 'list': {
      // Count first: on RabbitMQ listing browses by taking messages (un-acked until the channel
      // closes), and a broker's count leaves out taken messages.
      const total = await dlq.count(args.endpoint);
      const letters = await dlq.list(args.endpoint, { limit: args.limit, offset: args.offset });
      const rows = letters.map(summary);
      if (out.json) {
        out.document({ total, offset: args.offset, limit: args.limit, deadLetters: rows });
        return;
      }
      for (const row of rows) row.error = String(row.error).slice(0, 80);
      out.table(rows, ['id', 'type', 'reason', 'attempts', 'time', 'error']);
      out.line(page(total, args.offset, rows.length, args.limit));
      return;
    }
    case 'show': {
      const id = args.ids[0];
      if (id === undefined) throw new UsageError('dlq show needs a message id: missive dlq show <endpoint> <id>');
      const letter = await dlq.get(args.endpoint, id);
      if (letter === undefined) throw new UsageError(`no dead letter ${id} in ${args.endpoint}`);
      let envelope: unknown;
      try {
        envelope = jsonCodec().decode(letter.message.body);
        // A payload nested too deeply to serialize (JSON.parse reads it, JSON.stringify overflows
        // the stack) throws here, and is shown raw, instead of failing the command.
        JSON.stringify(envelope);
      } catch (error) {
        envelope = { undecodable: (error as Error).message, raw: Buffer.from(letter.message.body).toString('utf8').slice(0, 2000) };
      }
      // One attempt count, one time format: failure.attempts counts every handler invocation, while the
      // missive-attempts header counted only those before the last delivery, so it is left out here;
      // times are ISO 8601 as in `dlq list`.
      const { [Header.Attempts]: _before, ...headers } = letter.message.headers;
      const failure = { ...letter.failure, time: new Date(letter.failure.time).toISOString() };
      out.document({ queue: letter.queue, id: letter.message.id, type: letter.message.type, failure, headers, envelope });
      return;
    }
    case 'replay': {
      const moved = await dlq.replay(args.endpoint, selector(args));
      if (out.json) out.document({ replayed: moved });
      else out.line(`replayed ${moved} message(s) to ${args.endpoint}`);
      return;
    }
    case 'purge': {
      const chosen = selector(args);
      if (chosen === 'all' && !args.yes)
        throw new UsageError('dlq purge --all deletes every dead letter of the endpoint: add --yes to confirm');
      const purged = await dlq.purge(args.endpoint, chosen);
      if (out.json) out.document({ purged });
      else out.line(`purged ${purged} dead letter(s) of ${args.endpoint}`);
      return;
    }
    default:
      throw new UsageError(`unknown dlq action "${args.action}": use list, show, replay or purge`);
  }
}
