/**
 * One owner per command type. An event fans out to every endpoint subscribed to it; a command (and
 * a query, which is a command with a reply) belongs to exactly one endpoint, whose instances
 * compete for it. Two endpoints that both handle a command type would each get every command of
 * that type, so the bus refuses the second one:
 *
 * - **in one process**, `bus.start` refuses two endpoints of the bus that handle the same command
 *   or query type, before anything is declared;
 * - **across processes**, a transport with the {@link CommandOwnership} ability records which
 *   endpoint (queue) owns each type, and an endpoint that claims a type another endpoint owns is
 *   refused at `bus.start` with a {@link CommandOwnerConflictError} naming both.
 *
 * Instances of one endpoint (the same queue name) are competing consumers, not a second owner:
 * their claims are the same claim. Wire taps (`e.tap`) take copies and own nothing.
 *
 * Moving a type to another endpoint is deliberate: the new endpoint's option `takeOver: true`
 * makes it the owner and unbinds the previous owner from the type (its queue and waiting messages
 * stay, for the operator to drain or delete).
 *
 * @example
 * ```ts
 * bus.endpoint('billing', (e) => e.on(ChargeCard, charge), { takeOver: true }); // ChargeCard moves here from 'payment'
 * const owners = await transport.commandOwners?.owners(); // [{ type: 'payment.charge-card', queue: 'billing', ... }]
 * ```
 * @module
 */
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The recorded owner of one command (or query) type. */
export interface CommandOwner {
  /** The message type. */
  readonly type: string;
  /** The owning endpoint's queue. */
  readonly queue: string;
  /** The service whose bus made the claim (for operators; ownership is by queue). */
  readonly service: string;
  /** Epoch ms of the claim that made `queue` the owner. */
  readonly since: number;
}

/** A claim of command types by one endpoint. */
export interface CommandClaim {
  /** The claiming endpoint's queue. */
  readonly queue: string;
  readonly service: string;
  /** The command and query types the endpoint handles. */
  readonly types: readonly string[];
  /** Take the types from their current owners instead of being refused (a deliberate move). */
  readonly takeOver?: boolean;
}

/** What a successful claim changed. */
export interface CommandClaimResult {
  /** Types taken from another endpoint (only with `takeOver`). */
  readonly moved: readonly { readonly type: string; readonly from: string }[];
}

/**
 * An optional transport ability: the broker-wide record of which queue owns each command type.
 * A transport that has it exposes it as `transport.commandOwners`; the bus calls {@link claim}
 * for every endpoint that handles commands or queries, **before** it declares the endpoint's queue.
 *
 * Contract:
 * - `claim` is all or nothing. If any of the types is owned by another queue and `takeOver` is not
 *   set, it rejects with {@link CommandOwnerConflictError} (naming the type, the owner and the
 *   claimant) and records nothing. A type nobody owns, or that `claim.queue` already owns, is
 *   recorded (again) for `claim.queue`; claiming is idempotent, so the instances of one endpoint
 *   all succeed.
 * - Two claims of one type by different queues that race (two processes starting at the same
 *   instant) never both succeed: exactly one of them becomes the owner and the other is refused.
 *   A transport that cannot promise that does not implement this interface.
 * - With `takeOver`, `claim.queue` becomes the owner of every type, and each previous owner's
 *   binding of that type is removed before `claim` resolves, so the previous owner receives no
 *   further messages of it; its queue and the messages already in it stay. A transport that can
 *   also bind the claimant's queue to the type in the same step does so (memory, SQLite,
 *   PostgreSQL); one that cannot (RabbitMQ: it does not know yet how the queue is declared) leaves a moment, until the
 *   claimant's queue is declared right after `claim`, in which a message of the type reaches no
 *   queue and its sender gets `UnroutableError`: nothing is received twice.
 * - Claims outlive the process: they belong to the queue. `deleteQueue(name)` removes the claims of
 *   `name`.
 * - `owners` lists every recorded owner, ordered by type.
 *
 * Where the record lives: memory (the broker object, shared by the buses of one process), SQLite
 * (a table, claims in a transaction), PostgreSQL (a table whose primary key is the type, each claim
 * one statement), RabbitMQ (claim records in the `missive.registry` stream: stream order decides a
 * race), NATS (a JetStream key-value bucket: a create-only put fails when the key exists), Redis
 * (one hash per key prefix, each claim one Lua script: Redis runs one script at a time).
 */
export interface CommandOwnership {
  /** Records `claim.queue` as the owner of `claim.types`, or refuses (see the interface's contract). */
  claim(claim: CommandClaim): Promise<CommandClaimResult>;
  /** Every recorded owner, ordered by type. */
  owners(): Promise<CommandOwner[]>;
}

/**
 * An endpoint handles a command or query type that another endpoint owns. A `ConfigurationError`:
 * raised at `bus.start`, never per message.
 */
export class CommandOwnerConflictError extends ConfigurationError {
  override name = 'CommandOwnerConflictError';
  readonly messageType: string;
  /** The endpoint that owns the type. */
  readonly owner: string;
  /** The endpoint that was refused. */
  readonly claimant: string;
  constructor(messageType: string, owner: string, claimant: string, detail = '') {
    super(
      `endpoint "${claimant}" handles ${messageType}, which endpoint "${owner}" already owns: a command is handled by one endpoint. ` +
        `Remove the handler from one of them, or move the type deliberately with the endpoint option { takeOver: true } on "${claimant}" ` +
        `(then "${owner}" stops receiving it)${detail}`,
    );
    this.messageType = messageType;
    this.owner = owner;
    this.claimant = claimant;
  }
}

/** What {@link checkOwnersInProcess} needs of an endpoint definition. */
export interface OwningEndpoint {
  readonly name: string;
  /** The command and query types the endpoint handles. */
  readonly commands: readonly string[];
}

/**
 * Refuses two endpoints of one bus that handle the same command or query type.
 *
 * @throws CommandOwnerConflictError naming the type and both endpoints.
 */
export function checkOwnersInProcess(endpoints: readonly OwningEndpoint[]): void {
  const owners = new Map<string, string>();
  for (const endpoint of endpoints) {
    for (const type of endpoint.commands) {
      const owner = owners.get(type);
      if (owner !== undefined && owner !== endpoint.name)
        throw new CommandOwnerConflictError(type, owner, endpoint.name, ' (both are endpoints of this bus)');
      owners.set(type, endpoint.name);
    }
  }
}

/**
 * Claims an endpoint's command types on the transport, if it can record owners; logs what a
 * take-over moved. Resolves with whether the transport checked (false: it cannot).
 */
export async function claimCommands(ownership: CommandOwnership | undefined, claim: CommandClaim, logger: Logger): Promise<boolean> {
  if (claim.types.length === 0) return true;
  if (ownership === undefined) return false;
  const { moved } = await ownership.claim(claim);
  for (const { type, from } of moved) {
    logger.warn(
      `endpoint ${claim.queue} took ${type} over from endpoint ${from} (takeOver): ${from} no longer receives it; drain or delete its queue`,
    );
  }
  return true;
}
