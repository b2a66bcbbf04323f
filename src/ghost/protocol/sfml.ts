/**
 * Primitive encoding used by SFML's `sf::Packet`, which SAR and the reference server use:
 * integers big-endian, floats copied raw (little-endian on x86), strings as a u32 byte length
 * followed by the bytes, booleans as one byte.
 */

/** Thrown inside a decoder when a field runs past the end of the packet; never escapes `decode*`. */
export class TruncatedPacket extends Error {
  constructor(
    readonly field: string,
    readonly needed: number,
    readonly available: number,
  ) {
    super(`truncated at ${field}: needs ${needed} bytes, ${available} left`);
  }
}

export class PacketReader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private take(field: string, size: number): number {
    if (size > this.remaining) throw new TruncatedPacket(field, size, this.remaining);
    const at = this.offset;
    this.offset += size;
    return at;
  }

  u8(field: string): number {
    return this.bytes.readUInt8(this.take(field, 1));
  }

  bool(field: string): boolean {
    return this.u8(field) !== 0;
  }

  u16(field: string): number {
    return this.bytes.readUInt16BE(this.take(field, 2));
  }

  u32(field: string): number {
    return this.bytes.readUInt32BE(this.take(field, 4));
  }

  f32(field: string): number {
    return this.bytes.readFloatLE(this.take(field, 4));
  }

  string(field: string): string {
    const length = this.u32(field);
    const at = this.take(field, length);
    return this.bytes.toString('utf8', at, at + length);
  }

  /** A copy, so the result does not pin the (possibly large) read buffer it came from. */
  raw(field: string, size: number): Buffer {
    const at = this.take(field, size);
    return Buffer.from(this.bytes.subarray(at, at + size));
  }

  rest(): Buffer {
    return this.raw('rest', this.remaining);
  }
}

export class PacketWriter {
  private bytes: Buffer;
  private length = 0;

  constructor(initialCapacity = 64) {
    this.bytes = Buffer.allocUnsafe(initialCapacity);
  }

  /** Makes room for `size` more bytes and returns where they go. May replace `this.bytes`. */
  private reserve(size: number): number {
    const needed = this.length + size;
    if (needed > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    const at = this.length;
    this.length = needed;
    return at;
  }

  u8(value: number): this {
    const at = this.reserve(1);
    this.bytes.writeUInt8(value, at);
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  u16(value: number): this {
    const at = this.reserve(2);
    this.bytes.writeUInt16BE(value, at);
    return this;
  }

  u32(value: number): this {
    const at = this.reserve(4);
    this.bytes.writeUInt32BE(value, at);
    return this;
  }

  f32(value: number): this {
    const at = this.reserve(4);
    this.bytes.writeFloatLE(value, at);
    return this;
  }

  string(value: string): this {
    const size = Buffer.byteLength(value, 'utf8');
    this.u32(size);
    const at = this.reserve(size);
    this.bytes.write(value, at, size, 'utf8');
    return this;
  }

  raw(value: Uint8Array): this {
    const at = this.reserve(value.length);
    this.bytes.set(value, at);
    return this;
  }

  /** The encoded bytes (a fresh buffer of exactly the written length). */
  finish(): Buffer {
    return Buffer.from(this.bytes.subarray(0, this.length));
  }
}
