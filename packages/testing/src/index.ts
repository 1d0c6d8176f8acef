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
export { describeTransportConformance, brokersRequired } from './conformance/transport-suite.js';
export type { ConformanceTarget, ConformanceFixture, ConformanceFeatures, Environment } from './conformance/environment.js';
export { gate, range, type Gate, type CaseRegistrar, type CaseOptions } from './conformance/case.js';
export { describeStoreConformance, type StoreTarget } from './conformance/store-suite.js';
export { describeSagaConformance, type SagaTarget } from './conformance/saga-suite.js';
export { startProcess, type TestProcess } from './processes.js';
export { startFaultProxy, type FaultProxy } from './fault-proxy.js';
export { captureSpans, type SpanCapture } from './span-capture.js';
