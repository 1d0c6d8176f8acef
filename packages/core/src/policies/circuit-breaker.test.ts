import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@missive/testing';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import { ConfigurationError } from '../errors.js';

describe('circuit breaker', () => {
  it('opens at the failure ratio once the minimum is met, probes after the cool-down, and re-opens on a failed probe', () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ failureRatio: 0.5, minimumCalls: 4, windowMs: 1000, cooldownMs: 500 }, clock);
    const states: CircuitState[] = [];
    breaker.onChange((s) => states.push(s));
    breaker.record(false);
    breaker.record(false);
    breaker.record(true);
    expect(breaker.state).toBe('closed'); // 3 calls: below the minimum
    breaker.record(false);
    expect(breaker.state).toBe('open');
    clock.advance(499);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    breaker.record(false);
    expect(breaker.state).toBe('open');
    clock.advance(500);
    breaker.record(true);
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });

  it('forgets calls older than the window', () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ failureRatio: 0.5, minimumCalls: 2, windowMs: 100 }, clock);
    breaker.record(false);
    clock.advance(150);
    breaker.record(true);
    breaker.record(false);
    expect(breaker.state).toBe('open'); // 1 of 2 in the window
    const other = new CircuitBreaker({ failureRatio: 0.6, minimumCalls: 2, windowMs: 100 }, clock);
    other.record(false);
    clock.advance(150);
    other.record(false);
    other.record(true);
    expect(other.state).toBe('closed'); // the old failure fell out: 1 of 2 < 0.6
  });

  it('checks its options', () => {
    const clock = new VirtualClock();
    expect(() => new CircuitBreaker({ failureRatio: 0 }, clock)).toThrow(ConfigurationError);
    expect(() => new CircuitBreaker({ minimumCalls: 0 }, clock)).toThrow(/minimumCalls/);
  });
});
