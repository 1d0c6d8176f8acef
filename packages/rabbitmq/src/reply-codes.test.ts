import { describe, expect, it } from 'vitest';
import { ReplyCode, replyCode } from './reply-codes.js';

describe('replyCode', () => {
  it("reads amqplib's numeric code off an error, and nothing off anything else", () => {
    const closed = Object.assign(new Error('Channel closed by server: 406 (PRECONDITION-FAILED) …'), {
      code: 406,
      classId: 50,
      methodId: 10,
    });
    expect(replyCode(closed)).toBe(ReplyCode.PreconditionFailed);
    expect(replyCode(Object.assign(new Error('socket'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(replyCode(new Error('no code'))).toBeUndefined();
    expect(replyCode(undefined)).toBeUndefined();
  });
});
