/**
 * What the transport declares on the broker: the fixed exchanges, each endpoint's queues (main,
 * dead letters, partitions) with their bindings, and the exchange of every message type, fed to
 * `missive.topics` where a wire tap needs it. Everything declared is remembered and declared again
 * on every new connection (`redeclare`). Names and routing keys: `topology.ts`.
 *
 * A queue that exists with other settings fails its declaration with a `ConfigurationError` naming
 * it (the broker's reply 406), and the queues that declaration had just created are deleted again,
 * so nothing is left half-declared.
 *
 * @example
 * ```ts
 * await declarations.declare({ name: 'billing', topics: ['shop.order-placed'] });
 * await declarations.typeExchange('shop.order-placed'); // before the first publish of the type
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { ConfigurationError, TransportError, type Logger } from '@missive/core';
import { isExactTopic, topicMatcher, type QueueSpec } from '@missive/core/transport';
import { CONTROL_EXCHANGE, PARTITIONS, partitionQueue } from './partitions.js';
import { checkQueues, deleteQueues } from './queue-probe.js';
import { appendRecord, registryRecord, typesRecord } from './queue-registry.js';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.js';
import type { RabbitRegistry } from './rabbitmq-registry.js';
import { ReplyCode, replyCode } from './reply-codes.js';
import {
  DEAD_LETTER_SUFFIX,
  DELAY_EXCHANGE,
  KEYED_EXCHANGE,
  RETURN_EXCHANGE,
  TOPICS_EXCHANGE,
  bindingsOf,
  checkTypeExchange,
  typeExchangesOf,
} from './topology.js';

/** What declaring needs of the live connection. */
export interface DeclarationLink {
  readonly safeUrl: string;
  readonly current: amqp.ChannelModel | undefined;
  adminChannel(): Promise<amqp.Channel>;
  dropAdmin(): void;
}

/** The broker's reply text without its code prefix, for messages. */
function replyText(error: unknown): string {
  const text = (error as Error).message;
  const at = text.indexOf(' - ');
  return at < 0 ? text : text.slice(at + 3).replace(/"$/, '');
}

/** The transport's declarations. */
export class RabbitDeclarations {
  /** The queues this transport declared, by name (topics united over its declarations). */
  readonly declared = new Map<string, QueueSpec>();
  /** Type exchanges known to exist (declared on this connection); their declarations still under way. */
  private readonly typeExchanges = new Set<string>();
  private readonly typeDeclarations = new Map<string, Promise<void>>();

  constructor(
    private readonly link: DeclarationLink,
    private readonly registry: RabbitRegistry,
    private readonly options: ResolvedRabbitMqOptions,
    private readonly logger: Logger,
  ) {}

  /** The type exchanges this transport knows to exist. */
  get types(): ReadonlySet<string> {
    return this.typeExchanges;
  }

  /** The fixed exchanges every transport uses (idempotent). */
  async declareFixed(admin: amqp.Channel): Promise<void> {
    await admin.assertExchange(TOPICS_EXCHANGE, 'topic', { durable: true });
    await admin.assertExchange(DELAY_EXCHANGE, 'headers', { durable: true });
    await admin.assertExchange(RETURN_EXCHANGE, 'topic', { durable: true });
    await admin.assertExchange(KEYED_EXCHANGE, 'topic', { durable: true });
    await admin.assertExchange(CONTROL_EXCHANGE, 'direct', { durable: true });
  }

  /**
   * Declares everything declared so far again, on a new connection. Type exchanges, bindings and
   * registry records are durable: declared again, but not fed to the taps or recorded again (a
   * deleted exchange is declared afresh on its next publish).
   */
  async redeclare(admin: amqp.Channel): Promise<void> {
    for (const spec of this.declared.values()) await this.declareOn(admin, spec, true);
  }

  async declare(spec: QueueSpec): Promise<void> {
    for (const pattern of spec.topics) topicMatcher(pattern);
    const previous = this.declared.get(spec.name);
    const merged: QueueSpec =
      previous === undefined
        ? spec
        : {
            ...spec,
            topics: [...new Set([...previous.topics, ...spec.topics])],
            ordered: previous.ordered === true || spec.ordered === true,
          };
    await this.declareOn(await this.link.adminChannel(), merged);
    this.declared.set(spec.name, merged);
  }

  /** Whether `queue` was declared ordered by this transport: its keyed messages go to partition queues. */
  isOrdered(queue: string): boolean {
    return this.declared.get(queue)?.ordered === true;
  }

  /** Stops declaring `topic` for `queue` (after a reconnect): the queue lost the type. */
  dropTopic(queue: string, topic: string): void {
    const spec = this.declared.get(queue);
    if (spec !== undefined) this.declared.set(queue, { ...spec, topics: spec.topics.filter((t) => t !== topic) });
  }

  /** The type's exchange is gone (deleted, or found missing by a publish): declare it again before the next publish. */
  forgetType(type: string): void {
    this.typeExchanges.delete(type);
  }

  /** Resolves once the type's exchange exists; undefined (nothing to wait for) when it is known to. */
  typeExchange(type: string): Promise<void> | undefined {
    if (this.typeExchanges.has(type)) return undefined;
    let declaring = this.typeDeclarations.get(type);
    if (declaring === undefined) {
      declaring = this.link
        .adminChannel()
        .then((channel) => this.declareTypesOn(channel, [type]))
        .finally(() => this.typeDeclarations.delete(type));
      this.typeDeclarations.set(type, declaring);
    }
    return declaring;
  }

  /** The broker's counts of those of `names` that exist (see `queue-probe.ts`). */
  async checkQueues(names: readonly string[]): Promise<Map<string, amqp.Replies.AssertQueue>> {
    // Straight from the connection: this also runs during the setup of a connection, before the publisher is back.
    const connection = this.link.current;
    if (connection === undefined) throw new TransportError('rabbitmq connection lost while checking queues');
    return checkQueues(connection, names);
  }

  /**
   * Declares a queue with everything it needs: the exchanges of its types first, then its queues
   * (main, dead letters, partitions), then its bindings, then (the first time) its registry record.
   */
  private async declareOn(channel: amqp.Channel, spec: QueueSpec, again = false): Promise<void> {
    const temporary = spec.temporary === true;
    const ordered = !temporary && spec.ordered === true;
    const bound = { name: spec.name, topics: spec.topics, ordered };
    if (again) for (const type of typeExchangesOf(bound)) await channel.assertExchange(type, 'topic', { durable: true });
    else await this.declareTypesOn(channel, typeExchangesOf(bound));
    const args = { 'x-queue-type': this.options.queueType };
    const queues: [string, amqp.Options.AssertQueue][] = temporary
      ? [[spec.name, { exclusive: true, autoDelete: true, durable: false }]]
      : [
          [spec.name, { durable: true, arguments: args }],
          [spec.name + DEAD_LETTER_SUFFIX, { durable: true, arguments: args }],
          ...Array.from({ length: ordered ? PARTITIONS : 0 }, (_, i): [string, amqp.Options.AssertQueue] => [
            partitionQueue(spec.name, i),
            { durable: true, arguments: { ...args, 'x-single-active-consumer': true } },
          ]),
        ];
    const existed = temporary ? undefined : await this.checkQueues(queues.map(([name]) => name));
    for (const [name, options] of queues) {
      try {
        await channel.assertQueue(name, options);
      } catch (error) {
        this.link.dropAdmin();
        const created = existed === undefined ? [] : queues.map(([n]) => n).filter((n) => !existed.has(n));
        const connection = this.link.current;
        if (created.length > 0 && connection !== undefined) {
          await deleteQueues(connection, created).catch((cleanup: unknown) =>
            this.logger.warn({ err: cleanup }, `could not delete the queues of a failed declaration (${created.join(', ')})`),
          );
        }
        if (replyCode(error) === ReplyCode.PreconditionFailed) {
          throw new ConfigurationError(
            `queue "${name}" already exists on ${this.link.safeUrl} with different settings: ${replyText(error)}. Delete it, or declare it the same way (queueType=${this.options.queueType})`,
            { cause: error },
          );
        }
        throw new TransportError(`cannot declare queue "${name}": ${(error as Error).message}`, { cause: error });
      }
    }
    for (const { queue, exchange, key } of bindingsOf(bound)) await channel.bindQueue(queue, exchange, key);
    if (!temporary && !again) await this.recordQueueOn(channel, spec);
  }

  /**
   * Records a queue in the registry. A tap (a queue with patterns) then takes its side of
   * `declareTypesOn`: it reads up to a marker after its record and binds every recorded type its
   * patterns match.
   */
  private async recordQueueOn(channel: amqp.Channel, spec: QueueSpec): Promise<void> {
    if (!this.registry.available) return;
    const patterns = spec.topics.filter((t) => !isExactTopic(t));
    if (patterns.length === 0) {
      appendRecord(channel, registryRecord(spec));
      return;
    }
    const matchers = patterns.map(topicMatcher);
    const { types } = await this.registry.readAfter(channel, registryRecord(spec));
    for (const type of types) {
      if (!matchers.some((matches) => matches(type))) continue;
      await channel.assertExchange(type, 'topic', { durable: true });
      await channel.bindExchange(TOPICS_EXCHANGE, type, '#');
    }
  }

  /**
   * Declares the exchanges of `types` and feeds each to `missive.topics` where a wire tap needs it.
   *
   * Feeding every type's exchange to `missive.topics` would cost the broker a second exchange on
   * every message; only types that a tap's pattern matches need it. Which those are is settled
   * through the registry without a race: this transport appends a record of the types, then reads
   * the registry up to a marker of its own and binds those types that a tap recorded before the
   * marker matches; a tap appends its record, then reads up to its marker and binds the types
   * recorded before that (`recordQueueOn`). Of two such records, whichever came second in the
   * stream is seen by the other side's read, so every (tap, type) pair is bound by one of them.
   * Without a registry (streams disabled), every type's exchange feeds `missive.topics`.
   */
  private async declareTypesOn(channel: amqp.Channel, types: readonly string[]): Promise<void> {
    if (types.length === 0) return;
    for (const type of types) checkTypeExchange(type);
    for (const type of types) {
      try {
        await channel.assertExchange(type, 'topic', { durable: true });
      } catch (error) {
        this.link.dropAdmin();
        if (replyCode(error) === ReplyCode.PreconditionFailed) {
          throw new ConfigurationError(
            `exchange "${type}" already exists on ${this.link.safeUrl} with different settings: ${replyText(error)}. Missive needs a durable topic exchange there; delete it`,
            { cause: error },
          );
        }
        throw new TransportError(`cannot declare the exchange of type "${type}": ${(error as Error).message}`, { cause: error });
      }
    }
    try {
      if (this.registry.available) {
        const { queues } = await this.registry.readAfter(channel, typesRecord(types));
        const taps = [...queues.values()].flatMap((q) => q.topics.filter((t) => !isExactTopic(t))).map(topicMatcher);
        for (const type of types) if (taps.some((matches) => matches(type))) await channel.bindExchange(TOPICS_EXCHANGE, type, '#');
      } else {
        for (const type of types) await channel.bindExchange(TOPICS_EXCHANGE, type, '#');
      }
    } catch (error) {
      this.link.dropAdmin();
      throw new TransportError(`cannot connect the exchanges of ${types.join(', ')} to the wire taps: ${(error as Error).message}`, {
        cause: error,
      });
    }
    for (const type of types) this.typeExchanges.add(type);
  }
}
