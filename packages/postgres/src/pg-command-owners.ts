/**
 * Command owners on the PostgreSQL transport (the `CommandOwnership` ability of `@missive/core`):
 * `command_owners` maps each command (or query) type to the queue that owns it, its primary key on
 * `type` being the one-owner rule. Each claim is one statement (one implicit transaction), so it
 * is all or nothing, in every process that shares the schema:
 *
 * - **A claim** inserts the types the claimant does not own yet, without `ON CONFLICT`. A type that
 *   another queue owns — committed, or inserted at the same instant by another process, whose
 *   commit the insert waits for on the unique index — fails the statement with `unique_violation`,
 *   and nothing of it is written. The claim then reads the owners and refuses with
 *   `CommandOwnerConflictError`, unless the row it met is its own queue's (two instances of one
 *   endpoint starting at once: the claim is made again, and now finds it owns the type).
 *   Types are inserted in sorted order, so two claims of the same types never deadlock.
 * - **A take-over** upserts the types, deletes each previous owner's binding of the type and binds
 *   the claimant's queue (created if need be) in the same statement: from its commit on, the
 *   previous owner gets no message of the type and the claimant gets them all. The previous owner's
 *   queue and the messages in it stay.
 *
 * @example
 * ```ts
 * const owners = new PostgresCommandOwners(transport);
 * await owners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
 * ```
 * @module
 */
import { CommandOwnerConflictError, TransportError, type CommandOwner } from '@missive/core';
import { isExactTopic, type CommandClaim, type CommandClaimResult, type CommandOwnership } from '@missive/core/transport';
import type pg from 'pg';
import { patternRegex, type Statements } from './statements.js';

/** What claiming needs of the transport. */
export interface OwnersHost {
  readonly sql: Statements;
  now(): number;
  run<R extends pg.QueryResultRow>(statement: string, values: unknown[]): Promise<pg.QueryResult<R>>;
}

/** SQLSTATE `unique_violation`. */
const UNIQUE_VIOLATION = '23505';
/** Claims made again after meeting the claimant's own queue's row (instances starting at once). */
const ATTEMPTS = 3;

/** The command owners of one schema. */
export class PostgresCommandOwners implements CommandOwnership {
  constructor(private readonly host: OwnersHost) {}

  async claim(claim: CommandClaim): Promise<CommandClaimResult> {
    if (claim.types.length === 0) return { moved: [] };
    const types = [...new Set(claim.types)].sort();
    if (claim.takeOver === true) return this.takeOver(claim, types);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.host.run(this.host.sql.ownersClaim, [types, claim.queue, claim.service, this.host.now()]);
        return { moved: [] };
      } catch (error) {
        if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
        const { rows } = await this.host.run<{ type: string; queue: string }>(this.host.sql.ownersOf, [types]);
        const taken = rows.find((r) => r.queue !== claim.queue);
        if (taken !== undefined) throw new CommandOwnerConflictError(taken.type, taken.queue, claim.queue);
        if (attempt >= ATTEMPTS)
          throw new TransportError(`claiming ${types.join(', ')} for ${claim.queue} kept meeting concurrent claims`, {
            cause: error,
            retryable: true,
          });
      }
    }
  }

  private async takeOver(claim: CommandClaim, types: string[]): Promise<CommandClaimResult> {
    const exact = types.map((t) => (isExactTopic(t) ? t : null));
    const regex = types.map((t) => patternRegex(t));
    const { rows } = await this.host.run<{ type: string; queue: string }>(this.host.sql.ownersTakeOver, [
      types,
      claim.queue,
      claim.service,
      this.host.now(),
      exact,
      regex,
    ]);
    return { moved: rows.map((r) => ({ type: r.type, from: r.queue })) };
  }

  async owners(): Promise<CommandOwner[]> {
    const { rows } = await this.host.run<{ type: string; queue: string; service: string; since: string }>(this.host.sql.owners, []);
    return rows.map((r) => ({ type: r.type, queue: r.queue, service: r.service, since: Number(r.since) }));
  }
}
