import { describe, expect, it, vi } from 'vitest';
import type { Msg, NatsConnection } from 'nats';
import { Confirmer } from './confirmer.js';
import { wireHeaders } from './message-codec.js';

const text = (bytes: string | Uint8Array) => (typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));

/** A connection whose protocol handler records what it is handed, with the inbox callback captured. */
function fakeConnection(options: { protocol?: boolean; maxPayload?: number } = {}) {
  const commands: (string | Uint8Array)[] = [];
  let inbox = '';
  let answer: ((error: unknown, msg: Msg) => void) | undefined;
  const protocol = {
    sendCommand: (command: string | Uint8Array) => commands.push(command),
    noMorePublishing: false,
    outMsgs: 0,
    outBytes: 0,
    info: { max_payload: options.maxPayload ?? 1024 },
  };
  const nc = {
    subscribe: (subject: string, opts: { callback: (error: unknown, msg: Msg) => void }) => {
      inbox = subject.slice(0, -2);
      answer = opts.callback;
      return { unsubscribe: () => undefined };
    },
    publish: vi.fn(),
    isClosed: () => false,
    ...(options.protocol === false ? {} : { protocol }),
  };
  const pubAck = (id: number) =>
    answer!(null, {
      subject: `${inbox}.${id}`,
      data: new TextEncoder().encode('{"stream":"S","seq":1}'),
      headers: undefined,
    } as unknown as Msg);
  return { nc: nc as unknown as NatsConnection & { publish: typeof nc.publish }, commands, protocol, inbox: () => inbox, pubAck };
}

const message = { id: 'm-1', type: 'shop.order-placed', body: new TextEncoder().encode('{"a":1}'), headers: {} };

describe('Confirmer', () => {
  it("hands a turn's acks and publishes to nats.js's protocol handler as one command each, in order", async () => {
    const { nc, commands, protocol, inbox, pubAck } = fakeConnection();
    const confirmer = new Confirmer(nc, 10_000);
    confirmer.send('$JS.ACK.S.q.1.1.1.0.0', '+ACK');
    confirmer.send('$JS.ACK.S.q.1.2.2.0.0', '+ACK');
    const first = confirmer.publish('p._.t.shop', message.body, wireHeaders(message));
    const second = confirmer.publish('p._.t.shop', message.body, wireHeaders({ ...message, id: 'm-2' }));
    confirmer.send('$JS.ACK.S.q.1.3.3.0.0', '-NAK');
    confirmer.flush();
    expect(nc.publish).not.toHaveBeenCalled();
    expect(commands.map(text)).toEqual([
      'PUB $JS.ACK.S.q.1.1.1.0.0 4\r\n+ACK\r\nPUB $JS.ACK.S.q.1.2.2.0.0 4\r\n+ACK\r\n',
      `HPUB p._.t.shop ${inbox()}.0 63 70\r\nNATS/1.0\r\nNats-Msg-Id: m-1\r\nMissive-Type: shop.order-placed\r\n\r\n{"a":1}\r\n` +
        `HPUB p._.t.shop ${inbox()}.1 63 70\r\nNATS/1.0\r\nNats-Msg-Id: m-2\r\nMissive-Type: shop.order-placed\r\n\r\n{"a":1}\r\n`,
      'PUB $JS.ACK.S.q.1.3.3.0.0 4\r\n-NAK\r\n',
    ]);
    expect(protocol.outMsgs).toBe(5);
    pubAck(0);
    pubAck(1);
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    confirmer.close();
  });

  it("refuses a publish above the server's max_payload and sends the rest of its turn", async () => {
    const { nc, commands, inbox } = fakeConnection({ maxPayload: 200 });
    const confirmer = new Confirmer(nc, 10_000);
    const big = confirmer.publish('p._.t.shop', new Uint8Array(300), wireHeaders(message));
    const small = confirmer.publish('p._.t.shop', message.body, wireHeaders(message));
    confirmer.flush();
    await expect(big).rejects.toThrow(/max_payload of 200/);
    expect(commands.map(text)).toEqual([
      `HPUB p._.t.shop ${inbox()}.1 63 70\r\nNATS/1.0\r\nNats-Msg-Id: m-1\r\nMissive-Type: shop.order-placed\r\n\r\n{"a":1}\r\n`,
    ]);
    confirmer.close();
    await expect(small).rejects.toThrow(/closed before/);
  });

  it('publishes each through nc.publish where nats.js has no protocol handler to hand them to', () => {
    const { nc } = fakeConnection({ protocol: false });
    const confirmer = new Confirmer(nc, 10_000);
    confirmer.send('$JS.ACK.S.q.1.1.1.0.0', '+ACK');
    void confirmer.publish('p._.t.shop', message.body, wireHeaders(message)).catch(() => undefined);
    confirmer.flush();
    expect(nc.publish).toHaveBeenCalledTimes(2);
    expect(text(nc.publish.mock.calls[0]![1] as Uint8Array)).toBe('+ACK');
    confirmer.close();
  });
});
