/**
 * An envelope in CloudEvents **binary content mode**: the data encoded alone, and every other
 * attribute as a string beside it, for a transport that carries attributes in its own headers (the
 * CloudEvents NATS binding's `ce-<attribute>` headers). The structured form (the envelope as one JSON
 * document, `Codec.encode`) stays what every transport can carry; a codec offers this one through
 * `Codec.toBinary` / `Codec.fromBinary`, a transport asks for it with
 * `TransportCapabilities.binaryContent`.
 *
 * What travels in `attributes` is what the codec's wire form writes (see `wire-form.ts`: attributes
 * that hold their default or repeat another are left out), each as its CloudEvents canonical string
 * (an integer in decimal). A transport may leave out of its wire what it can put back exactly on
 * reading (the id its broker already carries, the type its subject names); {@link structuredJson}
 * turns a form back into the structured form for readers that want the whole envelope's bytes.
 *
 * @example
 * ```ts
 * const form = codec.toBinary?.(envelope); // { attributes: { specversion: '1.0', id, type, source, time }, data }
 * const back = form === undefined ? undefined : codec.fromBinary?.(form);
 * ```
 * @module
 */

/** An envelope as attributes and data (CloudEvents binary content mode). */
export interface BinaryForm {
  /** Every attribute but `data`, by its CloudEvents name, as a string. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The data alone, encoded as the attributes' `datacontenttype` says (JSON when absent). */
  readonly data: Uint8Array;
}

/** Whether `name` can be a CloudEvents attribute: lower-case letters and digits (so never `__proto__`). */
export function isAttributeName(name: string): boolean {
  const n = name.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

/** Whether the attributes' integer-typed value `value` is written as JSON does an integer. */
export function isIntegerText(value: string): boolean {
  return /^-?(0|[1-9]\d{0,15})$/.test(value);
}

/**
 * The structured JSON form of `form` (its attributes and, as `data`, its data as they are), as the
 * JSON codec's `decode` reads it. Data that is not JSON gives text that is not JSON: its reader
 * refuses it as it would refuse the message.
 */
export function structuredJson(form: BinaryForm): Uint8Array {
  let text = '{';
  for (const key in form.attributes) {
    if (key === 'data') continue;
    const value = form.attributes[key]!;
    text += `${JSON.stringify(key)}:${key === 'dataversion' && isIntegerText(value) ? value : JSON.stringify(value)},`;
  }
  const data = Buffer.from(form.data.buffer, form.data.byteOffset, form.data.byteLength);
  return Buffer.concat([Buffer.from(`${text}"data":`, 'utf8'), data, Buffer.from('}', 'utf8')]);
}
