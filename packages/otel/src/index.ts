/**
 * `@missive/otel`: the OpenTelemetry SDK wired for a Missive service (OTLP traces and metrics, a
 * Prometheus handler). Optional: `@missive/core` depends only on `@opentelemetry/api`.
 *
 * @example
 * ```ts
 * import { startTelemetry } from '@missive/otel';
 * const telemetry = startTelemetry({ service: 'payment', otlp: 'http://127.0.0.1:4318' });
 * ```
 * @module
 */
export { ParentBasedAlwaysOnSampler } from './parent-based-always-on.js';
export { PooledIdGenerator } from './pooled-id-generator.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.js';
