/**
 * A consumer of one queue on a SQLite connection, and its deliveries. The connection's pump fills
 * the consumer up to its prefetch; the iterator yields in fetch order; settling frees a slot and
 * wakes the pump. Each delivery carries the lease token it was fetched with: settling with a lost
 * lease is a logged no-op, never a settle of another process's copy.
 *
 * @example
 * ```ts
 * const consumer = transport.consume('billing', { prefetch: 10 });
 * for await (const delivery of consumer) await delivery.ack();
 * ```
 * @module
 */
import { DeliveryBuffer, type Consumer, type DeadLetterFailure, type Delivery, type TransportMessage } from '@missive/core';
import type { SqliteTransport } from './sqlite-transport.js';

/** A leased row as the pump fetched it. */
export interface FetchedRow {
  seq: number;
  id: string;
  type: string;
  body: Buffer;
  headers: string;
  partition_key: string | null;
  delivery_count: number;
  token: string;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The headers column as the transport wrote it (a JSON object of strings), or the reason it is
 * not: rows can be written by anything that opens the file.
 */
export function readHeaders(text: unknown): { headers: Readonly<Record<string, string>>; unreadable?: string } {
  if (text === '{}') return { headers: NO_HEADERS };
  let value: unknown;
  try {
    value = typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch (error) {
    return { headers: NO_HEADERS, unreadable: `the row's headers column is not JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { headers: NO_HEADERS, unreadable: `the row's headers column is not a JSON object (${typeof text === 'string' ? JSON.stringify(text.slice(0, 40)) : String(text)})` };
  }
  for (const key of Object.keys(value)) {
    if (typeof (value as Record<string, unknown>)[key] !== 'string') return { headers: NO_HEADERS, unreadable: `the row's header ${JSON.stringify(key)} is not a string` };
  }
  return { headers: value as Record<string, string> };
}

class SqliteDelivery implements Delivery {
  readonly message: TransportMessage;
  readonly deliveryCount: number;
  readonly unreadable: string | undefined;
  settled = false;

  constructor(
    private readonly consumer: SqliteConsumer,
    private readonly row: FetchedRow,
  ) {
    const { headers, unreadable } = readHeaders(row.headers);
    const body = Buffer.isBuffer(row.body) ? row.body : Buffer.alloc(0);
    this.message = {
      id: String(row.id),
      type: String(row.type),
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      headers,
      partitionKey: row.partition_key ?? undefined,
    };
    this.unreadable = unreadable ?? (Buffer.isBuffer(row.body) ? undefined : "the row's body is not a blob");
    this.deliveryCount = row.delivery_count;
  }

  private take(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.consumer.settled(this);
    return true;
  }

  async ack(): Promise<void> {
    if (this.take()) await this.consumer.transport.ack(this.row.seq, this.row.token);
  }

  async nack(options?: { readonly delayMs?: number; readonly headers?: Readonly<Record<string, string>> }): Promise<void> {
    if (this.take()) await this.consumer.transport.settle('nack', this.row.seq, this.row.token, { delayMs: options?.delayMs, headers: options?.headers });
  }

  async deadLetter(failure: DeadLetterFailure): Promise<void> {
    if (this.take()) await this.consumer.transport.settle('dead', this.row.seq, this.row.token, { failure });
  }

  /** Returns the message un-yielded (`undo` the delivery count) or after a lost connection. */
  giveBack(undo: boolean): void {
    if (!this.take()) return;
    void this.consumer.transport.settle(undo ? 'release' : 'nack', this.row.seq, this.row.token).catch(() => undefined);
  }
}

/** The consumer. */
export class SqliteConsumer implements Consumer {
  private readonly buffer = new DeliveryBuffer<SqliteDelivery>('sqlite', () => this.close());

  constructor(
    readonly transport: SqliteTransport,
    readonly queue: string,
    private readonly prefetch: number,
  ) {}

  /** Free prefetch slots. */
  room(): number {
    return this.buffer.closed ? 0 : this.prefetch - this.buffer.held;
  }

  /**
   * Whether a fetch is worth its write transaction: when half the prefetch is free, or when the
   * reader has nothing left to read (so a trickle of messages is not delayed). Refilling one slot
   * per ack would cost a commit (an fsync with synchronous=full) per message.
   */
  wantsFetch(): boolean {
    const room = this.room();
    return room > 0 && (room * 2 >= this.prefetch || this.buffer.unread === 0);
  }

  /** Takes fetched rows. */
  push(rows: readonly FetchedRow[]): void {
    for (const row of rows) {
      const delivery = new SqliteDelivery(this, row);
      if (!this.buffer.push(delivery)) delivery.giveBack(true);
    }
  }

  /** @internal */
  settled(delivery: SqliteDelivery): void {
    this.buffer.settled(delivery);
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.buffer[Symbol.asyncIterator]();
  }

  async close(): Promise<void> {
    if (this.buffer.closed) return;
    this.transport.forget(this);
    for (const delivery of this.buffer.close()) delivery.giveBack(true);
  }

  /** The connection is going away: also give back what was yielded and not settled. */
  drop(): void {
    void this.close();
    for (const delivery of this.buffer.yielded) delivery.giveBack(false);
  }
}
