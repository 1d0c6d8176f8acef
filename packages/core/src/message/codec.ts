/**
 * Turns envelopes into bytes and back. The JSON codec leaves out the attributes that hold their
 * default or repeat another (see `wire-form.ts`) and reads envelopes written with or without them.
 * It refuses prototype-polluting keys (`__proto__`, `constructor.prototype`) and messages above a
 * size limit, and checks the CloudEvents attributes it needs, so a malformed message fails with a `DecodeError` that the
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
import { jsonCopy, NOT_PLAIN, plainCopy } from './json-copy.js';
import { fillDefaults, isDerived, wireForm } from './wire-form.js';
import { isAttributeName, isIntegerText, type BinaryForm } from './binary-form.js';
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
  /**
   * Optional, for transports that hand messages over inside one process (see {@link InProcessMessage}):
   * an envelope equal to `decode(encode(envelope))` and sharing no object with `envelope`, made
   * without bytes. Undefined when only the round trip can tell what it gives (a value the encoding
   * changes, one `decode` would refuse, a size near the limit): then the caller encodes, and the
   * reader decodes, as on a broker. A codec that wraps another and changes what `encode` or `decode`
   * do must not pass the other's `copy` on; the JSON codec's answers only when called on itself, so
   * a spread of it (`{ ...jsonCodec(), encode }`) falls back to encoding.
   */
  copy?(envelope: Envelope): Envelope | undefined;
  /**
   * Optional, with `copy`: a fresh copy of an envelope that this codec's `copy` returned and that
   * nobody has changed since, equal to it and sharing no object with it. It needs none of the
   * checks `copy` makes, so it costs far less (an in-process message takes one per delivery).
   * Undefined makes the caller use `copy` again. The same rule as for `copy`: a codec that wraps
   * another does not pass it on unless it vouches for the other's `copy`.
   */
  copyAgain?(copied: Envelope): Envelope | undefined;
  /**
   * Optional, for transports that carry attributes beside the data (CloudEvents binary content mode,
   * `TransportCapabilities.binaryContent`, see `binary-form.ts`): the envelope as its data encoded
   * alone and its other attributes as strings. Throws what `encode` throws. Undefined when the
   * envelope must travel whole (a value the form cannot hold as it is): then the caller encodes.
   * The same rule as for `copy`: a codec that wraps another and changes what `encode` or `decode` do
   * must not pass it on (the JSON codec's answers only when called on itself).
   */
  toBinary?(envelope: Envelope): BinaryForm | undefined;
  /**
   * Optional, with `toBinary`: the envelope of a binary form, checked as `decode` checks a body
   * (`DecodeError`, `MessageTooLargeError`). Undefined when only `decode` of the structured form can
   * tell (another codec's form): then the caller decodes that.
   */
  fromBinary?(form: BinaryForm): Envelope | undefined;
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
  const codec: Codec = {
    contentType: 'application/cloudevents+json',
    accepts: ['application/json'],
    encode(envelope) {
      const bytes = Buffer.from(JSON.stringify(wireForm(envelope)), 'utf8');
      if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes);
      return bytes;
    },
    decode(bytes) {
      if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes);
      return fillDefaults(checkEnvelope(parseJson(bytes, 'message body')));
    },
    toBinary(this: unknown, envelope: Envelope) {
      if (this !== codec) return undefined; // a codec built from this one may encode otherwise
      const attributes: Record<string, string> = {};
      let size = 2;
      for (const key in envelope) {
        if (key === 'data') continue;
        const value = (envelope as unknown as Record<string, unknown>)[key];
        if (value === undefined || isDerived(envelope, key, value)) continue;
        let text: string;
        if (typeof value === 'string') text = value;
        else if (key === 'dataversion' && typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
        else return undefined; // not a string attribute: only the structured form holds it as it is
        if (!isAttributeName(key)) return undefined;
        attributes[key] = text;
        size += key.length + text.length + 6;
      }
      const json = JSON.stringify(envelope.data) as string | undefined;
      if (json === undefined) return undefined; // no data: the structured form says so, and its reader refuses it
      const data = Buffer.from(json, 'utf8');
      if (data.byteLength + size > maxBytes) throw new MessageTooLargeError(data.byteLength + size, maxBytes);
      return { attributes, data };
    },
    fromBinary(this: unknown, form: BinaryForm) {
      if (this !== codec) return undefined; // a codec built from this one may decode otherwise
      if (form.data.byteLength > maxBytes) throw new MessageTooLargeError(form.data.byteLength, maxBytes);
      const envelope: Record<string, unknown> = {};
      const attributes = form.attributes;
      for (const key in attributes) {
        if (key === 'data' || !isAttributeName(key)) throw new DecodeError(`${JSON.stringify(key)} is not an envelope attribute's name`);
        envelope[key] = attributes[key];
      }
      const version = attributes.dataversion;
      if (version !== undefined) {
        if (!isIntegerText(version)) throw new DecodeError('envelope attribute "dataversion" is not an integer');
        envelope.dataversion = Number(version);
      }
      const contentType = attributes.datacontenttype;
      if (contentType !== undefined && !isJsonMedia(contentType)) {
        throw new DecodeError(`data of content type ${JSON.stringify(contentType)} is not JSON`);
      }
      envelope.data = parseJson(form.data, 'message data');
      return fillDefaults(checkEnvelope(envelope));
    },
    copy(this: unknown, envelope: Envelope) {
      if (this !== codec) return undefined; // a codec built from this one may encode otherwise
      const copied = jsonCopy(envelope, maxBytes);
      if (copied === NOT_PLAIN) return undefined;
      try {
        return fillDefaults(checkEnvelope(copied));
      } catch {
        return undefined; // the reader's decode will say why
      }
    },
    copyAgain(this: unknown, copied: Envelope) {
      return this === codec ? plainCopy(copied) : undefined;
    },
  };
  return codec;
}

const UTF8 = new TextDecoder();

/** The JSON value in `bytes`, refusing prototype-polluting keys; `what` names it in the `DecodeError`. */
function parseJson(bytes: Uint8Array, what: string): unknown {
  const text = UTF8.decode(bytes); // as Buffer#toString (invalid bytes become U+FFFD), a leading byte-order mark dropped
  try {
    return mayPollute(text) ? sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) : JSON.parse(text);
  } catch (error) {
    throw new DecodeError(`${what} is not acceptable JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Whether a media type is JSON: `application/json` or a `+json` type, parameters aside. */
function isJsonMedia(contentType: string): boolean {
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || media.endsWith('+json');
}

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

/** The CloudEvents attributes every envelope carries as non-empty strings. */
/** A non-empty string (what the required string attributes must be). */
function isText(value: unknown): boolean {
  return typeof value === 'string' && value !== '';
}

function missingString(key: 'id' | 'type' | 'source'): DecodeError {
  return new DecodeError(`envelope attribute "${key}" is missing or not a string`);
}

function checkEnvelope(value: unknown): { -readonly [K in keyof Envelope]?: Envelope[K] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError('message body is not a JSON object');
  }
  const v = value as Record<string, unknown>;
  if (v.specversion !== '1.0') throw new DecodeError(`unsupported CloudEvents specversion ${JSON.stringify(v.specversion)}`);
  // Named reads, not a loop over the names: a keyed read of a parsed object is a generic lookup.
  if (!isText(v.id)) throw missingString('id');
  if (!isText(v.type)) throw missingString('type');
  if (!isText(v.source)) throw missingString('source');
  if (!('data' in v)) throw new DecodeError('envelope has no data');
  if (v.dataversion !== undefined && (typeof v.dataversion !== 'number' || !Number.isInteger(v.dataversion))) {
    throw new DecodeError('envelope attribute "dataversion" is not an integer');
  }
  return v;
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
