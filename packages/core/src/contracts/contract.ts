/**
 * Message contracts: a message type as a value, with its schema. Payload, handler and reply
 * types are inferred from the schema (any Standard Schema: zod, valibot, arktype).
 *
 * A contract has a version. Publishers stamp it on every message; a consumer on a newer version
 * runs the contract's upcasters, oldest first, to turn an older payload into the current shape
 * before validating it.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), total: z.number() }), {
 *   version: 2,
 *   upcast: { 1: (v1: { orderId: string; amount: number }) => ({ orderId: v1.orderId, total: v1.amount }) },
 *   partitionKey: (event) => event.orderId,
 * });
 * ```
 * @module
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ConfigurationError } from '../errors.js';

/** The kinds of contract. */
export type ContractKind = 'event' | 'command' | 'query';

/** Turns a payload of one version into the shape of the next. */
export type Upcaster = (previous: never) => unknown;

/** Options shared by every contract. */
export interface ContractOptions<Output> {
  /** The current version, a positive integer. Default 1. */
  readonly version?: number;
  /**
   * Upcasters keyed by the version they convert from: `{ 1: v1 => v2, 2: v2 => v3 }`. The chain
   * must reach the current version without gaps; messages older than its first key are refused.
   */
  readonly upcast?: Readonly<Record<number, Upcaster>>;
  /** Derives the ordering key of a message from its payload. */
  readonly partitionKey?: (payload: Output) => string;
  /** A human description, shown by the CLI and dashboard. */
  readonly description?: string;
}

/** What every contract has. */
export interface MessageContract<
  Kind extends ContractKind = ContractKind,
  Name extends string = string,
  Schema extends StandardSchemaV1 = StandardSchemaV1,
> {
  readonly kind: Kind;
  /** The message type on the wire. */
  readonly name: Name;
  readonly schema: Schema;
  readonly version: number;
  /** The oldest version this contract can read. */
  readonly oldestVersion: number;
  readonly upcasters: ReadonlyMap<number, (previous: unknown) => unknown>;
  /** Derives the ordering key (method syntax keeps contracts assignable to their general types). */
  partitionKey?(payload: StandardSchemaV1.InferOutput<Schema>): string;
  readonly description?: string | undefined;
}

/** An event: published to a topic, every subscribed endpoint gets a copy. */
export type EventContract<Name extends string = string, Schema extends StandardSchemaV1 = StandardSchemaV1> = MessageContract<
  'event',
  Name,
  Schema
>;

/** A command: sent to the one endpoint that handles it; its instances compete. */
export type CommandContract<Name extends string = string, Schema extends StandardSchemaV1 = StandardSchemaV1> = MessageContract<
  'command',
  Name,
  Schema
>;

/** A query: sent like a command, answered with a reply of `ReplySchema`. */
export interface QueryContract<
  Name extends string = string,
  Schema extends StandardSchemaV1 = StandardSchemaV1,
  ReplySchema extends StandardSchemaV1 = StandardSchemaV1,
> extends MessageContract<'query', Name, Schema> {
  readonly reply: ReplySchema;
}

/** Any contract. */
export type AnyContract = EventContract | CommandContract | QueryContract;

/** The payload type a publisher passes (the schema's input). */
export type PayloadInput<C extends MessageContract> = StandardSchemaV1.InferInput<C['schema']>;
/** The payload type a handler receives (the schema's output). */
export type Payload<C extends MessageContract> = StandardSchemaV1.InferOutput<C['schema']>;
/** The reply type a responder returns (the reply schema's input). */
export type ReplyInput<Q extends QueryContract> = StandardSchemaV1.InferInput<Q['reply']>;
/** The reply type a requester receives (the reply schema's output). */
export type Reply<Q extends QueryContract> = StandardSchemaV1.InferOutput<Q['reply']>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$/;

function build<Kind extends ContractKind, Name extends string, Schema extends StandardSchemaV1>(
  kind: Kind,
  name: Name,
  schema: Schema,
  options: ContractOptions<StandardSchemaV1.InferOutput<Schema>>,
): MessageContract<Kind, Name, Schema> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigurationError(
      `contract name ${JSON.stringify(name)} is not valid: use dot-separated words of letters, digits, "-" and "_" (e.g. "shop.order-placed")`,
    );
  }
  if (typeof schema !== 'object' || schema === null || !('~standard' in schema)) {
    throw new ConfigurationError(`contract ${name}: the schema is not a Standard Schema (zod, valibot, arktype ...)`);
  }
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigurationError(`contract ${name}: version must be a positive integer, got ${String(options.version)}`);
  }
  const upcasters = new Map<number, (previous: unknown) => unknown>();
  let oldestVersion = version;
  if (options.upcast !== undefined) {
    const froms = Object.keys(options.upcast)
      .map(Number)
      .sort((a, b) => a - b);
    for (const from of froms) {
      if (!Number.isInteger(from) || from < 1 || from >= version) {
        throw new ConfigurationError(`contract ${name}: upcaster key ${from} must be a version below the current version ${version}`);
      }
    }
    if (froms.length > 0) {
      oldestVersion = froms[0]!;
      for (let v = oldestVersion; v < version; v++) {
        const fn = options.upcast[v];
        if (typeof fn !== 'function') {
          throw new ConfigurationError(`contract ${name}: no upcaster from version ${v} to ${v + 1}; the chain must have no gaps`);
        }
        upcasters.set(v, fn as (previous: unknown) => unknown);
      }
    }
  }
  return Object.freeze({
    kind,
    name,
    schema,
    version,
    oldestVersion,
    upcasters,
    partitionKey: options.partitionKey,
    description: options.description,
  });
}

/**
 * Defines an event.
 * @example
 * ```ts
 * const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
 * ```
 */
export function defineEvent<const Name extends string, Schema extends StandardSchemaV1>(
  name: Name,
  schema: Schema,
  options: ContractOptions<StandardSchemaV1.InferOutput<Schema>> = {},
): EventContract<Name, Schema> {
  return build('event', name, schema, options);
}

/**
 * Defines a command.
 * @example
 * ```ts
 * const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), amount: z.number() }));
 * ```
 */
export function defineCommand<const Name extends string, Schema extends StandardSchemaV1>(
  name: Name,
  schema: Schema,
  options: ContractOptions<StandardSchemaV1.InferOutput<Schema>> = {},
): CommandContract<Name, Schema> {
  return build('command', name, schema, options);
}

/**
 * Defines a query and the shape of its reply.
 * @example
 * ```ts
 * const GetStock = defineQuery('inventory.get-stock', z.object({ sku: z.string() }), z.object({ available: z.number() }));
 * ```
 */
export function defineQuery<const Name extends string, Schema extends StandardSchemaV1, ReplySchema extends StandardSchemaV1>(
  name: Name,
  schema: Schema,
  reply: ReplySchema,
  options: ContractOptions<StandardSchemaV1.InferOutput<Schema>> = {},
): QueryContract<Name, Schema, ReplySchema> {
  if (typeof reply !== 'object' || reply === null || !('~standard' in reply)) {
    throw new ConfigurationError(`query ${name}: the reply schema is not a Standard Schema`);
  }
  return Object.freeze({ ...build('query', name, schema, options), reply });
}

/** The topic a contract's messages are published to, and the reply type of a query. */
export function replyTypeOf(query: QueryContract | string): string {
  return `${typeof query === 'string' ? query : query.name}.reply`;
}
