/**
 * Brings the payload to the contract's current version (running its upcasters, oldest first) and
 * validates it against the contract's schema. Wire taps get the envelope itself. A payload that
 * fails is dead-lettered at once with the schema's issues.
 *
 * @example
 * ```ts
 * const pending = validatePayload(state); // sets state.payload
 * if (pending !== undefined) await pending; // only for an asynchronous schema
 * ```
 * @module
 */
import type { ConsumeState } from '../consume-state.js';
import type { MessageContract } from '../../contracts/contract.js';
import { ValidationError } from '../../errors.js';
import { validate } from '../../contracts/validate.js';

/** Upcasts `data` written against `version` to the contract's current version. */
export function upcast(contract: MessageContract, data: unknown, version: number): unknown {
  if (version === contract.version) return data;
  if (version > contract.version) {
    throw new ValidationError(contract.name, [
      {
        message: `payload version ${version} is newer than this consumer's version ${contract.version}; deploy the newer contract`,
        path: [],
      },
    ]);
  }
  if (version < contract.oldestVersion) {
    throw new ValidationError(contract.name, [
      { message: `payload version ${version} is older than the oldest version this consumer reads (${contract.oldestVersion})`, path: [] },
    ]);
  }
  let value = data;
  for (let v = version; v < contract.version; v++) value = contract.upcasters.get(v)!(value);
  return value;
}

/**
 * The step: sets `state.payload`, or throws `ValidationError`. Synchronous schemas stay synchronous;
 * for an asynchronous one it returns the promise that sets the payload.
 */
export function validatePayload(state: ConsumeState): Promise<void> | undefined {
  const contract = state.route.contract;
  if (contract === undefined) {
    state.payload = state.envelope;
    return undefined;
  }
  const data = upcast(contract, state.envelope.data, state.envelope.dataversion ?? 1);
  const result = validate(contract.schema, contract.name, data);
  if (result instanceof Promise) {
    return result.then((payload) => {
      state.payload = payload;
    });
  }
  state.payload = result;
  return undefined;
}
