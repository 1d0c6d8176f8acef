/**
 * Turns envelopes into bytes and back. The JSON codec refuses prototype-polluting keys
 * (`__proto__`, `constructor.prototype`) and messages above a size limit, and checks the
 * CloudEvents attributes it needs, so a malformed message fails with a `DecodeError` that the
 * bus dead-letters with its reason.
 *
 * @example
 * ```ts
 * const codec = jsonCodec({ maxBytes: 256 * 1024 });
 * const bytes = codec.encode(envelope);
 * const back = codec.decode(bytes);
 * ```
 * @module
 */
import sjson from 'secure-json-parse';
import type { Envelope } from './envelope.js';
import { ConfigurationError, DecodeError, MessageTooLargeError } from '../errors.js';

/** Encodes and decodes envelopes. */
export interface Codec {
  /** The content type of the encoded form. */
  readonly contentType: string;
  /**
   * Other media types (lower case, without parameters) whose bodies `decode` reads. A delivery
   * declaring a type that is neither this nor `contentType` is dead-lettered with `DECODE`.
   */
  readonly accepts?: readonly string[];
  /** Throws `MessageTooLargeError` above the limit. */
  encode(envelope: Envelope): Uint8Array;
  /** Throws `DecodeError` for anything that is not a well-formed envelope, `MessageTooLargeError` above the limit. */
  decode(bytes: Uint8Array): Envelope;
}

/** Options of {@link jsonCodec}. */
export interface JsonCodecOptions {
  /** Largest encoded message accepted either way, in bytes. Default 1 MiB. */
  readonly maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;

/** The JSON codec (CloudEvents structured mode). */
export function jsonCodec(options: JsonCodecOptions = {}): Codec {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) {
    throw new ConfigurationError(`codec maxBytes must be a positive integer, got ${String(options.maxBytes)}`);
  }
  return {
    contentType: 'application/cloudevents+json',
    accepts: ['application/json'],
    encode(envelope) {
      const bytes = Buffer.from(JSON.stringify(envelope), 'utf8');
      if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes);
      return bytes;
    },
    decode(bytes) {
      if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes);
      const text = UTF8.decode(bytes); // as Buffer#toString (invalid bytes become U+FFFD), a leading byte-order mark dropped
      let value: unknown;
      try {
        value = mayPollute(text) ? sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) : JSON.parse(text);
      } catch (error) {
        throw new DecodeError(`message body is not acceptable JSON: ${(error as Error).message}`, { cause: error });
      }
      return checkEnvelope(value);
    },
  };
}

const UTF8 = new TextDecoder();

/**
 * Whether `text` can hold a `__proto__` key or a `constructor` key holding a `prototype` key (what
 * secure-json-parse refuses). A key's letters are either written out or escaped as `\u`, and both
 * keys that can pollute contain `proto`: text with neither `proto` nor `\u` has none, and plain
 * `JSON.parse` is safe for it. The rest goes through secure-json-parse. Two substring scans cost
 * far less than its pattern scans.
 */
function mayPollute(text: string): boolean {
  return text.includes('proto') || text.includes('\\u');
}

function checkEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError('message body is not a JSON object');
  }
  const v = value as Record<string, unknown>;
  if (v.specversion !== '1.0') throw new DecodeError(`unsupported CloudEvents specversion ${JSON.stringify(v.specversion)}`);
  for (const key of ['id', 'type', 'source'] as const) {
    if (typeof v[key] !== 'string' || v[key] === '') throw new DecodeError(`envelope attribute "${key}" is missing or not a string`);
  }
  if (!('data' in v)) throw new DecodeError('envelope has no data');
  if (v.dataversion !== undefined && (typeof v.dataversion !== 'number' || !Number.isInteger(v.dataversion))) {
    throw new DecodeError('envelope attribute "dataversion" is not an integer');
  }
  return v as unknown as Envelope;
}

/**
 * Why a body declared with `contentType` and `contentEncoding` (either may be absent: then the
 * codec's own is assumed) cannot be read by `codec`, or undefined when it can.
 */
export function unreadableContent(codec: Codec, contentType: string | undefined, contentEncoding: string | undefined): string | undefined {
  if (contentEncoding !== undefined && contentEncoding !== '' && contentEncoding.toLowerCase() !== 'identity') {
    return `content-encoding ${JSON.stringify(contentEncoding)} is not supported: the codec reads unencoded ${codec.contentType} bodies`;
  }
  if (contentType === undefined || contentType === '') return undefined;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  if (media === codec.contentType || codec.accepts?.includes(media) === true) return undefined;
  return `content type ${JSON.stringify(contentType)} is not one the codec reads (${[codec.contentType, ...(codec.accepts ?? [])].join(', ')})`;
}
