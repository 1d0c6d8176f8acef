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

  it('opens and closes as a breaker holding every call would, over long runs with many calls per millisecond', () => {
    // The reference: every call kept, the window counted on each failure (the breaker's first form).
    // The cool-down's timer is the breaker's own: the reference follows it to half-open.
    class Reference {
      state: CircuitState = 'closed';
      private calls: { at: number; ok: boolean }[] = [];
      constructor(private readonly o: { failureRatio: number; minimumCalls: number; windowMs: number }) {}
      follow(timer: CircuitState): void {
        if (this.state === 'open' && timer === 'half-open') this.move('half-open');
      }
      record(ok: boolean, now: number): void {
        if (this.state === 'half-open') return this.move(ok ? 'closed' : 'open');
        if (this.state === 'open') return;
        this.calls.push({ at: now, ok });
        while (this.calls[0]!.at < now - this.o.windowMs) this.calls.shift();
        const failures = this.calls.filter((call) => !call.ok).length;
        if (!ok && this.calls.length >= this.o.minimumCalls && failures / this.calls.length >= this.o.failureRatio) this.move('open');
      }
      private move(next: CircuitState): void {
        this.state = next;
        this.calls = [];
      }
    }
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (const options of [
      { failureRatio: 0.5, minimumCalls: 10, windowMs: 50, cooldownMs: 20 },
      { failureRatio: 0.3, minimumCalls: 3, windowMs: 7, cooldownMs: 0 },
      { failureRatio: 0.6, minimumCalls: 5, windowMs: 2000, cooldownMs: 5 },
    ]) {
      const clock = new VirtualClock();
      const breaker = new CircuitBreaker(options, clock);
      const reference = new Reference(options);
      let failing = 0.05;
      // Healthy phases long enough for the window to slide past more than a thousand milliseconds
      // (the breaker then drops its old entries in one step), failing phases that open the circuit.
      for (let i = 0; i < 60_000; i++) {
        if (i % 10_000 === 0) failing = i % 20_000 === 0 ? random() * 0.2 : 0.4 + random() * 0.6;
        if (random() < 0.5) clock.advance(Math.floor(random() * 4));
        reference.follow(breaker.state);
        const ok = random() >= failing;
        breaker.record(ok);
        reference.record(ok, clock.now());
        if (breaker.state !== reference.state) expect(`call ${i}: ${breaker.state}`).toBe(`call ${i}: ${reference.state}`);
      }
    }
  });

  it('checks its options', () => {
    const clock = new VirtualClock();
    expect(() => new CircuitBreaker({ failureRatio: 0 }, clock)).toThrow(ConfigurationError);
    expect(() => new CircuitBreaker({ minimumCalls: 0 }, clock)).toThrow(/minimumCalls/);
  });
});
