/**
 * The live catalog, as a dashboard or `missive services` sees it: listens to announcements on a
 * temporary queue, pings every bus on start so each answers at once, and keeps the latest
 * announcement of each instance. An instance that missed three heartbeats is `stale`; one that
 * announced its stop leaves the catalog.
 *
 * @example
 * ```ts
 * const catalog = await watchCatalog(transport);
 * await catalog.until((c) => c.instances().length > 0);
 * console.log(catalog.contracts()); // who sends and who handles each contract
 * await catalog.close();
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createEnvelope, jsonCodec, type Transport } from '@missive/core';
import type { Consumer } from '@missive/core/transport';
import { ANNOUNCED, PING, type Announcement, type ContractInfo } from './announcement.js';
import { announcementFrom } from './announcement-check.js';
import { declareListenerQueue } from './listener-queue.js';

/** An instance in the catalog. */
export interface CatalogInstance extends Announcement {
  /** When the catalog last heard from it, epoch ms. */
  readonly lastSeen: number;
  readonly status: 'live' | 'stale';
}

/** A contract with who sends it and who handles it. */
export interface CatalogContract extends ContractInfo {
  /** Services that sent it. */
  readonly sentBy: readonly string[];
  /** `service/endpoint` of each handler. */
  readonly handledBy: readonly string[];
}

/** Missed heartbeats after which an instance is stale. */
export const STALE_AFTER_HEARTBEATS = 3;

/** The catalog's view of the bus. */
export class Catalog {
  private readonly latest = new Map<string, { announcement: Announcement; lastSeen: number }>();
  private readonly waiters = new Set<() => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes an announcement in. */
  receive(announcement: Announcement): void {
    const key = `${announcement.service}/${announcement.instance}`;
    if (announcement.state === 'stopped') this.latest.delete(key);
    else this.latest.set(key, { announcement, lastSeen: this.now() });
    for (const wake of this.waiters) wake();
  }

  /** Every instance, live first, then by service. */
  instances(): CatalogInstance[] {
    const now = this.now();
    return [...this.latest.values()]
      .map(({ announcement, lastSeen }) => ({
        ...announcement,
        lastSeen,
        status: now - lastSeen > STALE_AFTER_HEARTBEATS * announcement.intervalMs ? ('stale' as const) : ('live' as const),
      }))
      .sort((a, b) =>
        a.status === b.status ? a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance) : a.status === 'live' ? -1 : 1,
      );
  }

  /** Every contract any live instance sends or handles, with who does which. */
  contracts(service?: string): CatalogContract[] {
    const byName = new Map<string, { info: ContractInfo; sentBy: Set<string>; handledBy: Set<string> }>();
    const entry = (info: ContractInfo) => {
      let found = byName.get(info.name);
      if (found === undefined) byName.set(info.name, (found = { info, sentBy: new Set(), handledBy: new Set() }));
      else if (found.info.schema === undefined && info.schema !== undefined) found.info = info;
      return found;
    };
    for (const instance of this.instances()) {
      if (instance.status !== 'live' || (service !== undefined && instance.service !== service)) continue;
      for (const endpoint of instance.endpoints)
        for (const c of endpoint.handles) entry(c).handledBy.add(`${instance.service}/${endpoint.name}`);
      for (const c of instance.sends) entry(c).sentBy.add(instance.service);
    }
    return [...byName.values()]
      .map(({ info, sentBy, handledBy }) => ({ ...info, sentBy: [...sentBy].sort(), handledBy: [...handledBy].sort() }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Resolves when `condition` holds (checked now and after each announcement), or rejects after `timeoutMs`. */
  until(condition: (catalog: Catalog) => boolean, timeoutMs = 10_000): Promise<void> {
    if (condition(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`the catalog did not reach the expected state within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (!condition(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }
}

/** A catalog fed from a transport's announcements; `close` deletes its queue. */
export class WatchedCatalog extends Catalog {
  private readonly codec = jsonCodec();
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private readonly queue = `missive-catalog-${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly transport: Transport,
    now?: () => number,
  ) {
    super(now);
  }

  /** Declares the catalog's queue and starts listening. */
  async open(): Promise<void> {
    await declareListenerQueue(this.transport, this.queue, [ANNOUNCED]);
    const consumer = (this.consumer = this.transport.consume(this.queue, { prefetch: 64 }));
    this.loop = (async () => {
      for await (const delivery of consumer) {
        try {
          // Anyone who can publish can put anything here: only an announcement's shape is taken in.
          const announcement = announcementFrom(this.codec.decode(delivery.message.body).data);
          if (announcement !== undefined) this.receive(announcement);
        } catch {
          // not an envelope: skip it
        }
        await delivery.ack();
      }
    })().catch(() => undefined);
    await consumer.ready;
  }

  /** Asks every bus to announce now. */
  async ping(): Promise<void> {
    const envelope = createEnvelope({ type: PING, source: '/missive/catalog', data: {}, kind: 'event' });
    await this.transport.publish(PING, { id: envelope.id, type: PING, body: this.codec.encode(envelope), headers: {} });
  }

  async close(): Promise<void> {
    await this.consumer?.close();
    await this.loop;
    await this.transport.deleteQueue(this.queue).catch(() => undefined);
  }
}

/** Watches the announcements on `transport` (connected), and pings every bus once. */
export async function watchCatalog(transport: Transport, options: { readonly now?: () => number } = {}): Promise<WatchedCatalog> {
  const catalog = new WatchedCatalog(transport, options.now);
  await catalog.open();
  await catalog.ping();
  return catalog;
}
