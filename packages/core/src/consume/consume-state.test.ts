import { describe, expect, it } from 'vitest';
import { Header } from '../message/headers.js';
import type { Delivery } from '../transport/transport.js';
import { ConsumeState, readDeliveryMetadata } from './consume-state.js';

function delivery(deliveryCount: number, headers: Record<string, string>): Delivery {
  return {
    message: { id: 'm', type: 't', body: new Uint8Array(), headers },
    deliveryCount,
    ack: async () => undefined,
    nack: async () => undefined,
    deadLetter: async () => undefined,
  };
}

describe('a delivery state', () => {
  it('takes its counts as readDeliveryMetadata reads them, with and without attempt headers', () => {
    const headerSets: Record<string, string>[] = [
      {},
      { other: 'x' },
      { [Header.Attempts]: '3' },
      { [Header.Redeliveries]: '2' },
      { [Header.Attempts]: '999999', [Header.Redeliveries]: '-1' },
    ];
    for (const count of [1, 2, 7, 0, -3, 2.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])
      for (const headers of headerSets) {
        const d = delivery(count, headers);
        const state = new ConsumeState('s', 'e', d);
        expect({ deliveryCount: state.deliveryCount, redeliveries: state.redeliveries, priorAttempts: state.priorAttempts }).toEqual(
          readDeliveryMetadata(d),
        );
      }
  });
});
