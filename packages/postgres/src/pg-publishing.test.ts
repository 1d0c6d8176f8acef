import { describe, expect, it } from 'vitest';
import { systemClock } from '@missive/core';
import { PostgresPublishing } from './pg-publishing.js';
import { statements } from './statements.js';

const sql = statements('bus', 'missive:bus');
const message = { id: 'm', type: 't', body: new Uint8Array([1]), headers: {} };

/** A host whose statements resolve only when the test says so, recording what ran and what was notified. */
function host(notifyInStatement: boolean) {
  const ran: string[] = [];
  const finish: (() => void)[] = [];
  const notified: string[] = [];
  const woken: string[] = [];
  return {
    ran,
    notified,
    woken,
    /** Ends every statement under way. */
    complete: () => finish.splice(0).forEach((f) => f()),
    host: {
      sql,
      clock: systemClock,
      notifyInStatement,
      armDue: () => undefined,
      notify: (queue: string) => void notified.push(queue),
      wakeLocal: (queue: string) => void woken.push(queue),
      run: <R>(statement: { name: string } | string) => {
        ran.push(typeof statement === 'string' ? statement : statement.name);
        return new Promise<R>((resolve) => finish.push(() => resolve({ rows: [{ queue: 'q' }] } as R)));
      },
    },
  };
}

describe('PostgresPublishing', () => {
  it('with commits async, notifies in the insert while fewer than four are under way, and gathers the rest', async () => {
    const h = host(true);
    const publishing = new PostgresPublishing(h.host);
    const sends = Array.from({ length: 6 }, () => publishing.send('q', message));
    expect(h.ran).toEqual([...Array(4).fill(sql.sendNotifying.name), ...Array(2).fill(sql.send.name)]);
    h.complete();
    await Promise.all(sends);
    expect(h.woken).toEqual(['q', 'q', 'q', 'q']); // their statement notified the others
    expect(h.notified).toEqual(['q', 'q']); // a NOTIFY of its own, gathered per turn (pg-notifier.ts)
    const last = publishing.send('q', message);
    expect(h.ran.at(-1)).toBe(sql.sendNotifying.name); // none under way again
    h.complete();
    await last;
  });

  it('with durable commits, never notifies in the insert', async () => {
    const h = host(false);
    const publishing = new PostgresPublishing(h.host);
    const sent = publishing.publish('t', message);
    h.complete();
    await sent;
    expect(h.ran).toEqual([sql.publish.name]);
    expect(h.notified).toEqual(['q']);
    expect(h.woken).toEqual([]);
  });
});
