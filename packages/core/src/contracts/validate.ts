/**
 * Runs a Standard Schema. Synchronous schemas stay synchronous (no promise on the hot path).
 *
 * @example
 * ```ts
 * const result = validate(schema, value);
 * if (result instanceof Promise) await result;
 * ```
 * @module
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError } from '../errors.js';

/** Returns the validated (possibly transformed) value, or a promise of it; throws `ValidationError`. */
export function validate<S extends StandardSchemaV1>(
  schema: S,
  messageType: string,
  value: unknown,
): StandardSchemaV1.InferOutput<S> | Promise<StandardSchemaV1.InferOutput<S>> {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) return result.then((r) => unwrap(r, messageType));
  return unwrap(result, messageType);
}

function unwrap<T>(result: StandardSchemaV1.Result<T>, messageType: string): T {
  if (result.issues !== undefined) {
    throw new ValidationError(
      messageType,
      result.issues.map((issue) => ({
        message: issue.message,
        path: (issue.path ?? []).map((p) => (typeof p === 'object' ? p.key : p)),
      })),
    );
  }
  return result.value;
}
