/**
 * The memory broker's record of command owners (see `command-owners.ts`): one map per broker, so
 * the buses of one process that share a `MemoryBroker` are held to one owner per command type.
 * Every operation is synchronous, so two claims never interleave.
 *
 * @example
 * ```ts
 * const owners = new MemoryCommandOwners(clock, (from, to, type) => broker.rebind(from, to, type));
 * owners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
 * ```
 * @module
 */
import type { Clock } from '../../clock.js';
import { CommandOwnerConflictError, type CommandClaim, type CommandClaimResult, type CommandOwner } from '../command-owners.js';

/** Command owners of one memory broker. */
export class MemoryCommandOwners {
  private readonly byType = new Map<string, CommandOwner>();

  constructor(
    private readonly clock: Clock,
    /** Moves a type's binding from the previous owner's queue to the claimant's (created if need be), at once. */
    private readonly rebind: (from: string, to: string, type: string) => void,
  ) {}

  /** Records or refuses the claim, all or nothing. */
  claim(claim: CommandClaim): CommandClaimResult {
    if (claim.takeOver !== true) {
      for (const type of claim.types) {
        const owner = this.byType.get(type);
        if (owner !== undefined && owner.queue !== claim.queue) throw new CommandOwnerConflictError(type, owner.queue, claim.queue);
      }
    }
    const moved: { type: string; from: string }[] = [];
    const since = this.clock.now();
    for (const type of claim.types) {
      const owner = this.byType.get(type);
      if (owner?.queue === claim.queue) continue;
      if (owner !== undefined) {
        this.rebind(owner.queue, claim.queue, type);
        moved.push({ type, from: owner.queue });
      }
      this.byType.set(type, { type, queue: claim.queue, service: claim.service, since });
    }
    return { moved };
  }

  /** Every owner, by type. */
  list(): CommandOwner[] {
    return [...this.byType.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /** Forgets the claims of a deleted queue. */
  release(queue: string): void {
    for (const [type, owner] of this.byType) if (owner.queue === queue) this.byType.delete(type);
  }
}
