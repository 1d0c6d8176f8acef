/**
 * The check of an announcement read from the bus. Anyone who can publish can put anything on the
 * announcements' topic, so the catalog takes in only what has an announcement's shape: a message
 * without `endpoints` made every later `contracts()` throw (the Services view, `missive services`
 * and `missive asyncapi` failed until the dashboard restarted), and one without a finite
 * `intervalMs` never went stale.
 *
 * @example
 * ```ts
 * const announcement = announcementFrom(envelope.data);
 * if (announcement !== undefined) catalog.receive(announcement);
 * ```
 * @module
 */
import type { Announcement, ContractInfo } from './announcement.js';

const STATES: readonly unknown[] = ['started', 'heartbeat', 'stopped'];
const KINDS: readonly unknown[] = ['event', 'command', 'query'];

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

function isContract(value: unknown): value is ContractInfo {
  return (
    isRecord(value) &&
    isString(value.name) &&
    KINDS.includes(value.kind) &&
    isNumber(value.version) &&
    (value.description === undefined || isString(value.description))
  );
}

function isEndpoint(value: unknown): value is Announcement['endpoints'][number] {
  return (
    isRecord(value) && isString(value.name) && isStrings(value.topics) && Array.isArray(value.handles) && value.handles.every(isContract)
  );
}

function isHealth(value: unknown): value is Announcement['health'] {
  return value === undefined || (isRecord(value) && typeof value.ready === 'boolean' && isStrings(value.reasons));
}

/** `value` as an announcement, or undefined when it does not have an announcement's shape. */
export function announcementFrom(value: unknown): Announcement | undefined {
  if (!isRecord(value)) return undefined;
  const ok =
    isString(value.service) &&
    isString(value.instance) &&
    isString(value.host) &&
    isNumber(value.pid) &&
    (value.version === undefined || isString(value.version)) &&
    STATES.includes(value.state) &&
    isNumber(value.intervalMs) &&
    value.intervalMs > 0 &&
    isNumber(value.at) &&
    isNumber(value.startedAt) &&
    Array.isArray(value.endpoints) &&
    value.endpoints.every(isEndpoint) &&
    Array.isArray(value.sends) &&
    value.sends.every(isContract) &&
    isHealth(value.health);
  return ok ? (value as unknown as Announcement) : undefined;
}
