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
import { checkKnownKeys } from '../known-keys.js';

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
  checkKnownKeys('circuitBreaker', options, { failureRatio: true, minimumCalls: true, windowMs: true, cooldownMs: true });
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
  /**
   * The calls in the window, oldest first, as runs: the calls recorded in one millisecond share one
   * entry (`at`, with its successes and failures); entries before `head` have left the window. With
   * the running totals this costs neither an object per call nor a pass over the window per failure
   * (at 50,000 calls a second a 60 s window held three million objects, and `shift` moved them).
   */
  private readonly at: number[] = [];
  private readonly oks: number[] = [];
  private readonly fails: number[] = [];
  private head = 0;
  /** Calls and failures in the window. */
  private total = 0;
  private failures = 0;
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
    const last = this.at.length - 1;
    if (last >= this.head && this.at[last] === now) {
      if (ok) this.oks[last]!++;
      else this.fails[last]!++;
    } else {
      this.at.push(now);
      this.oks.push(ok ? 1 : 0);
      this.fails.push(ok ? 0 : 1);
    }
    this.total++;
    if (!ok) this.failures++;
    this.forget(now - this.options.windowMs);
    if (ok || this.total < this.options.minimumCalls) return;
    if (this.failures / this.total >= this.options.failureRatio) this.transition('open');
  }

  /** Drops the calls before `horizon` from the front (as the window slides). */
  private forget(horizon: number): void {
    let head = this.head;
    while (head < this.at.length && this.at[head]! < horizon) {
      this.total -= this.oks[head]! + this.fails[head]!;
      this.failures -= this.fails[head]!;
      head++;
    }
    if (head > 1024 && head * 2 > this.at.length) {
      // Most entries have left: drop them in one step rather than one `shift` each.
      this.at.splice(0, head);
      this.oks.splice(0, head);
      this.fails.splice(0, head);
      head = 0;
    }
    this.head = head;
  }

  /** Forgets every call. */
  private clear(): void {
    this.at.length = 0;
    this.oks.length = 0;
    this.fails.length = 0;
    this.head = 0;
    this.total = 0;
    this.failures = 0;
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
    this.clear();
    this.dispose();
    if (next === 'open') this.timer = this.clock.setTimeout(() => this.transition('half-open'), this.options.cooldownMs);
    for (const listener of this.listeners) listener(next, previous);
  }
}
