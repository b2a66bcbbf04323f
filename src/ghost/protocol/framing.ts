/**
 * TCP framing: every packet travels as a u32 big-endian payload length followed by the payload.
 * A read from the socket may hold several frames, part of one, or even part of a length prefix.
 */

export const LENGTH_PREFIX_SIZE = 4;

export type FrameError = { kind: 'oversized'; declared: number; limit: number };

/** Prepends the length prefix to a payload. */
export function frame(payload: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(LENGTH_PREFIX_SIZE + payload.length);
  framed.writeUInt32BE(payload.length, 0);
  framed.set(payload, LENGTH_PREFIX_SIZE);
  return framed;
}

/**
 * Splits a byte stream into payloads. A frame that arrives whole inside one read is handed out
 * without copying; a frame split across reads is assembled in one buffer of its declared size,
 * so a client that trickles bytes costs no repeated copying. A length prefix above
 * `maxFrameSize` is reported before anything is allocated for it.
 */
export class FrameDecoder {
  private readonly prefix = Buffer.alloc(LENGTH_PREFIX_SIZE);
  private prefixFilled = 0;
  private body: Buffer | undefined;
  private bodyFilled = 0;

  constructor(private readonly maxFrameSize: number) {}

  /** Bytes held back waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.prefixFilled + this.bodyFilled;
  }

  /**
   * Feeds one read. Calls `onFrame` for every complete payload, in order; the payload may share
   * memory with `chunk`, so copy it to keep it. Returns an error, and stops, at the first frame
   * that is too large; the stream cannot be resynchronised after that.
   */
  push(chunk: Buffer, onFrame: (payload: Buffer) => void): FrameError | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.body !== undefined) {
        const copied = chunk.copy(this.body, this.bodyFilled, offset);
        this.bodyFilled += copied;
        offset += copied;
        if (this.bodyFilled < this.body.length) return undefined;
        const complete = this.body;
        this.body = undefined;
        this.bodyFilled = 0;
        onFrame(complete);
        continue;
      }
      let declared: number;
      if (this.prefixFilled === 0 && chunk.length - offset >= LENGTH_PREFIX_SIZE) {
        declared = chunk.readUInt32BE(offset);
        offset += LENGTH_PREFIX_SIZE;
        if (declared > this.maxFrameSize) return { kind: 'oversized', declared, limit: this.maxFrameSize };
        if (chunk.length - offset >= declared) {
          onFrame(chunk.subarray(offset, offset + declared));
          offset += declared;
          continue;
        }
      } else {
        const copied = chunk.copy(
          this.prefix,
          this.prefixFilled,
          offset,
          offset + LENGTH_PREFIX_SIZE - this.prefixFilled,
        );
        this.prefixFilled += copied;
        offset += copied;
        if (this.prefixFilled < LENGTH_PREFIX_SIZE) return undefined;
        this.prefixFilled = 0;
        declared = this.prefix.readUInt32BE(0);
        if (declared > this.maxFrameSize) return { kind: 'oversized', declared, limit: this.maxFrameSize };
      }
      this.body = Buffer.allocUnsafe(declared);
      this.bodyFilled = 0;
      if (declared === 0) {
        this.body = undefined;
        onFrame(Buffer.alloc(0));
      }
    }
    return undefined;
  }
}
