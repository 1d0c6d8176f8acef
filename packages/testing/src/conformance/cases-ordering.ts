import type { CaseRegistrar } from './case.js';
/** Registers the ordering cases. */
export function orderingCases(_test: CaseRegistrar): void {}
