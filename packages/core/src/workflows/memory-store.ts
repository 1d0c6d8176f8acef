/**
 * A `MessageStore` in memory, for tests and the memory transport. A commit works on copies and
 * swaps them in only when everything succeeded, so a failed commit leaves no trace. Business
 * writes receive the `Map` the store hands out as its transaction (`tx.data`), which is rolled back
 * with the rest.
 *
 * @example
 * ```ts
 * const store = new MemoryMessageStore();
 * await store.commit({ work: (tx) => tx.data.set('balance', 10) });
 * ```
 * @module
 */
import { ConcurrencyConflictError } from '../errors.js';
import type { Commit, CommitResult, MessageStore, OutboxRecord, SagaListOptions, SagaRecord } from './message-store.js';

/** The transaction business writes see in the memory store: a key-value map of the caller's data. */
export interface MemoryTx {
  readonly data: Map<string, unknown>;
}

/** The memory store. */
export class MemoryMessageStore implements MessageStore<MemoryTx> {
  readonly kind = 'memory';
  /** The caller's business data (what commits' `work` changes). */
  data = new Map<string, unknown>();
  private sagas = new Map<string, SagaRecord>();
  private outbox: OutboxRecord[] = [];
  /** Outbox leases by message id (see `claimOutbox`). */
  private readonly leases = new Map<string, { owner: string; until: number }>();
  private inbox = new Map<string, number>();

  async commit<T>(commit: Commit<MemoryTx, T>): Promise<CommitResult<T>> {
    const inboxKey = commit.inbox === undefined ? undefined : `${commit.inbox.endpoint}\u0000${commit.inbox.messageId}`;
    if (inboxKey !== undefined && this.inbox.has(inboxKey)) return { duplicate: true };
    const data = new Map(this.data);
    const value = commit.work === undefined ? (undefined as T) : commit.work({ data });
    if (value instanceof Promise) throw new TypeError('commit work must be synchronous: do async work before the commit');
    let sagas = this.sagas;
    if (commit.saga !== undefined) {
      const { record, expectedVersion } = commit.saga;
      const key = `${record.saga}\u0000${record.id}`;
      const current = this.sagas.get(key);
      const actual = current?.version ?? 0;
      if (actual !== expectedVersion) {
        throw new ConcurrencyConflictError(
          `saga ${record.saga} instance ${record.id} is at version ${actual}, expected ${expectedVersion}`,
        );
      }
      sagas = new Map(this.sagas);
      sagas.set(key, structuredClone(record));
    }
    const added = typeof commit.outbox === 'function' ? commit.outbox() : (commit.outbox ?? []);
    // Everything succeeded: swap in.
    this.data = data;
    this.sagas = sagas;
    if (added.length > 0) this.outbox = [...this.outbox, ...added];
    for (const record of added) if (record.lease !== undefined) this.leases.set(record.id, { ...record.lease });
    if (inboxKey !== undefined) this.inbox.set(inboxKey, commit.inbox!.at);
    return { duplicate: false, value };
  }

  async loadSaga(saga: string, id: string): Promise<SagaRecord | undefined> {
    const record = this.sagas.get(`${saga}\u0000${id}`);
    return record === undefined ? undefined : structuredClone(record);
  }

  async listSagas(saga: string, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    const all = [...this.sagas.values()].filter((r) => r.saga === saga && (options.status === undefined || r.status === options.status));
    all.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const offset = options.offset ?? 0;
    return all.slice(offset, offset + (options.limit ?? all.length)).map((r) => structuredClone(r));
  }

  async deleteFinishedSagas(saga: string, finishedBefore: number): Promise<number> {
    let deleted = 0;
    for (const [key, record] of this.sagas) {
      if (record.saga === saga && record.status !== 'active' && record.finishedAt !== undefined && record.finishedAt < finishedBefore) {
        this.sagas.delete(key);
        deleted++;
      }
    }
    return deleted;
  }

  async pendingOutbox(limit: number): Promise<OutboxRecord[]> {
    return this.outbox.slice(0, limit);
  }

  async claimOutbox(owner: string, limit: number, now: number, until: number): Promise<OutboxRecord[]> {
    const claimed: OutboxRecord[] = [];
    /** Destinations with an older message leased to another owner. */
    const blocked = new Set<string>();
    for (const record of this.outbox) {
      const lease = this.leases.get(record.id);
      const destination = `${record.destination.kind}:${record.destination.name}`;
      const live = lease !== undefined && lease.until > now;
      const free = !live || lease.owner === owner;
      if (!free) blocked.add(destination);
      if (!free || blocked.has(destination) || claimed.length >= limit) continue;
      if (live) {
        claimed.push(record);
        continue;
      }
      this.leases.set(record.id, { owner, until });
      claimed.push({ ...record, takenFrom: lease === undefined ? null : { ...lease } });
    }
    return claimed;
  }

  async renewOutbox(owner: string, until: number): Promise<void> {
    for (const lease of this.leases.values()) if (lease.owner === owner) lease.until = until;
  }

  async releaseOutbox(owner: string): Promise<void> {
    for (const [id, lease] of this.leases) if (lease.owner === owner) this.leases.delete(id);
  }

  async removeOutbox(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.leases.delete(id);
    const gone = new Set(ids);
    this.outbox = this.outbox.filter((r) => !gone.has(r.id));
  }

  async purgeInbox(before: number): Promise<number> {
    let purged = 0;
    for (const [key, at] of this.inbox) {
      if (at < before) {
        this.inbox.delete(key);
        purged++;
      }
    }
    return purged;
  }

  async processed(endpoint: string, messageId: string): Promise<boolean> {
    return this.inbox.has(`${endpoint}\u0000${messageId}`);
  }

  async close(): Promise<void> {}
}
