import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { systemClock } from '../clock.js';
import { defineEvent } from '../contracts/contract.js';
import { jsonCodec } from '../message/codec.js';
import { createEnvelope } from '../message/envelope.js';
import type { Delivery } from '../transport/transport.js';
import { consumePipeline } from './consume-pipeline.js';
import { ConsumeState } from './consume-state.js';
import { defineEndpoint } from './endpoint.js';
import type { Middleware } from './pipeline.js';

const Placed = defineEvent('pipeline.placed', z.object({ n: z.number() }));
const codec = jsonCodec();

function stateFor(n: unknown): ConsumeState {
  const envelope = createEnvelope({ type: Placed.name, source: '/missive/test', data: { n } });
  const delivery: Delivery = {
    message: { id: envelope.id, type: envelope.type, body: codec.encode(envelope), headers: {} },
    deliveryCount: 1,
    ack: async () => undefined,
    nack: async () => undefined,
    deadLetter: async () => undefined,
  };
  return new ConsumeState('test', 'pipeline', delivery);
}

function pipelineOf(handler: (payload: unknown) => void | Promise<void>, middleware: Middleware<ConsumeState>[] = []) {
  const definition = defineEndpoint('pipeline', (e) => e.on(Placed, (payload) => handler(payload)), {}, { immediate: 1, delayed: false });
  return consumePipeline({
    definition,
    codec,
    clock: systemClock,
    onExpired: () => undefined,
    onRetry: () => undefined,
    observe: (state, attempt) => attempt(state),
    middleware,
    handler: (state) => {
      const result = state.route.run(state.payload, undefined as never);
      return result instanceof Promise ? (result as Promise<void>) : undefined;
    },
  });
}

describe('the consume pipeline', () => {
  it('returns no promise when the handler returned none: nothing to wait for', () => {
    const seen: unknown[] = [];
    const pipeline = pipelineOf((payload) => void seen.push(payload));
    expect(pipeline(stateFor(1))).toBeUndefined();
    expect(seen).toEqual([{ n: 1 }]);
  });

  it('returns the promise of a handler that returned one, and retries a failure', async () => {
    let calls = 0;
    const pipeline = pipelineOf(async () => {
      if (++calls === 1) throw new Error('once');
    });
    const state = stateFor(2);
    await pipeline(state);
    expect(calls).toBe(2);
    expect(state.attempt).toBe(2);
  });

  it('retries a handler that throws at once, and throws what ends the delivery', async () => {
    let calls = 0;
    const pipeline = pipelineOf(() => {
      calls++;
      throw new Error('always');
    });
    await expect(Promise.resolve().then(() => pipeline(stateFor(3)))).rejects.toThrow('always');
    expect(calls).toBe(2);
  });

  it('gives middleware a promise from next, which rejects when validation fails', async () => {
    const outcomes: string[] = [];
    const middleware: Middleware<ConsumeState> = (_state, next) => {
      const pending = next();
      outcomes.push(pending instanceof Promise ? 'promise' : typeof pending);
      return pending.catch((error: unknown) => {
        outcomes.push((error as Error).name);
        throw error;
      });
    };
    const pipeline = pipelineOf(() => undefined, [middleware]);
    await pipeline(stateFor(4));
    await expect(Promise.resolve().then(() => pipeline(stateFor('not a number')))).rejects.toThrow();
    expect(outcomes).toEqual(['promise', 'promise', 'ValidationError']);
  });
});
