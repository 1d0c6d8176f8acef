/**
 * What a bus announces about itself to the catalog, and the two catalog contracts: the
 * announcement (on start, by heartbeat, on stop) and the ping that asks every bus to announce at
 * once. They travel as ordinary Missive events on reserved topics (`missive-catalog.*`: not
 * `missive.`, which RabbitMQ's topology keeps for its own exchanges), so the catalog works on every
 * transport.
 *
 * @example
 * ```ts
 * const announcement = announcementOf(bus.describe(), { state: 'started', version: '1.2.0', intervalMs: 10_000, at: Date.now() });
 * ```
 * @module
 */
import type { AnyContract, BusDescription, HealthReport } from '@missive/core';

/** The topic of announcements. */
export const ANNOUNCED = 'missive-catalog.announced';
/** The topic of pings: every announcer answers with an announcement. */
export const PING = 'missive-catalog.ping';

/** A contract as the catalog shows it. */
export interface ContractInfo {
  readonly name: string;
  readonly kind: 'event' | 'command' | 'query';
  readonly version: number;
  readonly description?: string | undefined;
  /** The payload's JSON Schema, where the schema library gives one (Standard JSON Schema: zod 4, ...). */
  readonly schema?: unknown;
  /** A query's reply schema. */
  readonly replySchema?: unknown;
}

/** One bus instance's announcement. */
export interface Announcement {
  readonly service: string;
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string | undefined;
  readonly state: 'started' | 'heartbeat' | 'stopped';
  /** The heartbeat interval, ms: the catalog counts an instance stale after missing three. */
  readonly intervalMs: number;
  /** When it was sent, epoch ms. */
  readonly at: number;
  readonly startedAt: number;
  readonly endpoints: readonly { readonly name: string; readonly topics: readonly string[]; readonly handles: readonly ContractInfo[] }[];
  readonly sends: readonly ContractInfo[];
  /**
   * The bus's health when it announced (`Bus.health()`): ready, or why not (a transport not
   * connected, an endpoint whose consumer stopped or is not ready). The bus's lifecycle is in
   * `state`, not here: the first announcement is sent as the bus's last start step. Absent in a
   * `stopped` announcement, and from announcers older than this field.
   */
  readonly health?: { readonly ready: boolean; readonly reasons: readonly string[] } | undefined;
}

interface StandardJsonSchema {
  readonly '~standard'?: { readonly jsonSchema?: { readonly input?: (options: { readonly target: string }) => unknown } };
}

/** The JSON Schema of a Standard Schema that exposes one (draft-07, which AsyncAPI uses), else undefined. */
export function jsonSchemaOf(schema: unknown): unknown {
  const convert = (schema as StandardJsonSchema | undefined)?.['~standard']?.jsonSchema?.input;
  if (typeof convert !== 'function') return undefined;
  for (const target of ['draft-07', 'draft-2020-12']) {
    try {
      return convert({ target });
    } catch {
      // the library cannot write this draft (or this schema); try the next, or give none
    }
  }
  return undefined;
}

/** How the catalog shows a contract. */
export function contractInfo(contract: AnyContract): ContractInfo {
  const info: { -readonly [K in keyof ContractInfo]: ContractInfo[K] } = {
    name: contract.name,
    kind: contract.kind,
    version: contract.version,
  };
  if (contract.description !== undefined) info.description = contract.description;
  const schema = jsonSchemaOf(contract.schema);
  if (schema !== undefined) info.schema = schema;
  if (contract.kind === 'query') {
    const reply = jsonSchemaOf(contract.reply);
    if (reply !== undefined) info.replySchema = reply;
  }
  return info;
}

/** The announcement of a bus. */
export function announcementOf(
  description: BusDescription,
  options: {
    readonly state: Announcement['state'];
    readonly version: string | undefined;
    readonly intervalMs: number;
    readonly at: number;
    readonly startedAt: number;
    /** The bus's health report, if any. */
    readonly health?: HealthReport | undefined;
  },
): Announcement {
  // The lifecycle reason ("bus is starting") is what `state` says already.
  const reasons = options.health?.reasons.filter((reason) => reason !== `bus is ${options.health!.state}`);
  return {
    service: description.service,
    instance: description.instanceId,
    host: description.host,
    pid: process.pid,
    version: options.version,
    state: options.state,
    intervalMs: options.intervalMs,
    at: options.at,
    startedAt: options.startedAt,
    endpoints: description.endpoints.map((e) => ({ name: e.name, topics: e.topics, handles: e.handles.map(contractInfo) })),
    sends: description.sends.filter((c) => !c.name.startsWith('missive-catalog.')).map(contractInfo),
    health: reasons === undefined || options.state === 'stopped' ? undefined : { ready: reasons.length === 0, reasons },
  };
}
