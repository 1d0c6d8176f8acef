import { describe, expect, it } from 'vitest';
import type { DeadLetterFailure, TransportMessage } from './transport.js';
import { BufferedConsumer } from './buffered-consumer.js';
import { SettleOnceDelivery, type SettleOwner } from './settle-once-delivery.js';

class TestDelivery extends SettleOnceDelivery {
  readonly message: TransportMessage;
  readonly deliveryCount = 1;
  readonly log: string[];

  constructor(owner: SettleOwner<TestDelivery>, id: string, log: string[]) {
    super(owner);
    this.message = { id, type: 't', body: new Uint8Array(0), headers: {} };
    this.log = log;
  }

  protected async onAck(): Promise<void> {
    this.log.push(`ack ${this.message.id}`);
  }

  protected async onNack(): Promise<void> {
    this.log.push(`nack ${this.message.id}`);
  }

  protected async onDeadLetter(_failure: DeadLetterFailure): Promise<void> {
    this.log.push(`dead ${this.message.id}`);
  }

  giveBack(unread: boolean): void {
    if (this.settleOnce()) this.log.push(`back ${this.message.id}${unread ? ' unread' : ''}`);
  }
}

class TestConsumer extends BufferedConsumer<TestDelivery> {
  readonly log: string[] = [];

  constructor(prefetch: number) {
    super('test', prefetch);
  }

  fetch(...ids: string[]): void {
    for (const id of ids) this.offer(new TestDelivery(this, id, this.log));
  }

  protected detach(): void {
    this.log.push('detach');
  }

  protected giveBack(delivery: TestDelivery, unread: boolean): void {
    delivery.giveBack(unread);
  }
}

describe('BufferedConsumer', () => {
  it('counts free prefetch slots; a settle frees one', async () => {
    const consumer = new TestConsumer(3);
    consumer.fetch('a', 'b');
    expect(consumer.room()).toBe(1);
    const it = consumer[Symbol.asyncIterator]();
    const first = (await it.next()).value as TestDelivery;
    expect(consumer.room()).toBe(1);
    await first.ack();
    await first.ack();
    expect(consumer.room()).toBe(2);
    expect(consumer.log).toEqual(['ack a']);
  });

  it('on close detaches once, gives back the unread, and keeps the read ones settleable', async () => {
    const consumer = new TestConsumer(5);
    consumer.fetch('a', 'b', 'c');
    const read = (await consumer[Symbol.asyncIterator]().next()).value as TestDelivery;
    await Promise.all([consumer.close(), consumer.close()]);
    expect(consumer.closed).toBe(true);
    expect(consumer.room()).toBe(0);
    consumer.fetch('d');
    await read.nack();
    expect(consumer.log).toEqual(['detach', 'back b unread', 'back c unread', 'back d unread', 'nack a']);
    expect((await consumer[Symbol.asyncIterator]().next()).done).toBe(true);
  });

  it('on drop also gives back what was read and not settled', async () => {
    const consumer = new TestConsumer(5);
    consumer.fetch('a', 'b', 'c');
    const it = consumer[Symbol.asyncIterator]();
    const a = (await it.next()).value as TestDelivery;
    await it.next();
    await a.ack();
    consumer.drop();
    expect(consumer.log).toEqual(['ack a', 'detach', 'back c unread', 'back b']);
  });

  it('closes when a for-await loop leaves early', async () => {
    const consumer = new TestConsumer(2);
    consumer.fetch('a', 'b');
    for await (const delivery of consumer) {
      await delivery.ack();
      break;
    }
    expect(consumer.closed).toBe(true);
    expect(consumer.log).toEqual(['ack a', 'detach', 'back b unread']);
  });
});
