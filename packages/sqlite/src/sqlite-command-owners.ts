/**
 * Command owners on the SQLite transport (the `CommandOwnership` ability of `@missive/core`):
 * `missive_command_owners` maps each command (or query) type to the queue that owns it. A claim
 * reads and writes its rows in one `BEGIN IMMEDIATE` transaction, which every process serializes on
 * the file's write lock: of two processes claiming one type at the same instant, the one whose
 * transaction comes second sees the first one's row and is refused.
 *
 * A take-over deletes the previous owner's binding of the type and binds the claimant's queue in the
 * same transaction (and bumps the bindings version, so every publisher reloads its routing before
 * its next publish): from the commit on, the previous owner gets no message of the type and the
 * claimant gets them all; no message finds no queue in between.
 *
 * @example
 * ```ts
 * const owners = new SqliteCommandOwners(transport);
 * await owners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
 * ```
 * @module
 */
import { CommandOwnerConflictError, type CommandOwner } from '@missive/core';
import type { CommandClaim, CommandClaimResult, CommandOwnership } from '@missive/core/transport';
import type { SqliteConnection } from './sqlite-link.js';

/** The command owners of one SQLite file. */
export class SqliteCommandOwners implements CommandOwnership {
  constructor(private readonly transport: SqliteConnection) {}

  async claim(claim: CommandClaim): Promise<CommandClaimResult> {
    const t = this.transport;
    return t.withBusyRetry(() => {
      const db = t.db;
      const owner = db.prepare('select queue from missive_command_owners where type = ?');
      const upsert = db.prepare(
        'insert into missive_command_owners (type, queue, service, since) values (?, ?, ?, ?) on conflict (type) do update set queue = excluded.queue, service = excluded.service, since = excluded.since',
      );
      const unbind = db.prepare('delete from missive_bindings where queue = ? and pattern = ?');
      const s = t.statements;
      return db
        .transaction((): CommandClaimResult => {
          const current = claim.types.map((type) => ({ type, owner: (owner.get(type) as { queue: string } | undefined)?.queue }));
          if (claim.takeOver !== true) {
            const taken = current.find((c) => c.owner !== undefined && c.owner !== claim.queue);
            if (taken !== undefined) throw new CommandOwnerConflictError(taken.type, taken.owner!, claim.queue);
          }
          const moved: { type: string; from: string }[] = [];
          const now = t.clock.now();
          for (const { type, owner: from } of current) {
            if (from === claim.queue) continue;
            if (from !== undefined) {
              unbind.run(from, type);
              // The claimant is bound in the same commit, so no message of the type finds no queue.
              s.queueInsert.run(claim.queue, null, now);
              s.bindingInsert.run(claim.queue, type);
              moved.push({ type, from });
            }
            upsert.run(type, claim.queue, claim.service, now);
          }
          if (moved.length > 0) t.statements.bumpBindings.run();
          return { moved };
        })
        .immediate();
    });
  }

  async owners(): Promise<CommandOwner[]> {
    return this.transport.db
      .prepare('select type, queue, service, since from missive_command_owners order by type')
      .all() as CommandOwner[];
  }
}
