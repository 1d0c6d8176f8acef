/**
 * The check that an options object holds no key its reader does not know. TypeScript refuses a
 * misspelt option (`{ prefetchh: 10 }`); JavaScript, a config file or a spread object would pass it
 * through, and the reader would use the default without a word. Each reader of an options object
 * (the bus, an endpoint, a retry policy, a transport) calls this once, when it is built.
 *
 * `known` is a record with every key of the options type set to `true`: the compiler then refuses
 * a reader whose list misses an option added to its type later, so the list cannot drift.
 *
 * @example
 * ```ts
 * checkKnownKeys('rabbitmq', options, { url: true, queueType: true, publishTimeoutMs: true, maxBuffered: true, socketOptions: true, failover: true });
 * // { url, prefetchh: 10 } throws: unknown rabbitmq option "prefetchh"; known: url, queueType, ...
 * ```
 * @module
 */
import { ConfigurationError } from './errors.js';

/**
 * Throws a `ConfigurationError` naming the first own key of `options` that is not in `known`, and
 * listing the known ones; `what` names the options' owner (`endpoint payment`, `rabbitmq`). Does
 * nothing for a value that is not an object (its reader reports that itself).
 */
export function checkKnownKeys<T extends object>(
  what: string,
  options: T | undefined,
  known: NoInfer<{ readonly [K in keyof T]-?: true }>,
): void {
  if (options === null || typeof options !== 'object') return;
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(known, key)) {
      throw new ConfigurationError(`unknown ${what} option ${JSON.stringify(key)}; known: ${Object.keys(known).join(', ')}`);
    }
  }
}
