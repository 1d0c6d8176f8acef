/**
 * JetStream API error codes Missive tells apart (the `err_code` of an API error), and the code of
 * an error nats.js raised from an API answer.
 *
 * @example
 * ```ts
 * if (apiCode(error) === ApiError.StreamNotFound) return false;
 * ```
 * @module
 */

/** The JetStream `err_code`s Missive acts on. */
export const ApiError = {
  /** No such consumer. */
  ConsumerNotFound: 10014,
  /** A consumer of that name exists with another configuration. */
  ConsumerExists: 10013,
  /** No message matches a get request. */
  NoMessageFound: 10037,
  /** No such stream. */
  StreamNotFound: 10059,
  /** A publish's expected last (subject) sequence does not match: a KV create or update lost a race. */
  WrongLastSequence: 10071,
  /** A consumer of that name exists (2.9 phrasing of {@link ApiError.ConsumerExists}). */
  ConsumerAlreadyExists: 10148,
} as const;

/** The JetStream `err_code` of an error raised by nats.js, if it has one. */
export function apiCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code;
}
