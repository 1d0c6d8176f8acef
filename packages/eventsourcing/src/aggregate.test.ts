import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineAggregate, type EventOf } from './aggregate.js';
import { ConcurrencyError, type EventStore } from './event-store.js';
import { MemoryEventStore } from './memory-event-store.js';

type Events = { opened: { owner: string }; deposited: { amount: number }; closed: { reason: string } };
interface State {
  readonly owner?: string;
  readonly balance: number;
  readonly open: boolean;
}
type Command = { kind: 'open'; owner: string } | { kind: 'deposit'; amount: number } | { kind: 'close' };

const Account = defineAggregate<State, Events, Command>({
  name: 'account',
  initial: () => ({ balance: 0, open: false }),
  apply(state, event) {
    switch (event.type) {
      case 'opened':
        return { ...state, owner: event.data.owner, open: true };
      case 'deposited':
        return { ...state, balance: state.balance + event.data.amount };
      case 'closed':
        return { ...state, open: false };
    }
  },
  decide(state, command) {
    if (command.kind === 'open') return state.open ? [] : [{ type: 'opened', data: { owner: command.owner } }];
    if (!state.open) throw new Error('account is not open');
    if (command.kind === 'deposit') return [{ type: 'deposited', data: { amount: command.amount } }];
    return [{ type: 'closed', data: { reason: 'asked' } }];
  },
  snapshotEvery: 3,
});

describe('aggregate', () => {
  it('types events from the map', () => {
    expectTypeOf<EventOf<Events>>().toEqualTypeOf<
      | { readonly type: 'opened'; readonly data: { owner: string } }
      | { readonly type: 'deposited'; readonly data: { amount: number } }
      | { readonly type: 'closed'; readonly data: { reason: string } }
    >();
  });

  it('decides, appends and folds; a refused command appends nothing', async () => {
    const store = new MemoryEventStore();
    await expect(Account.execute(store, 'a-1', { kind: 'deposit', amount: 5 })).rejects.toThrow('not open');
    expect(await store.readStream('account-a-1')).toEqual([]);
    const opened = await Account.execute(store, 'a-1', { kind: 'open', owner: 'ann' }, { metadata: { by: 'test' } });
    expect(opened).toMatchObject({ version: 1, state: { owner: 'ann', balance: 0, open: true } });
    expect((await Account.execute(store, 'a-1', { kind: 'open', owner: 'bob' })).events).toEqual([]);
    await Account.execute(store, 'a-1', { kind: 'deposit', amount: 5 });
    await Account.execute(store, 'a-1', { kind: 'deposit', amount: 7 });
    expect(await Account.load(store, 'a-1')).toEqual({ version: 3, state: { owner: 'ann', balance: 12, open: true } });
    expect((await store.readStream('account-a-1'))[0]?.metadata).toEqual({ by: 'test' });
  });

  it('loads from the snapshot and the events after it', async () => {
    const store = new MemoryEventStore();
    await Account.execute(store, 'a-2', { kind: 'open', owner: 'ann' });
    for (const amount of [1, 2, 3, 4]) await Account.execute(store, 'a-2', { kind: 'deposit', amount });
    expect(await store.loadSnapshot('account-a-2')).toEqual({ version: 3, state: { owner: 'ann', balance: 3, open: true } });
    // Proof the snapshot is used: doctor it, and the load reflects it plus events 4 and 5.
    await store.saveSnapshot('account-a-2', { version: 3, state: { owner: 'ann', balance: 100, open: true } });
    expect((await Account.load(store, 'a-2')).state.balance).toBe(107);
  });

  it('decides again after a concurrent append, and gives up with a ConcurrencyError after its attempts', async () => {
    const store = new MemoryEventStore();
    await Account.execute(store, 'a-3', { kind: 'open', owner: 'ann' });
    let interfere = 2;
    const racing: EventStore = Object.assign(Object.create(store) as EventStore, {
      async append(...args: Parameters<EventStore['append']>) {
        if (interfere-- > 0) await store.append('account-a-3', [{ type: 'deposited', data: { amount: 100 } }], { expectedVersion: 'any' });
        return store.append(...args);
      },
    });
    const result = await Account.execute(racing, 'a-3', { kind: 'deposit', amount: 1 });
    expect(result.state.balance).toBe(201);
    expect(result.version).toBe(4);
    interfere = 10;
    await expect(Account.execute(racing, 'a-3', { kind: 'deposit', amount: 1 }, { attempts: 3 })).rejects.toBeInstanceOf(ConcurrencyError);
  });
});
