import { describe, expect, it } from 'vitest';
import { isConnectionError } from './pg-errors.js';

const withCode = (code: string) => Object.assign(new Error('x'), { code });
const serverError = (code: string) => Object.assign(new Error('x'), { code, severity: 'ERROR' });

describe('isConnectionError', () => {
  it('is true for a lost connection or server: SQLSTATE 08xxx, 57P01-57P03, 53300, socket errors, pg connection errors', () => {
    for (const code of ['08000', '08003', '08006', '57P01', '57P02', '57P03', '53300', '40001', '40P01'])
      expect(isConnectionError(serverError(code)), code).toBe(true);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']) expect(isConnectionError(withCode(code)), code).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('is false for a wrong statement, a constraint, a programming error or a non-error', () => {
    for (const code of ['42P01', '23505', '22P02', '42501']) expect(isConnectionError(serverError(code)), code).toBe(false);
    expect(isConnectionError(new TypeError('x is undefined'))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('server said no'), { severity: 'ERROR' }))).toBe(false);
    expect(isConnectionError('ECONNRESET')).toBe(false);
  });
});
