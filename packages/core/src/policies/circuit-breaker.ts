/**
 * A circuit breaker (kill switch) for an endpoint. It watches the outcomes of handler calls in a
 * sliding window; when the failure ratio crosses the threshold (with a minimum number of calls),
 * it opens: the endpoint stops consuming and messages wait in the queue. After the cool-down it
 * is half-open: one probe message is let through; success closes it, failure opens it again.
 *
 * Only failures that may pass with time count (retryable errors): an invalid message says nothing
 * about a dependency.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ failureRatio: 0.5, minimumCalls: 10, windowMs: 60_000, cooldownMs: 30_000 }, clock);
 * breaker.onChange((state) => console.log(state));
 * breaker.record(false);
 * ```
 * @module
 */
import type { Clock, TimerHandle } from '../clock.js';
import { ConfigurationError } from '../errors.js';

/** Circuit breaker settings. */
export interface CircuitBreakerOptions {
  /** Failures / calls in the window at or above which the circuit opens. 0 < ratio ≤ 1. Default 0.5. */
  readonly failureRatio?: number;
  /** Calls needed in the window before the ratio is trusted. Default 10. */
  readonly minimumCalls?: number;
  /** Length of the sliding window, ms. Default 60 s. */
  readonly windowMs?: number;
  /** Time open before a probe, ms. Default 30 s. */
  readonly cooldownMs?: number;
}

/** The states of a circuit. */
export type CircuitState = 'closed' | 'open' | 'half-open';

interface Checked {
  readonly failureRatio: number;
  readonly minimumCalls: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
}

function check(options: CircuitBreakerOptions): Checked {
  const failureRatio = options.failureRatio ?? 0.5;
  const minimumCalls = options.minimumCalls ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  if (!(failureRatio > 0 && failureRatio <= 1))
    throw new ConfigurationError(`circuitBreaker.failureRatio must be in (0, 1], got ${failureRatio}`);
  if (!Number.isInteger(minimumCalls) || minimumCalls < 1)
    throw new ConfigurationError(`circuitBreaker.minimumCalls must be a whole number ≥ 1, got ${minimumCalls}`);
  if (!(windowMs > 0)) throw new ConfigurationError(`circuitBreaker.windowMs must be > 0, got ${windowMs}`);
  if (!(cooldownMs >= 0)) throw new ConfigurationError(`circuitBreaker.cooldownMs must be ≥ 0, got ${cooldownMs}`);
  return { failureRatio, minimumCalls, windowMs, cooldownMs };
}

/** The breaker's state machine. The endpoint acts on its state changes. */
export class CircuitBreaker {
  private readonly options: Checked;
  private readonly calls: { readonly at: number; readonly ok: boolean }[] = [];
  private state_: CircuitState = 'closed';
  private timer: TimerHandle | undefined;
  private readonly listeners: ((state: CircuitState, previous: CircuitState) => void)[] = [];

  constructor(
    options: CircuitBreakerOptions,
    private readonly clock: Clock,
  ) {
    this.options = check(options);
  }

  get state(): CircuitState {
    return this.state_;
  }

  /** Called on every state change. */
  onChange(listener: (state: CircuitState, previous: CircuitState) => void): void {
    this.listeners.push(listener);
  }

  /** Records the outcome of one handler call. */
  record(ok: boolean): void {
    if (this.state_ === 'half-open') {
      this.transition(ok ? 'closed' : 'open');
      return;
    }
    if (this.state_ === 'open') return;
    const now = this.clock.now();
    this.calls.push({ at: now, ok });
    const horizon = now - this.options.windowMs;
    while (this.calls.length > 0 && this.calls[0]!.at < horizon) this.calls.shift();
    if (ok || this.calls.length < this.options.minimumCalls) return;
    let failures = 0;
    for (const call of this.calls) if (!call.ok) failures++;
    if (failures / this.calls.length >= this.options.failureRatio) this.transition('open');
  }

  /** Stops the cool-down timer. */
  dispose(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private transition(next: CircuitState): void {
    const previous = this.state_;
    if (previous === next) return;
    this.state_ = next;
    this.calls.length = 0;
    this.dispose();
    if (next === 'open') this.timer = this.clock.setTimeout(() => this.transition('half-open'), this.options.cooldownMs);
    for (const listener of this.listeners) listener(next, previous);
  }
}
