import { describe, expect, it } from 'vitest';
import { Naming, patternSubjects, queueFromToken, queueToken, slotOf, subjectMatches, topicOfSubject, PARTITIONS } from './naming.js';

describe('naming', () => {
  it('puts a key in a stable partition and a keyless message in "_"', () => {
    expect(slotOf(undefined)).toBe('_');
    expect(slotOf('acme')).toBe(slotOf('acme'));
    const slots = new Set(Array.from({ length: 200 }, (_, i) => slotOf(`key-${i}`)));
    expect(slots.size).toBe(PARTITIONS);
  });

  it('writes a queue name as one subject token and back', () => {
    expect(queueToken('shop.replies.a-1:x_y')).toBe('shop~replies~a-1:x_y');
    expect(queueFromToken(queueToken('shop.replies.a-1:x_y'))).toBe('shop.replies.a-1:x_y');
    expect(new Naming('p').queueSubject('a.b', '3')).toBe('p.3.q.a~b');
  });

  it('turns AMQP topic patterns into NATS filters, refusing "#" before the end', () => {
    expect(patternSubjects('a.b')).toEqual(['a.b']);
    expect(patternSubjects('a.*.c')).toEqual(['a.*.c']);
    expect(patternSubjects('a.#')).toEqual(['a', 'a.>']);
    expect(patternSubjects('#')).toEqual(['>']);
    expect(patternSubjects('a.#.c')).toBeUndefined();
  });

  it('reads the topic of a topic subject, and nothing of other subjects', () => {
    const names = new Naming('p');
    expect(topicOfSubject(names.topicSubject('shop.order-placed', '_'))).toBe('shop.order-placed');
    expect(topicOfSubject(names.topicSubject('a', slotOf('k')))).toBe('a');
    expect(topicOfSubject(names.queueSubject('t.b', '_'))).toBe('');
    expect(topicOfSubject('p.x.dlq.q.aWQ')).toBe('');
    expect(topicOfSubject('p.tmp.q')).toBe('');
    expect(topicOfSubject('plain')).toBe('');
    expect(topicOfSubject('p._')).toBe('');
  });

  it('matches subjects like the server', () => {
    expect(subjectMatches('p.*.t.a.>', 'p._.t.a.b.c')).toBe(true);
    expect(subjectMatches('p.*.t.a.>', 'p._.t.a')).toBe(false);
    expect(subjectMatches('p.3.t.a', 'p._.t.a')).toBe(false);
    expect(subjectMatches('p.*.t.a.*', 'p.3.t.a.b')).toBe(true);
  });
});
