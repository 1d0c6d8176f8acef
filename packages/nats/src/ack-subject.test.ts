import { describe, expect, it } from 'vitest';
import { numberAt, readAckSubject, type AckSubject } from './ack-subject.js';

const PREFIX = '$JS.ACK.MISSIVE_MSG.';

/** The stream sequence, read now if the subject left it for later. */
const seq = (reply: string, ack: AckSubject) => (ack.streamSeq >= 0 ? ack.streamSeq : numberAt(reply, ack.streamSeqAt));

describe('readAckSubject', () => {
  it('reads the short form in place, the stream sequence when asked', () => {
    const reply = '$JS.ACK.MISSIVE_MSG.billing!t0a1b2c3d4e.3.1042.977.1732940000000000000.12';
    const ack = readAckSubject(reply, PREFIX);
    expect(ack).toMatchObject({ consumer: 'billing!t0a1b2c3d4e', delivered: 3, streamSeq: -1 });
    expect(seq(reply, ack)).toBe(1042);
  });

  it('reads the form with a domain and an account hash token by token', () => {
    const reply = '$JS.ACK.hub.ACCHASH.MISSIVE_MSG.billing!d.1.77.70.1732940000000000000.0.rnd';
    const ack = readAckSubject(reply, PREFIX);
    expect(ack).toMatchObject({ consumer: 'billing!d', delivered: 1 });
    expect(seq(reply, ack)).toBe(77);
  });

  it('is not fooled by a domain named like the stream', () => {
    const reply = '$JS.ACK.MISSIVE_MSG.ACCHASH.MISSIVE_MSG.billing!d.2.78.71.1732940000000000000.0.rnd';
    const ack = readAckSubject(reply, PREFIX);
    expect(ack).toMatchObject({ consumer: 'billing!d', delivered: 2 });
    expect(seq(reply, ack)).toBe(78);
  });

  it('reads another stream’s subject token by token', () => {
    const reply = '$JS.ACK.OTHER_MSG.q!d.1.5.5.1732940000000000000.0';
    expect(readAckSubject(reply, PREFIX)).toMatchObject({ consumer: 'q!d', delivered: 1, streamSeq: 5 });
  });
});

describe('numberAt', () => {
  it('reads digits up to a dot or the end, else NaN', () => {
    expect(numberAt('a.123.4', 2)).toBe(123);
    expect(numberAt('a.123', 2)).toBe(123);
    expect(numberAt('a.12x.4', 2)).toBeNaN();
    expect(numberAt('a..4', 2)).toBeNaN();
  });
});
