import type { CaseRegistrar } from './case.js';
/** Registers the failure-handling cases. */
export function failureCases(_test: CaseRegistrar): void {}
