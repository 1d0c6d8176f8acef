/**
 * A MessagePack writer for one flat array of strings, byte buffers and small whole numbers: what a
 * publish batch sends as ONE script argument, unpacked in Lua with Redis's built-in `cmsgpack`.
 * ioredis handles each argument of a command on its own (a conversion, a length, a header), so a
 * batch of 100 messages as 900 arguments cost more in the client than the messages themselves.
 * Strings and buffers are written as MessagePack strings (Lua strings are bytes, so a buffer comes
 * back unchanged); numbers as unsigned integers.
 *
 * @example
 * ```ts
 * const packer = new Packer();
 * packer.number(1); packer.string('missive:q:billing'); packer.bytes(body);
 * const arg = packer.finish(); // one Buffer: cmsgpack.unpack(ARGV[n]) in the script
 * ```
 * @module
 */

/** Builds one MessagePack array. Not reusable after `finish`. */
export class Packer {
  private buffer = Buffer.allocUnsafe(4096);
  /** Bytes written, after room for the array header (5 bytes, the largest form). */
  private length = 5;
  private count = 0;

  /** A whole number in [0, 2^32). */
  number(n: number): void {
    this.room(5);
    if (n < 128) {
      this.buffer[this.length++] = n;
    } else {
      this.buffer[this.length] = 0xce;
      this.buffer.writeUInt32BE(n, this.length + 1);
      this.length += 5;
    }
    this.count++;
  }

  /** A string, written as UTF-8. */
  string(s: string): void {
    // A UTF-8 byte count is at most 3 per UTF-16 unit: reserve that, write, then fill in the header.
    this.room(5 + s.length * 3);
    const at = this.length;
    if (s.length < 32 / 3) {
      const bytes = this.buffer.write(s, at + 1, 'utf8');
      this.buffer[at] = 0xa0 | bytes; // fixstr: fewer than 32 bytes
      this.length = at + 1 + bytes;
    } else {
      const bytes = this.buffer.write(s, at + 5, 'utf8');
      this.buffer[at] = 0xdb; // str 32
      this.buffer.writeUInt32BE(bytes, at + 1);
      this.length = at + 5 + bytes;
    }
    this.count++;
  }

  /** Bytes, as they are. */
  bytes(b: Uint8Array): void {
    this.room(5 + b.byteLength);
    this.buffer[this.length] = 0xdb;
    this.buffer.writeUInt32BE(b.byteLength, this.length + 1);
    this.buffer.set(b, this.length + 5);
    this.length += 5 + b.byteLength;
    this.count++;
  }

  /** The array, as one Buffer (a view of the packer's memory). */
  finish(): Buffer {
    const n = this.count;
    let start: number;
    if (n < 16) {
      start = 4;
      this.buffer[start] = 0x90 | n;
    } else if (n < 0x10000) {
      start = 2;
      this.buffer[start] = 0xdc;
      this.buffer.writeUInt16BE(n, start + 1);
    } else {
      start = 0;
      this.buffer[start] = 0xdd;
      this.buffer.writeUInt32BE(n, start + 1);
    }
    return this.buffer.subarray(start, this.length);
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
