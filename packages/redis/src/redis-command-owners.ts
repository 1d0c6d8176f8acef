/**
 * Command owners on Redis (the `CommandOwnership` ability of `@missive/core`): the hash
 * `<prefix>owners` maps each command (or query) type to the queue that owns it, and a claim is one
 * Lua script (`claim` in `scripts-owners.ts`). Redis runs a script alone, so of two processes
 * claiming one type at the same instant the second script sees the first one's owner and is
 * refused. Every connection under the same key prefix sees the same record: a prefix is one bus
 * namespace; buses on other prefixes, databases or servers do not see each other's owners.
 *
 * A take-over removes the previous owner's binding of the type and binds the claimant's queue in
 * the same script (the routing version is bumped, so every publisher reloads its routes before its
 * next publish): no message of the type reaches both queues or neither. A deposed owner still
 * running that declares its queue again (after a reconnect) is not bound to the type again: the
 * `declare` script skips command types another queue owns.
 *
 * The claims of this connection are remembered and made again after a reconnect, so a Redis
 * restarted without persistence (which lost the record) gets them back before anything is declared.
 *
 * @example
 * ```ts
 * const owners = new RedisCommandOwners(transport);
 * await owners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
 * ```
 * @module
 */
import { CommandOwnerConflictError, type CommandOwner } from '@missive/core';
import type { CommandClaim, CommandClaimResult, CommandOwnership } from '@missive/core/transport';
import type { RedisConnection } from './redis-connection.js';

/** The command owners of one key prefix. */
export class RedisCommandOwners implements CommandOwnership {
  /** What this connection claimed, by queue: claimed again after a reconnect. */
  private readonly claimed = new Map<string, { service: string; types: Set<string> }>();

  constructor(private readonly transport: RedisConnection) {}

  async claim(claim: CommandClaim): Promise<CommandClaimResult> {
    const moved = await this.run(claim);
    const mine = this.claimed.get(claim.queue) ?? { service: claim.service, types: new Set<string>() };
    for (const type of claim.types) mine.types.add(type);
    this.claimed.set(claim.queue, mine);
    return { moved };
  }

  async owners(): Promise<CommandOwner[]> {
    const t = this.transport;
    const all = await t.redis.hgetall(`${t.keys.prefix}owners`).catch((error: unknown) => Promise.reject(t.failure('owners', error)));
    return Object.entries(all)
      .map(([type, record]) => {
        const [queue = '', service = '', since = '0'] = record.split('\t');
        return { type, queue, service, since: Number(since) };
      })
      .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  /**
   * @internal After a reconnect, before the queues are declared again: makes this connection's
   * claims again (a server restarted without persistence forgot them). A type another endpoint
   * claimed meanwhile stays with it, and the log says so.
   */
  async reclaim(): Promise<void> {
    for (const [queue, { service, types }] of this.claimed) {
      while (types.size > 0) {
        try {
          await this.run({ queue, service, types: [...types] });
          break;
        } catch (error) {
          if (!(error instanceof CommandOwnerConflictError)) throw error;
          this.transport.logger.error(
            { err: error },
            `endpoint ${queue} lost ${error.messageType} to endpoint ${error.owner} while disconnected: it is not bound to it again`,
          );
          types.delete(error.messageType);
        }
      }
    }
  }

  private async run(claim: CommandClaim): Promise<{ type: string; from: string }[]> {
    const t = this.transport;
    if (claim.types.length === 0) return [];
    let reply: (string | number)[];
    try {
      reply = (await t.scripts.run(
        'claim',
        [],
        [t.keys.prefix, claim.queue, claim.service, t.clock.now(), claim.takeOver === true ? '1' : '0', ...claim.types],
      )) as (string | number)[];
    } catch (error) {
      throw t.failure('claim', error);
    }
    if (Number(reply[0]) === 0) throw new CommandOwnerConflictError(String(reply[1]), String(reply[2]), claim.queue);
    const moved: { type: string; from: string }[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) moved.push({ type: String(reply[i]), from: String(reply[i + 1]) });
    if (moved.length > 0) t.staleRoutes();
    return moved;
  }
}
