/**
 * One message per key out at a time: the line of each key's messages inside an ordered consumer.
 * The first message of a key goes out (it holds the key); later ones park behind it, in arrival
 * order, until the holder is done; then the next one holds the key.
 *
 * @example
 * ```ts
 * const lines = new KeyLines<RabbitDelivery>();
 * if (lines.admit(delivery, key)) buffer.push(delivery); // else it waits its turn
 * const next = lines.done(delivery);                     // the key's next message, to hand out
 * ```
 * @module
 */

/** The message of a key that is out, and the later ones that wait for it. */
interface Line<D> {
  holder: D;
  parked: D[];
}

/** The lines of every key with a message out. */
export class KeyLines<D extends { readonly message: { readonly partitionKey?: string | undefined } }> {
  private readonly lines = new Map<string, Line<D>>();

  /** A keyed delivery arrives: true if it goes out now (its key was free), false if it parks. */
  admit(delivery: D, key: string): boolean {
    const line = this.lines.get(key);
    if (line === undefined) {
      this.lines.set(key, { holder: delivery, parked: [] });
      return true;
    }
    line.parked.push(delivery);
    return false;
  }

  /** `copy` takes the place of `delivery` (the same message, handed out again later). */
  replace(delivery: D, copy: D): void {
    const key = delivery.message.partitionKey;
    const line = key === undefined ? undefined : this.lines.get(key);
    if (line?.holder === delivery) line.holder = copy;
  }

  /** The holder is done: the key's next delivery, now holding it, to hand out; undefined if none (the key is free). */
  done(delivery: D): D | undefined {
    const key = delivery.message.partitionKey;
    if (key === undefined) return undefined;
    const line = this.lines.get(key);
    if (line?.holder !== delivery) return undefined;
    return this.advance(key, line);
  }

  /**
   * Takes back the deliveries `gone` selects (their channel is closing): parked ones leave their
   * lines, and a line whose holder is gone and not `running` moves on. Returns the deliveries that
   * now hold their keys, to hand out.
   */
  withdraw(gone: (delivery: D) => boolean, running: (delivery: D) => boolean): D[] {
    const next: D[] = [];
    for (const [key, line] of this.lines) {
      line.parked = line.parked.filter((d) => !gone(d));
      if (!gone(line.holder) || running(line.holder)) continue;
      const holder = this.advance(key, line);
      if (holder !== undefined) next.push(holder);
    }
    return next;
  }

  /** The connection is gone: every parked delivery is dropped; keys stay held only by `running` holders. */
  lost(running: (delivery: D) => boolean): void {
    for (const [key, line] of this.lines) {
      line.parked = [];
      if (!running(line.holder)) this.lines.delete(key);
    }
  }

  clear(): void {
    this.lines.clear();
  }

  private advance(key: string, line: Line<D>): D | undefined {
    const next = line.parked.shift();
    if (next === undefined) this.lines.delete(key);
    else line.holder = next;
    return next;
  }
}
