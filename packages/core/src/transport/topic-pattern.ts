/**
 * Topic patterns with AMQP topic semantics: dot-separated words, `*` matches exactly one word,
 * `#` matches zero or more words. Wire taps and bindings use them; every transport matches the same way.
 *
 * @example
 * ```ts
 * topicMatcher('shop.#')('shop.order-placed'); // true
 * topicMatcher('*.order-placed')('shop.order-placed'); // true
 * ```
 * @module
 */
import { ConfigurationError } from '../errors.js';

const WORD = /^[A-Za-z0-9_-]+$/;

/** Throws a `ConfigurationError` naming the fault when `pattern` is not a valid topic pattern. */
export function checkTopicPattern(pattern: string): void {
  if (typeof pattern !== 'string' || pattern === '') throw new ConfigurationError('a topic pattern must be a non-empty string');
  for (const word of pattern.split('.')) {
    if (word !== '*' && word !== '#' && !WORD.test(word)) {
      throw new ConfigurationError(`topic pattern "${pattern}" has an invalid word "${word}": use letters, digits, "-", "_", "*" or "#"`);
    }
  }
}

/** A word that is a wildcard: `*` or `#` between dots or the ends. */
const WILDCARD_WORD = /(?:^|\.)[*#](?:\.|$)/;

/** Whether a pattern has no wildcard. Runs on every publish, so it allocates nothing. */
export function isExactTopic(pattern: string): boolean {
  return !WILDCARD_WORD.test(pattern);
}

/** Compiles a pattern to a predicate on topics. */
export function topicMatcher(pattern: string): (topic: string) => boolean {
  checkTopicPattern(pattern);
  if (isExactTopic(pattern)) return (topic) => topic === pattern;
  const want = pattern.split('.');
  return (topic) => match(want, 0, topic.split('.'), 0);
}

function match(p: readonly string[], pi: number, t: readonly string[], ti: number): boolean {
  while (pi < p.length) {
    const word = p[pi]!;
    if (word === '#') {
      if (pi === p.length - 1) return true;
      for (let k = ti; k <= t.length; k++) if (match(p, pi + 1, t, k)) return true;
      return false;
    }
    if (ti >= t.length) return false;
    if (word !== '*' && word !== t[ti]) return false;
    pi++;
    ti++;
  }
  return ti === t.length;
}
