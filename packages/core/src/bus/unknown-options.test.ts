/**
 * A misspelt option, as a JavaScript user or a config file passes it, is refused when the bus or
 * the endpoint is built, naming the key and the known ones; TypeScript would have caught it, plain
 * JavaScript would otherwise get the default without a word.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, ConfigurationError, type BusOptions, type EndpointOptions } from '../index.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));

/** Options as untyped JavaScript hands them over. */
function untyped<T>(options: object): T {
  return options as T;
}

function refusal(build: () => unknown): ConfigurationError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

const bus = () => createBus({ service: 'shop', transport: 'memory://' });

describe('unknown option keys', () => {
  it('createBus refuses a misspelt option, naming it and the known ones', () => {
    const error = refusal(() => createBus(untyped<BusOptions>({ service: 'shop', transport: 'memory://', stopTimeoutMS: 5 })));
    expect(error.message).toContain('unknown createBus option "stopTimeoutMS"');
    expect(error.message).toContain('known: service, transport,');
    expect(error.message).toContain('stopTimeoutMs');
  });

  it('createBus refuses a misspelt key of middleware', () => {
    const error = refusal(() => createBus(untyped<BusOptions>({ service: 'shop', transport: 'memory://', middleware: { consumer: [] } })));
    expect(error.message).toContain('unknown createBus middleware option "consumer"; known: consume, publish');
  });

  it('createBus refuses a misspelt key of the retry policy and of its delayed part', () => {
    expect(
      refusal(() => createBus(untyped<BusOptions>({ service: 'shop', transport: 'memory://', retry: { immediately: 0 } }))).message,
    ).toContain('unknown retry option "immediately"; known: immediate, delayed');
    const delayed = { attempts: 3, initialMs: 10, maxDelayMs: 100 };
    expect(
      refusal(() => createBus(untyped<BusOptions>({ service: 'shop', transport: 'memory://', retry: { delayed } }))).message,
    ).toContain('unknown retry delayed option "maxDelayMs"; known: attempts, initialMs, factor, maxMs, jitter');
  });

  it('bus.endpoint refuses a misspelt option (prefetchh), naming the endpoint', () => {
    const error = refusal(() => bus().endpoint('billing', (e) => e.on(OrderPlaced, () => {}), untyped<EndpointOptions>({ prefetchh: 10 })));
    expect(error.message).toContain('unknown endpoint billing option "prefetchh"; known: concurrency, prefetch,');
  });

  it("bus.endpoint refuses a misspelt key of a handler's options, its circuit breaker and its rate limit", () => {
    expect(
      refusal(() =>
        bus().endpoint('billing', (e) => e.on(OrderPlaced, () => {}, untyped<{ retry?: never }>({ retries: { immediate: 0 } }))),
      ).message,
    ).toContain('unknown endpoint billing handler option "retries"; known: retry');
    expect(
      refusal(() =>
        bus().endpoint('billing', (e) => e.on(OrderPlaced, () => {}), untyped<EndpointOptions>({ circuitBreaker: { failureRate: 0.5 } })),
      ).message,
    ).toContain('unknown circuitBreaker option "failureRate"');
    expect(
      refusal(() =>
        bus().endpoint('billing', (e) => e.on(OrderPlaced, () => {}), untyped<EndpointOptions>({ rateLimit: { perSecond: 5, burts: 2 } })),
      ).message,
    ).toContain('unknown rateLimit option "burts"; known: perSecond, burst');
  });

  it('every documented option passes', () => {
    const b = createBus({
      service: 'shop',
      transport: 'memory://',
      retry: { immediate: 0, delayed: { attempts: 1, initialMs: 10, factor: 2, maxMs: 100, jitter: 0 } },
      middleware: { consume: [], publish: [] },
      stopTimeoutMs: 10,
      requestTimeoutMs: 10,
      validateOutgoing: true,
      instanceId: 'a',
      faultEvents: false,
    });
    b.endpoint('billing', (e) => e.on(OrderPlaced, () => {}, { retry: { immediate: 1 } }), {
      concurrency: 1,
      prefetch: 2,
      circuitBreaker: { failureRatio: 0.5, minimumCalls: 2, windowMs: 1000, cooldownMs: 10 },
      rateLimit: { perSecond: 5, burst: 2 },
      expired: 'drop',
      maxDeliveries: 3,
      ordered: false,
      takeOver: false,
    });
  });
});
