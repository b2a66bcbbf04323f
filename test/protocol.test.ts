import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDataGhost, encodeDataGhost, NO_PLAYER_GHOST } from '../src/ghost/protocol/data-ghost.js';
import { FrameDecoder, frame } from '../src/ghost/protocol/framing.js';
import {
  decodeClientPacket,
  decodeConnectConfirm,
  decodeServerPacket,
  encodeClientPacket,
  encodeConnectConfirm,
  encodeServerPacket,
} from '../src/ghost/protocol/packets.js';

interface Vector {
  name: string;
  direction: string;
  transport: string;
  payload_hex: string;
}

const vectors = (
  JSON.parse(readFileSync(new URL('./fixtures/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }
).vectors;

type Codec = {
  decode: (
    bytes: Buffer,
  ) =>
    | ReturnType<typeof decodeClientPacket>
    | ReturnType<typeof decodeServerPacket>
    | ReturnType<typeof decodeConnectConfirm>;
  encode: (packet: never) => Buffer;
};

const clientCodec: Codec = { decode: decodeClientPacket, encode: encodeClientPacket };
const serverCodec: Codec = { decode: decodeServerPacket, encode: encodeServerPacket };
const confirmCodec: Codec = { decode: decodeConnectConfirm, encode: encodeConnectConfirm };

/** Which codec(s) read a vector, from its direction ("both" goes through both). */
function codecsFor(vector: Vector): Codec[] {
  if (vector.name.startsWith('connect_confirm')) return [confirmCodec];
  if (vector.direction === 'both') return [clientCodec, serverCodec];
  if (vector.direction.startsWith('client->server->')) return [clientCodec, serverCodec];
  return vector.direction.startsWith('client->') ? [clientCodec] : [serverCodec];
}

describe('protocol vectors from the real SFML encoder', () => {
  it('has a vector for every header 1–15 and the confirm', () => {
    const headers = new Set(
      vectors.filter((v) => !v.name.startsWith('connect_confirm')).map((v) => Buffer.from(v.payload_hex, 'hex')[0]),
    );
    for (let header = 1; header <= 15; header++) expect(headers.has(header), `header ${header}`).toBe(true);
    expect(vectors.some((v) => v.name.startsWith('connect_confirm'))).toBe(true);
  });

  for (const vector of vectors) {
    it(`${vector.name}: decode then encode gives the same bytes`, () => {
      const bytes = Buffer.from(vector.payload_hex, 'hex');
      for (const codec of codecsFor(vector)) {
        const decoded = codec.decode(bytes);
        if (!decoded.ok) throw new Error(decoded.message);
        expect(decoded.trailingBytes).toBe(0);
        expect(codec.encode(decoded.packet as never).toString('hex')).toBe(vector.payload_hex);
      }
    });

    it(`${vector.name}: every truncation is reported, never thrown`, () => {
      const bytes = Buffer.from(vector.payload_hex, 'hex');
      for (const codec of codecsFor(vector)) {
        for (let length = 0; length < bytes.length; length++) {
          const decoded = codec.decode(bytes.subarray(0, length));
          // VOICE's opaque tail may be any length, so only its fixed prefix can be truncated.
          if (vector.name === 'voice' && length >= 5) continue;
          expect(decoded.ok, `${length} of ${bytes.length} bytes`).toBe(false);
        }
      }
    });
  }

  it('reads the fields of a connect request as SAR sends them', () => {
    const decoded = decodeClientPacket(
      Buffer.from(vectors.find((v) => v.name === 'connect_request')!.payload_hex, 'hex'),
    );
    expect(decoded).toMatchObject({
      ok: true,
      packet: {
        type: 'connect',
        udpPort: 0xc3cb,
        name: 'Player',
        model: 'models/props/food_can/food_can_open.mdl',
        map: 'sp_a1_intro1',
        tcpOnly: false,
        color: { r: 255, g: 128, b: 0 },
        spectator: false,
      },
    });
  });

  it('reads a countdown setup with its u8 step, duration and commands', () => {
    const decoded = decodeServerPacket(
      Buffer.from(vectors.find((v) => v.name === 'countdown_setup')!.payload_hex, 'hex'),
    );
    expect(decoded).toMatchObject({
      ok: true,
      packet: { type: 'countdown_setup', id: 0, duration: 3, preCommands: 'sv_cheats 0', postCommands: 'say go' },
    });
  });

  it('keeps a NaN DataGhost byte for byte', () => {
    const bytes = Buffer.from(vectors.find((v) => v.name === 'update_invalid')!.payload_hex, 'hex');
    const decoded = decodeClientPacket(bytes);
    if (!decoded.ok || decoded.packet.type !== 'update') throw new Error('not an update');
    expect(decoded.packet.ghost.equals(bytes.subarray(5))).toBe(true);
    expect(decoded.packet.ghost.equals(NO_PLAYER_GHOST)).toBe(true);
  });
});

describe('decoder errors', () => {
  it('reports an empty packet', () => {
    expect(decodeClientPacket(Buffer.alloc(0))).toMatchObject({ ok: false, error: { kind: 'empty' } });
  });

  it('reports an unknown header', () => {
    expect(decodeClientPacket(Buffer.from([16, 0, 0, 0, 1]))).toMatchObject({
      ok: false,
      error: { kind: 'unknown_header', header: 16 },
    });
  });

  it('reports a string whose length runs past the end', () => {
    const bytes = Buffer.from('07000000030000ffff6869', 'hex');
    const decoded = decodeClientPacket(bytes);
    expect(decoded).toMatchObject({ ok: false, error: { kind: 'truncated', field: 'text' } });
    if (!decoded.ok) expect(decoded.message).toContain('Message');
  });

  it('reports a bulk update whose count promises more entries than it holds, without looping over the count', () => {
    const bytes = Buffer.from('0900000000ffffffff', 'hex');
    expect(decodeServerPacket(bytes)).toMatchObject({ ok: false, error: { kind: 'truncated', field: 'entry.id' } });
  });

  it('accepts any non-zero byte as true', () => {
    const bytes = Buffer.from(vectors.find((v) => v.name === 'connect_request_spectator_tcp_only')!.payload_hex, 'hex');
    bytes[bytes.length - 1] = 0x7f;
    const decoded = decodeClientPacket(bytes);
    expect(decoded.ok && decoded.packet.type === 'connect' && decoded.packet.spectator).toBe(true);
  });
});

describe('DataGhost helpers', () => {
  it('round-trips a pose and packs view offset and grounded into one byte', () => {
    const pose = { position: { x: 1.5, y: -2, z: 64 }, angles: { x: 0, y: 90, z: 0 }, viewOffset: 64, grounded: true };
    const bytes = encodeDataGhost(pose);
    expect(bytes.length).toBe(25);
    expect(bytes[24]).toBe(0x80 | 64);
    expect(decodeDataGhost(bytes)).toEqual(pose);
  });
});

describe('TCP framing', () => {
  const packets = vectors.map((v) => Buffer.from(v.payload_hex, 'hex'));
  const stream = Buffer.concat(packets.map(frame));

  function split(chunks: Buffer[], maxFrame = 1 << 16): { frames: Buffer[]; error: unknown } {
    const decoder = new FrameDecoder(maxFrame);
    const frames: Buffer[] = [];
    let error: unknown;
    for (const chunk of chunks) {
      error = decoder.push(chunk, (payload) => frames.push(Buffer.from(payload)));
      if (error) break;
    }
    return { frames, error };
  }

  it('splits coalesced frames from one read', () => {
    const { frames } = split([stream]);
    expect(frames.map((f) => f.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
  });

  it('reassembles frames delivered one byte at a time', () => {
    const bytes = [...stream].map((byte) => Buffer.from([byte]));
    expect(split(bytes).frames.map((f) => f.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
  });

  it('reassembles frames cut at every possible point', () => {
    for (let cut = 1; cut < 200; cut++) {
      const { frames } = split([stream.subarray(0, cut), stream.subarray(cut)]);
      expect(frames.length).toBe(packets.length);
    }
  });

  it('passes a zero-length frame through as an empty payload', () => {
    expect(split([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 1])]).frames.map((f) => f.length)).toEqual([0, 1]);
  });

  it('refuses a length prefix over the limit before receiving (or allocating) its body', () => {
    const { frames, error } = split([Buffer.from('0000000101', 'hex'), Buffer.from('ffffffff', 'hex')], 1024);
    expect(frames.length).toBe(1);
    expect(error).toEqual({ kind: 'oversized', declared: 0xffffffff, limit: 1024 });
  });

  it('refuses an oversized prefix split across reads', () => {
    const { error } = split([Buffer.from('0000', 'hex'), Buffer.from('0801', 'hex')], 1024);
    expect(error).toEqual({ kind: 'oversized', declared: 0x801, limit: 1024 });
  });

  it('never throws on random bytes', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let run = 0; run < 300; run++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256)));
      expect(() => decodeClientPacket(bytes)).not.toThrow();
      expect(() => decodeServerPacket(bytes)).not.toThrow();
      expect(() => decodeConnectConfirm(bytes)).not.toThrow();
      expect(() => new FrameDecoder(64).push(bytes, () => {})).not.toThrow();
    }
  });
});
