/**
 * `@missive/testing`: the conformance suite every transport runs, and a harness for testing code
 * built on Missive (memory broker, virtual clock, quiescence, records of traffic).
 *
 * @example
 * ```ts
 * import { createTestHarness } from '@missive/testing';
 * const h = createTestHarness();
 * ```
 * @module
 */
export { VirtualClock } from './virtual-clock.js';
export { createWaiter, type Waiter, type WaiterOptions } from './wait.js';
export { createTestHarness, type TestHarness, type DeadLetterRecord } from './harness.js';
export { describeTransportConformance, brokersRequired, caseRegistrar } from './conformance/transport-suite.js';
export { describeFaultScenarios, faultScenarios } from './faults/fault-suite.js';
export { QueueHistory, checkQueue, describeCheck, type QueueCheck } from './faults/queue-checker.js';
export { recordScenario, startMeter, type ScenarioFigures } from './faults/fault-report.js';
export type { ConformanceTarget, ConformanceFixture, ConformanceFeatures, Environment } from './conformance/environment.js';
export { gate, range, chaosEnabled, type Gate, type CaseRegistrar, type CaseOptions } from './conformance/case.js';
export { describeStoreConformance, type StoreTarget } from './conformance/store-suite.js';
export { describeSagaConformance, type SagaTarget } from './conformance/saga-suite.js';
export { startProcess, type TestProcess } from './processes.js';
export { startFaultProxy, type FaultProxy } from './fault-proxy.js';
