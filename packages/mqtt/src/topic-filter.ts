/**
 * MQTT topic filters (`+` one level, `#` the rest), checked when a bridge is built and matched
 * against the topic of each incoming message (a shared subscription hands the real topic).
 *
 * @example
 * ```ts
 * const match = topicFilter('drones/+/telemetry');
 * match('drones/d-7/telemetry'); // true
 * ```
 * @module
 */
import { ConfigurationError } from '@missive/core';

/** Checks `filter` and returns a matcher for topics. Throws a `ConfigurationError` for a filter MQTT would refuse. */
export function topicFilter(filter: string): (topic: string) => boolean {
  if (filter === '' || filter.startsWith('$'))
    throw new ConfigurationError(`MQTT topic filter must be non-empty and not start with $, got ${JSON.stringify(filter)}`);
  const levels = filter.split('/');
  levels.forEach((level, i) => {
    if ((level.includes('+') && level !== '+') || (level.includes('#') && (level !== '#' || i !== levels.length - 1))) {
      throw new ConfigurationError(
        `MQTT topic filter ${JSON.stringify(filter)}: + and # must fill a whole level, and # must be the last one`,
      );
    }
  });
  return (topic) => {
    const parts = topic.split('/');
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i];
      if (level === '#') return true;
      if (i >= parts.length) return false;
      if (level !== '+' && level !== parts[i]) return false;
    }
    return parts.length === levels.length;
  };
}
