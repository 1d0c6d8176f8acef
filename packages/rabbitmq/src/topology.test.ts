import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { partitionOf } from './partitions.js';
import {
  KEYED_EXCHANGE,
  RETURN_EXCHANGE,
  TOPICS_EXCHANGE,
  bindingsOf,
  checkTypeExchange,
  isTypeExchange,
  returnKey,
  sendKey,
  slotOf,
  typeExchangesOf,
  typeKey,
} from './topology.js';

describe('topology', () => {
  it('puts the slot (partition of the key, or none) in front of the name in routing keys', () => {
    expect(slotOf(undefined)).toBe('none');
    expect(slotOf('order-42')).toBe(partitionOf('order-42'));
    expect(typeKey(3, 'shop.order-placed')).toBe('3.shop.order-placed');
    expect(returnKey('t', 'none', 'shop.order-placed')).toBe('t.none.shop.order-placed');
    expect(returnKey('q', '*', 'billing')).toBe('q.*.billing');
    expect(sendKey(7, 'billing')).toBe('7.billing');
  });

  it('binds an unordered queue to the exchange of each type it handles, its patterns on missive.topics, and its way home from delays', () => {
    const spec = { name: 'audit', topics: ['shop.order-placed', 'shop.#'] };
    expect(typeExchangesOf(spec)).toEqual(['shop.order-placed']);
    expect(bindingsOf(spec)).toEqual([
      { queue: 'audit', exchange: 'shop.order-placed', key: '*.shop.order-placed' },
      { queue: 'audit', exchange: RETURN_EXCHANGE, key: 't.*.shop.order-placed' },
      { queue: 'audit', exchange: TOPICS_EXCHANGE, key: '*.shop.#' },
      { queue: 'audit', exchange: RETURN_EXCHANGE, key: 't.*.shop.#' },
      { queue: 'audit', exchange: RETURN_EXCHANGE, key: 'q.*.audit' },
      { queue: 'audit', exchange: KEYED_EXCHANGE, key: '*.audit' },
    ]);
  });

  it('binds an ordered queue for messages without a key and each partition queue for its slot', () => {
    const bindings = bindingsOf({ name: 'accounts', topics: ['org.account-updated'], ordered: true });
    expect(bindings.filter((b) => b.queue === 'accounts')).toEqual([
      { queue: 'accounts', exchange: 'org.account-updated', key: 'none.org.account-updated' },
      { queue: 'accounts', exchange: RETURN_EXCHANGE, key: 't.none.org.account-updated' },
      { queue: 'accounts', exchange: RETURN_EXCHANGE, key: 'q.none.accounts' },
    ]);
    expect(bindings.filter((b) => b.queue === 'accounts.partition-5')).toEqual([
      { queue: 'accounts.partition-5', exchange: 'org.account-updated', key: '5.org.account-updated' },
      { queue: 'accounts.partition-5', exchange: RETURN_EXCHANGE, key: 't.5.org.account-updated' },
      { queue: 'accounts.partition-5', exchange: RETURN_EXCHANGE, key: 'q.5.accounts' },
      { queue: 'accounts.partition-5', exchange: KEYED_EXCHANGE, key: '5.accounts' },
    ]);
    expect(new Set(bindings.map((b) => b.queue)).size).toBe(17);
  });

  it('refuses type names whose exchanges RabbitMQ or Missive reserve', () => {
    expect(() => checkTypeExchange('amq.order')).toThrow(ConfigurationError);
    expect(() => checkTypeExchange('missive.topics')).toThrow(/reserved; rename the type/);
    expect(() => checkTypeExchange('missive.delay.return')).toThrow(/reserved; rename the type/);
    expect(() => checkTypeExchange('shop.order-placed')).not.toThrow();
    // Missive's own message types (fault events) may use the prefix; only its exchanges' names are taken.
    expect(() => checkTypeExchange('missive.fault.shop.order-placed')).not.toThrow();
    expect(isTypeExchange('shop.order-placed')).toBe(true);
    expect([isTypeExchange(''), isTypeExchange(KEYED_EXCHANGE), isTypeExchange('amq.topic')]).toEqual([false, false, false]);
  });
});
