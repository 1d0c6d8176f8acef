/// <reference types="node" preserve="true" />
/**
 * `@missive/testing`: a harness for testing code built on Missive (memory broker, virtual clock,
 * quiescence, records of traffic) and helpers for process and broker tests. Free of any test runner:
 * it works under vitest, node:test and jest alike. The transport conformance suites, which register
 * vitest tests, are the separate entry `@missive/testing/vitest`.
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
export { brokersRequired } from './brokers-required.js';
export { QueueHistory, checkQueue, describeCheck, type QueueCheck } from './faults/queue-checker.js';
export {
  recordScenario,
  startMeter,
  sampleResources,
  collectGarbage,
  type ScenarioFigures,
  type ResourceSample,
} from './faults/fault-report.js';
export { startProcess, type TestProcess } from './processes.js';
export { startFaultProxy, type FaultProxy } from './fault-proxy.js';
export { captureSpans, type SpanCapture } from './span-capture.js';
export { appendIncrements } from './event-appender.js';
