/// <reference types="node" preserve="true" />
/**
 * `@missive/testing/vitest`: the conformance suites every transport and store must pass, registered
 * as vitest tests (this entry imports `vitest`; the harness in `@missive/testing` does not).
 *
 * @example
 * ```ts
 * import { describeTransportConformance } from '@missive/testing/vitest';
 * describeTransportConformance({ name: 'my-broker', setup: (clock) => ({ connect: () => new MyTransport({ clock }) }) });
 * ```
 * @module
 */
export { describeTransportConformance, caseRegistrar } from './conformance/transport-suite.js';
export { describeFaultScenarios, faultScenarios, type FaultScenarioOptions } from './faults/fault-suite.js';
export type { ConformanceTarget, ConformanceFixture, ConformanceFeatures, Environment, NetworkAccess } from './conformance/environment.js';
export { gate, range, chaosEnabled, type Gate, type CaseRegistrar, type CaseOptions } from './conformance/case.js';
export { describeStoreConformance, type StoreTarget } from './conformance/store-suite.js';
export { describeSagaConformance, type SagaTarget } from './conformance/saga-suite.js';
export { describeEventStoreConformance, type EventStoreTarget } from './conformance/event-store-suite.js';
export { brokersRequired } from './brokers-required.js';
