import { describe, expect, it } from 'vitest';
import { JOURNAL_SCHEMA_VERSION, schemaStep } from './journal-schema.js';

describe('schemaStep', () => {
  it('migrates an older or unrecorded schema and leaves its own and newer ones alone', () => {
    expect(schemaStep(0)).toBe('migrate');
    expect(schemaStep(JOURNAL_SCHEMA_VERSION - 1)).toBe('migrate');
    expect(schemaStep(JOURNAL_SCHEMA_VERSION)).toBe('current');
    expect(schemaStep(JOURNAL_SCHEMA_VERSION + 1)).toBe('newer');
  });
});
