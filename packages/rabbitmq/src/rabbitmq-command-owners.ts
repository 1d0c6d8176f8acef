/**
 * The `CommandOwnership` ability of the RabbitMQ transport: claims are records in the
 * `missive.registry` stream, decided by stream order (`command-claims.ts`).
 *
 * - **Claim.** Append the claim, read up to a marker appended after it on the same channel, look
 *   up its outcome. Refused: a `CommandOwnerConflictError` naming the owner. Two processes that
 *   claim one type at the same instant: the record that landed first wins, the other is refused.
 * - **An owner whose queue is gone.** A claim refused by an owner whose queue no longer exists on
 *   the broker (deleted behind Missive's back) and whose claim is older than
 *   {@link ABANDONED_AFTER_MS} (a live owner declares its queue right after claiming) is released
 *   with a deletion record, and the claim is made once more: stream order again decides a race.
 * - **Take-over.** The previous owner's bindings of the type (its type exchange binding, its
 *   partitions' if ordered, the delayed-return binding) are removed before `claim` resolves.
 *   A deposed owner that is still running and reconnects declares its bindings again; once it has
 *   read the registry after the reconnect it sees it lost the type and removes them (see
 *   {@link RabbitCommandOwners.enforce}): until then, for a moment, it may get copies.
 * - **Retention.** A live transport appends its owners' claims again with the daily registry
 *   refresh; an owner down for longer than the registry keeps records (7 days) loses its claims.
 *
 * @example
 * ```ts
 * const { moved } = await transport.commandOwners!.claim({ queue: 'billing', service: 'billing', types: ['shop.charge-card'], takeOver: true });
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { CommandOwnerConflictError, TransportError, type CommandOwner, type Logger } from '@missive/core';
import type { CommandClaim, CommandClaimResult, CommandOwnership } from '@missive/core/transport';
import { claimRecord, type ClaimOutcome } from './command-claims.js';
import { appendRecord, deletionRecord, type Registry } from './queue-registry.js';
import { partitionQueue } from './partitions.js';
import { RETURN_EXCHANGE, bindingsOf } from './topology.js';

/** A claim older than this whose owner's queue does not exist is abandoned. */
export const ABANDONED_AFTER_MS = 60_000;

/** What the ownership ability needs of the transport. */
export interface ClaimsHost {
  /** The transport's live reader of the registry. */
  readonly registry: Registry;
  readonly logger: Logger;
  /** Appends `record`, then reads the registry up to a marker appended after it (same channel). */
  readRegistryAfter(channel: amqp.Channel, record: Buffer): Promise<Registry>;
  adminChannelNow(): Promise<amqp.Channel>;
  newChannel(): Promise<amqp.Channel>;
  queueExists(name: string): Promise<boolean>;
  /** Stops declaring `topic` for `queue` (after a reconnect): the queue lost the type. */
  dropTopic(queue: string, topic: string): void;
}

/** Command owners on RabbitMQ. */
export class RabbitCommandOwners implements CommandOwnership {
  /** Types this transport claimed, by queue, with the service: appended again with the registry refresh. */
  private readonly claimed = new Map<string, { service: string; types: Set<string> }>();

  constructor(private readonly host: ClaimsHost) {}

  async claim(claim: CommandClaim): Promise<CommandClaimResult> {
    let outcome = await this.append(claim);
    if ('refused' in outcome) {
      const { type, owner } = outcome.refused;
      const gone = !(await this.host.queueExists(owner.queue));
      if (gone && Date.now() - owner.since > ABANDONED_AFTER_MS) {
        await this.host.readRegistryAfter(await this.host.adminChannelNow(), deletionRecord(owner.queue));
        outcome = await this.append(claim);
      }
      if ('refused' in outcome) {
        const again = outcome.refused;
        const detail = gone
          ? ` (the queue of "${again.owner.queue}" no longer exists on the broker: if that endpoint is gone for good, takeOver moves the type at no cost)`
          : '';
        throw new CommandOwnerConflictError(again.type, again.owner.queue, claim.queue, again.type === type ? detail : '');
      }
    }
    for (const { type, from } of outcome.moved) await this.unbind(from, type, claim.queue);
    const mine = this.claimed.get(claim.queue) ?? { service: claim.service, types: new Set<string>() };
    for (const type of claim.types) mine.types.add(type);
    this.claimed.set(claim.queue, mine);
    return { moved: outcome.moved };
  }

  async owners(): Promise<CommandOwner[]> {
    const registry = await this.host.readRegistryAfter(await this.host.adminChannelNow(), Buffer.from('{}'));
    return registry.claims.list();
  }

  /** Appends the claims of this transport's owners again (the daily registry refresh). */
  refresh(channel: amqp.Channel): void {
    for (const [queue, { service, types }] of this.claimed) {
      appendRecord(channel, claimRecord({ claim: randomUUID(), queue, service, types: [...types], takeOver: false, at: Date.now() }));
    }
  }

  /**
   * After a reconnect (the bindings were declared again): removes the bindings of types this
   * transport's queues claimed and another queue has taken over since.
   */
  async enforce(): Promise<void> {
    if (this.claimed.size === 0) return;
    const registry = await this.host.readRegistryAfter(await this.host.adminChannelNow(), Buffer.from('{}'));
    for (const [queue, { types }] of this.claimed) {
      for (const type of [...types]) {
        const owner = registry.claims.ownerOf(type);
        if (owner === undefined || owner.queue === queue) continue;
        types.delete(type);
        this.host.dropTopic(queue, type);
        await this.unbind(queue, type, owner.queue);
        this.host.logger.info(
          `endpoint ${queue} lost ${type} to endpoint ${owner.queue} (takeOver) while disconnected: its bindings of the type were removed again`,
        );
      }
    }
  }

  private async append(claim: CommandClaim): Promise<ClaimOutcome> {
    const id = randomUUID();
    const channel = await this.host.adminChannelNow();
    const record = claimRecord({
      claim: id,
      queue: claim.queue,
      service: claim.service,
      types: [...claim.types],
      takeOver: claim.takeOver === true,
      at: Date.now(),
    });
    // The book keeps the outcome only of the claims it expects.
    const book = this.host.registry.claims;
    book.expect(id);
    let outcome: ClaimOutcome | undefined;
    try {
      await this.host.readRegistryAfter(channel, record);
    } finally {
      outcome = book.outcome(id);
    }
    if (outcome === undefined)
      throw new TransportError(`the claim of ${claim.types.join(', ')} by ${claim.queue} was not found in the registry after its marker`);
    return outcome;
  }

  /** Removes `queue`'s bindings of `type` (it lost the type to `to`). */
  private async unbind(queue: string, type: string, to: string): Promise<void> {
    if (!(await this.host.queueExists(queue))) return;
    const ordered = await this.host.queueExists(partitionQueue(queue, 0));
    const channel = await this.host.newChannel();
    try {
      for (const binding of bindingsOf({ name: queue, topics: [type], ordered })) {
        const ofType = binding.exchange === type || (binding.exchange === RETURN_EXCHANGE && binding.key.startsWith('t.'));
        if (ofType) await channel.unbindQueue(binding.queue, binding.exchange, binding.key);
      }
    } catch (error) {
      throw new TransportError(
        `endpoint ${to} took ${type} over, but the bindings of ${queue} to it could not be removed: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      await channel.close().catch(() => undefined);
    }
  }
}
