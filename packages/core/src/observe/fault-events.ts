/**
 * Fault events (MassTransit's `Fault<T>`): with `createBus({ faultEvents: true })`, every message
 * the bus dead-letters is also published as an event of type `missive.fault.<type>`, carrying the
 * original payload and the failure, in the same conversation and trace. Another service subscribes
 * with `faultOf(Contract)` to alert or compensate; `missive.fault.#` matches every fault.
 *
 * @example
 * ```ts
 * bus.endpoint('ops', (e) => e.on(faultOf(ChargeCard), (fault) => alert(fault.reason, fault.message.orderId)));
 * ```
 * @module
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { defineEvent, type EventContract, type MessageContract, type Payload } from '../contracts/contract.js';

/** The payload of a fault event. `T` is the failed message's payload. */
export interface Fault<T = unknown> {
  /** The failed message's payload as it arrived (undefined when it could not be decoded). */
  readonly message: T;
  readonly messageId: string;
  readonly messageType: string;
  /** Why it was dead-lettered: an `ErrorCode` value (`HANDLER_FAILED`, `VALIDATION`, ...). */
  readonly reason: string;
  readonly exception: { readonly name: string; readonly message: string };
  /** Handler invocations made before it was dead-lettered. */
  readonly attempts: number;
  readonly endpoint: string;
  readonly service: string;
  readonly host: string;
  /** When it was dead-lettered (RFC 3339). */
  readonly failedAt: string;
}

/** The fault event type of a message type. */
export function faultTypeOf(type: string): string {
  return `missive.fault.${type}`;
}

const FIELDS: Record<keyof Fault, 'string' | 'number' | 'object' | 'any'> = {
  message: 'any',
  messageId: 'string',
  messageType: 'string',
  reason: 'string',
  exception: 'object',
  attempts: 'number',
  endpoint: 'string',
  service: 'string',
  host: 'string',
  failedAt: 'string',
};

/** A Standard Schema for fault payloads (checks the failure fields; the message stays as it came). */
function faultSchema<T>(): StandardSchemaV1<Fault<T>, Fault<T>> {
  return {
    '~standard': {
      version: 1,
      vendor: 'missive',
      validate(value) {
        if (value === null || typeof value !== 'object') return { issues: [{ message: 'a fault is an object' }] };
        const record = value as Record<string, unknown>;
        const issues: StandardSchemaV1.Issue[] = [];
        for (const [key, kind] of Object.entries(FIELDS)) {
          if (kind !== 'any' && typeof record[key] !== kind) issues.push({ message: `expected ${kind}`, path: [key] });
        }
        return issues.length > 0 ? { issues } : { value: value as Fault<T> };
      },
    },
  };
}

const contracts = new WeakMap<MessageContract, EventContract>();

/**
 * The fault event contract of `contract`: subscribe to it to hear of its dead letters.
 * @example
 * ```ts
 * e.on(faultOf(ChargeCard), (fault, ctx) => ctx.send(CancelOrder, { orderId: fault.message.orderId }));
 * ```
 */
export function faultOf<C extends MessageContract>(
  contract: C,
): EventContract<string, StandardSchemaV1<Fault<Payload<C>>, Fault<Payload<C>>>> {
  let fault = contracts.get(contract);
  if (fault === undefined) {
    fault = defineEvent(faultTypeOf(contract.name), faultSchema<Payload<C>>());
    contracts.set(contract, fault);
  }
  return fault as EventContract<string, StandardSchemaV1<Fault<Payload<C>>, Fault<Payload<C>>>>;
}

/** The fault contract of a message type known only by name (what the bus has for a dead letter). */
export function faultContractOf(type: string): EventContract {
  return defineEvent(faultTypeOf(type), faultSchema());
}
