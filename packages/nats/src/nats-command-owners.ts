/**
 * Command owners on NATS (the `CommandOwnership` ability of `@missive/core`): a JetStream
 * key-value bucket, `<PREFIX>_OWNERS` (stream `KV_<PREFIX>_OWNERS`, one value per key, file
 * storage, the transport's replicas), maps each command (or query) type to the queue that owns it.
 * The key is the type in base64url (KV keys allow fewer characters than message types); the value
 * is the owner record as JSON.
 *
 * - **Claim.** A type nobody owns is written with a create-only put (`Nats-Expected-Last-Subject-Sequence: 0`):
 *   of two processes claiming it at the same instant the server stores exactly one, and the other's
 *   put fails with "wrong last sequence"; it reads the winner and is refused with
 *   `CommandOwnerConflictError`. A claim of several types that loses one of them deletes the keys it
 *   created (each delete checked against the revision it wrote, so a newer claim stays): all or nothing.
 * - **Take-over.** A revision-checked update (the owner read, then replaced only if nobody changed
 *   it meanwhile; else read again). The previous owner's lanes of the type are then moved aside
 *   (see `handover.ts`): it receives no further message of the type, and what it held stays in its queue.
 * - **Release.** `deleteQueue` deletes the keys the queue owns (revision-checked).
 *
 * The bucket is made on the first claim or listing; a transport that never sees a command never makes it.
 *
 * @example
 * ```ts
 * const owners = new NatsCommandOwners(host);
 * await owners.claim({ queue: 'payment', service: 'pay', types: ['shop.charge-card'] });
 * ```
 * @module
 */
import type { KV } from 'nats';
import { CommandOwnerConflictError, TransportError, type CommandOwner } from '@missive/core';
import type { CommandClaim, CommandClaimResult, CommandOwnership } from '@missive/core/transport';
import { apiCode, ApiError } from './api-errors.js';
import { KvBucket, type BucketHost } from './kv-bucket.js';

/** How often a claim reads again after losing a race to another writer before giving up. */
const MAX_RACES = 20;

/** What the owners need of the transport. */
export interface OwnersHost extends BucketHost {
  /** Moves `from`'s lanes of `type` aside after `to` took the type over. */
  unbind(from: string, type: string, to: string): Promise<void>;
}

interface Recorded {
  readonly owner: CommandOwner;
  readonly revision: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The KV key of a message type. */
export function ownerKey(type: string): string {
  return Buffer.from(type, 'utf8').toString('base64url');
}

/** The command owners of one prefix, in a KV bucket. */
export class NatsCommandOwners implements CommandOwnership {
  private readonly bucket: KvBucket;

  constructor(
    private readonly host: OwnersHost,
    /** The bucket's name (`<PREFIX>_OWNERS` unless configured). */
    readonly bucketName: string,
  ) {
    this.bucket = new KvBucket(host, bucketName, { what: 'command owners' });
  }

  async claim(claim: CommandClaim): Promise<CommandClaimResult> {
    const kv = await this.kv();
    if (claim.takeOver !== true) {
      // Refuse before writing anything when an owner is already known.
      for (const type of claim.types) {
        const current = await this.read(kv, type);
        if (current !== undefined && current.owner.queue !== claim.queue)
          throw new CommandOwnerConflictError(type, current.owner.queue, claim.queue);
      }
    }
    const created: { type: string; revision: number }[] = [];
    const moved: { type: string; from: string }[] = [];
    try {
      for (const type of claim.types) {
        const outcome = await this.claimOne(kv, type, claim);
        if (outcome === undefined) continue;
        if (outcome.from === undefined) created.push({ type, revision: outcome.revision });
        else moved.push({ type, from: outcome.from });
      }
    } catch (error) {
      for (const { type, revision } of created) await kv.delete(ownerKey(type), { previousSeq: revision }).catch(() => undefined);
      throw error;
    }
    for (const { type, from } of moved) await this.host.unbind(from, type, claim.queue);
    return { moved };
  }

  async owners(): Promise<CommandOwner[]> {
    const kv = await this.kv();
    const owners: CommandOwner[] = [];
    for (const key of await this.keys(kv)) {
      const entry = await this.readKey(kv, key);
      if (entry !== undefined) owners.push(entry.owner);
    }
    return owners.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  /** Deletes the claims of a deleted queue (nothing when the bucket was never made). */
  async release(queue: string): Promise<void> {
    if (!(await this.exists())) return;
    const kv = await this.kv();
    for (const key of await this.keys(kv)) {
      const entry = await this.readKey(kv, key);
      if (entry?.owner.queue !== queue) continue;
      await kv.delete(key, { previousSeq: entry.revision }).catch((error: unknown) => {
        if (apiCode(error) !== ApiError.WrongLastSequence) throw error; // claimed by another queue meanwhile: theirs now
      });
    }
  }

  /**
   * Makes `claim.queue` the owner of `type`: resolves with the revision written and the previous
   * owner (undefined: nobody owned it), or undefined when the queue owns it already.
   */
  private async claimOne(kv: KV, type: string, claim: CommandClaim): Promise<{ revision: number; from: string | undefined } | undefined> {
    const key = ownerKey(type);
    for (let race = 0; race < MAX_RACES; race++) {
      const current = await this.read(kv, type);
      if (current?.owner.queue === claim.queue) return undefined;
      if (current !== undefined && claim.takeOver !== true) throw new CommandOwnerConflictError(type, current.owner.queue, claim.queue);
      const value = encoder.encode(
        JSON.stringify({ type, queue: claim.queue, service: claim.service, since: Date.now() } satisfies CommandOwner),
      );
      try {
        const revision = current === undefined ? await kv.create(key, value) : await kv.update(key, value, current.revision);
        return { revision, from: current?.owner.queue };
      } catch (error) {
        if (apiCode(error) !== ApiError.WrongLastSequence)
          throw new TransportError(`the claim of ${type} by ${claim.queue} could not be written: ${(error as Error).message}`, {
            cause: error,
          });
        // Another writer got there first: read what it wrote and decide again.
      }
    }
    throw new TransportError(`the claim of ${type} by ${claim.queue} lost ${MAX_RACES} races in a row to other writers`);
  }

  private read(kv: KV, type: string): Promise<Recorded | undefined> {
    return this.readKey(kv, ownerKey(type));
  }

  private async readKey(kv: KV, key: string): Promise<Recorded | undefined> {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    try {
      return { owner: JSON.parse(decoder.decode(entry.value)) as CommandOwner, revision: entry.revision };
    } catch {
      return undefined; // not one of Missive's records
    }
  }

  private async keys(kv: KV): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    return keys;
  }

  private exists(): Promise<boolean> {
    return this.bucket.exists();
  }

  private kv(): Promise<KV> {
    return this.bucket.open();
  }
}
