/**
 * Errors raised by Missive. Every error is a class with a fixed `name`, a `code` from
 * {@link ErrorCode}, an optional `cause`, and a `retryable` flag that the retry policy reads.
 *
 * @example
 * ```ts
 * import { UnrecoverableError } from '@missive/core';
 * throw new UnrecoverableError('card number is invalid'); // dead-lettered at once, no retries
 * ```
 * @module
 */

/** The codes of Missive's errors. */
export const ErrorCode = {
  Configuration: 'CONFIGURATION',
  Decode: 'DECODE',
  Validation: 'VALIDATION',
  UnknownMessageType: 'UNKNOWN_MESSAGE_TYPE',
  Unrecoverable: 'UNRECOVERABLE',
  HandlerFailed: 'HANDLER_FAILED',
  RequestTimeout: 'REQUEST_TIMEOUT',
  RemoteHandler: 'REMOTE_HANDLER',
  Unroutable: 'UNROUTABLE',
  PublishRejected: 'PUBLISH_REJECTED',
  MessageTooLarge: 'MESSAGE_TOO_LARGE',
  Expired: 'EXPIRED',
  NotStarted: 'NOT_STARTED',
  Closed: 'CLOSED',
  Transport: 'TRANSPORT',
  Conflict: 'CONFLICT',
  MaxDeliveries: 'MAX_DELIVERIES',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options every Missive error takes. */
export interface MissiveErrorOptions {
  readonly cause?: unknown;
  /** Overrides the class default. */
  readonly retryable?: boolean;
}

/** Base class of every error Missive raises. */
export class MissiveError extends Error {
  override name = 'MissiveError';
  readonly code: ErrorCode;
  /** Whether trying the same operation again may succeed. The retry policy reads this. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: MissiveErrorOptions & { retryableByDefault?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? options.retryableByDefault ?? false;
  }
}

/** A bad URL, option or definition. Raised at `createBus`, `endpoint` or `start`, never per message. */
export class ConfigurationError extends MissiveError {
  override name = 'ConfigurationError';
  constructor(message: string, options?: MissiveErrorOptions) {
    super(ErrorCode.Configuration, message, options);
  }
}

/** A message whose bytes are not a Missive envelope (bad JSON, forbidden keys, missing attributes). */
export class DecodeError extends MissiveError {
  override name = 'DecodeError';
  constructor(message: string, options?: MissiveErrorOptions) {
    super(ErrorCode.Decode, message, options);
  }
}

/** One problem a schema reported. */
export interface ValidationIssue {
  readonly message: string;
  readonly path: readonly (string | number | symbol)[];
}

/** A payload that does not match its contract's schema. Never retried. */
export class ValidationError extends MissiveError {
  override name = 'ValidationError';
  readonly messageType: string;
  readonly issues: readonly ValidationIssue[];
  constructor(messageType: string, issues: readonly ValidationIssue[], options?: MissiveErrorOptions) {
    const detail = issues
      .slice(0, 5)
      .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
      .join('; ');
    super(ErrorCode.Validation, `invalid ${messageType} payload: ${detail}`, options);
    this.messageType = messageType;
    this.issues = issues;
  }
}

/** A message of a type that no handler of the receiving endpoint knows. Never retried. */
export class UnknownMessageTypeError extends MissiveError {
  override name = 'UnknownMessageTypeError';
  readonly messageType: string;
  constructor(messageType: string, endpoint: string) {
    super(ErrorCode.UnknownMessageType, `endpoint "${endpoint}" has no handler for message type "${messageType}"`);
    this.messageType = messageType;
  }
}

/**
 * Thrown by a handler for a failure that no retry can fix (bad business input, a refused card):
 * the message goes to the dead-letter queue at once.
 */
export class UnrecoverableError extends MissiveError {
  override name = 'UnrecoverableError';
  constructor(message: string, options?: Omit<MissiveErrorOptions, 'retryable'>) {
    super(ErrorCode.Unrecoverable, message, { ...options, retryable: false });
  }
}

/** A handler threw something that was not an Error; the throw is wrapped once, where the pipeline catches it. */
export class HandlerError extends MissiveError {
  override name = 'HandlerError';
  constructor(message: string, options?: MissiveErrorOptions) {
    super(ErrorCode.HandlerFailed, message, { retryableByDefault: true, ...options });
  }
}

/** `bus.request` got no reply in time. Names the query and the time waited. */
export class RequestTimeoutError extends MissiveError {
  override name = 'RequestTimeoutError';
  readonly query: string;
  readonly timeoutMs: number;
  constructor(query: string, timeoutMs: number) {
    super(ErrorCode.RequestTimeout, `request ${query} got no reply within ${timeoutMs} ms`, { retryable: true });
    this.query = query;
    this.timeoutMs = timeoutMs;
  }
}

/** The responder of a request failed; carries the remote error's name and message. */
export class RemoteHandlerError extends MissiveError {
  override name = 'RemoteHandlerError';
  readonly remoteName: string;
  constructor(query: string, remoteName: string, remoteMessage: string) {
    super(ErrorCode.RemoteHandler, `request ${query} failed at the responder: ${remoteName}: ${remoteMessage}`);
    this.remoteName = remoteName;
  }
}

/** A command or a mandatory publish that reached no queue. */
export class UnroutableError extends MissiveError {
  override name = 'UnroutableError';
  readonly destination: string;
  constructor(destination: string, detail = 'no queue is bound to it') {
    super(ErrorCode.Unroutable, `message to "${destination}" is unroutable: ${detail}`);
    this.destination = destination;
  }
}

/** The broker refused a publish (a negative publisher confirm). */
export class PublishRejectedError extends MissiveError {
  override name = 'PublishRejectedError';
  constructor(message: string, options?: MissiveErrorOptions) {
    super(ErrorCode.PublishRejected, message, { retryableByDefault: true, ...options });
  }
}

/** An encoded message larger than the codec's limit. */
export class MessageTooLargeError extends MissiveError {
  override name = 'MessageTooLargeError';
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(ErrorCode.MessageTooLarge, `message of ${size} bytes is over the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
  }
}

/** A message delivered more times than its endpoint's `maxDeliveries` (it probably kills its consumer). Never retried. */
export class PoisonMessageError extends MissiveError {
  override name = 'PoisonMessageError';
  constructor(messageId: string, deliveries: number, limit: number) {
    super(
      ErrorCode.MaxDeliveries,
      `message ${messageId} was delivered ${deliveries} times, over the limit of ${limit}; its consumer probably crashed handling it`,
    );
  }
}

/** A message handled after its expiry time. */
export class MessageExpiredError extends MissiveError {
  override name = 'MessageExpiredError';
  constructor(messageType: string, expiredAt: number) {
    super(ErrorCode.Expired, `${messageType} expired at ${new Date(expiredAt).toISOString()}`);
  }
}

/** An operation on a bus or transport that is not started, or already stopped. */
export class BusStateError extends MissiveError {
  override name = 'BusStateError';
  constructor(code: typeof ErrorCode.NotStarted | typeof ErrorCode.Closed, message: string) {
    super(code, message);
  }
}

/** A broker or database failure. Retryable unless the transport says otherwise. */
export class TransportError extends MissiveError {
  override name = 'TransportError';
  constructor(message: string, options?: MissiveErrorOptions) {
    super(ErrorCode.Transport, message, { retryableByDefault: true, ...options });
  }
}

/** An optimistic-concurrency conflict in a store. Retryable. */
export class ConcurrencyConflictError extends MissiveError {
  override name = 'ConcurrencyConflictError';
  constructor(message: string, options?: MissiveErrorOptions) {
    super(ErrorCode.Conflict, message, { retryableByDefault: true, ...options });
  }
}

/**
 * A promise rejected with exactly what was thrown, as an `async` function that threw it would
 * return: for the functions of the hot path that are not `async` (to save a promise) but must keep
 * an async function's contract that a throw becomes a rejection.
 */
export function rejection(thrown: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the thrown value, unchanged
  return Promise.reject(thrown);
}

/**
 * Normalises anything thrown into an `Error`. Called once, where the pipeline catches a handler's throw.
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let text: string;
  try {
    text = typeof thrown === 'string' ? thrown : JSON.stringify(thrown);
  } catch {
    text = String(thrown);
  }
  return new HandlerError(`non-Error thrown: ${text}`, { cause: thrown });
}

/** Whether an error may succeed on retry: `retryable === false` on the error (or its class) says no. */
export function isRetryable(error: Error): boolean {
  const flag = (error as { retryable?: unknown }).retryable;
  return flag !== false;
}
