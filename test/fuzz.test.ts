/**
 * Property-based fuzzing of the framer and every decoder, and of the server with hostile bytes.
 * `npm test` runs a few thousand inputs per property; `npm run fuzz` runs many more
 * (FUZZ_RUNS sets how many).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATA_GHOST_SIZE } from '../src/ghost/protocol/data-ghost.js';
import { FrameDecoder, frame, LENGTH_PREFIX_SIZE } from '../src/ghost/protocol/framing.js';
import {
  decodeClientPacket,
  decodeConnectConfirm,
  decodeServerPacket,
  encodeClientPacket,
  encodeServerPacket,
  type ClientPacket,
} from '../src/ghost/protocol/packets.js';
import { join, rawConnection, sleep, startServer } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SERVER_RUNS = Math.max(20, Math.round(RUNS / 50));

const u32 = fc.nat({ max: 0xffffffff });
const text = fc.string({ maxLength: 40, unit: 'grapheme' });
const ghost = fc
  .uint8Array({ minLength: DATA_GHOST_SIZE, maxLength: DATA_GHOST_SIZE })
  .map((bytes) => Buffer.from(bytes));
const color = fc.record({ r: fc.nat(255), g: fc.nat(255), b: fc.nat(255) });
// Floats that survive a round trip through f32 exactly (NaN payloads are covered by raw DataGhosts).
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true }).map((value) => Math.fround(value));
const vec3 = fc.record({ x: f32, y: f32, z: f32 });

/** Every packet a client can send, with arbitrary field values. */
const clientPacket: fc.Arbitrary<ClientPacket> = fc.oneof(
  fc.constant({ type: 'none' as const }),
  fc.record({ type: fc.constant('ping' as const), id: u32 }),
  fc.record({
    type: fc.constant('connect' as const),
    udpPort: fc.nat(65535),
    name: text,
    ghost,
    model: text,
    map: text,
    tcpOnly: fc.boolean(),
    color,
    spectator: fc.boolean(),
  }),
  fc.record({ type: fc.constant('disconnect' as const), id: u32 }),
  fc.record({ type: fc.constant('stop_server' as const), id: u32 }),
  fc.record({ type: fc.constant('map_change' as const), id: u32, map: text, ticks: u32, ticksTotal: u32 }),
  fc.record({ type: fc.constant('heartbeat' as const), id: u32, token: u32 }),
  fc.record({ type: fc.constant('message' as const), id: u32, text }),
  fc.record({ type: fc.constant('countdown_confirm' as const), id: u32, step: fc.nat(255) }),
  fc.record({ type: fc.constant('update' as const), id: u32, ghost }),
  fc.record({ type: fc.constant('speedrun_finish' as const), id: u32, time: text }),
  fc.record({ type: fc.constant('model_change' as const), id: u32, model: text }),
  fc.record({ type: fc.constant('color_change' as const), id: u32, color }),
  fc.record({ type: fc.constant('taunt' as const), id: u32, animation: text }),
  fc.record({ type: fc.constant('locator' as const), id: u32, position: vec3, normal: vec3 }),
  fc.record({
    type: fc.constant('voice' as const),
    id: u32,
    data: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  }),
);

describe('decoders under arbitrary bytes', () => {
  it('never throw, and report every failure as a value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        for (const decode of [decodeClientPacket, decodeServerPacket, decodeConnectConfirm]) {
          const result = decode(buffer);
          if (!result.ok) expect(typeof result.message).toBe('string');
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trip every client packet, and reject every truncation of it', () => {
    fc.assert(
      fc.property(clientPacket, (packet) => {
        const bytes = encodeClientPacket(packet);
        const decoded = decodeClientPacket(bytes);
        if (!decoded.ok) throw new Error(decoded.message);
        expect(decoded.packet).toEqual(packet);
        // Only VOICE ends in an opaque tail of any length; every other cut is a truncation.
        const tailIsOpaque = packet.type === 'voice' && packet.data.length > 0;
        expect(decodeClientPacket(bytes.subarray(0, bytes.length - 1)).ok).toBe(tailIsOpaque);
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trip the packets both sides share through the server decoder too', () => {
    fc.assert(
      fc.property(clientPacket, (packet) => {
        if (['none', 'ping', 'connect', 'stop_server', 'countdown_confirm', 'update'].includes(packet.type)) return;
        const decoded = decodeServerPacket(encodeClientPacket(packet));
        if (!decoded.ok) throw new Error(decoded.message);
        expect(encodeServerPacket(decoded.packet)).toEqual(encodeClientPacket(packet));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('framer under arbitrary streams', () => {
  it('returns exactly the frames sent, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((payload) => frame(payload)));
          const points = [...new Set(cuts.map((cut) => (stream.length === 0 ? 0 : cut % stream.length)))].sort(
            (a, b) => a - b,
          );
          const decoder = new FrameDecoder(1024);
          const received: string[] = [];
          let start = 0;
          for (const point of [...points, stream.length]) {
            const error = decoder.push(stream.subarray(start, point), (payload) =>
              received.push(Buffer.from(payload).toString('hex')),
            );
            expect(error).toBeUndefined();
            start = point;
          }
          expect(received).toEqual(payloads.map((payload) => Buffer.from(payload).toString('hex')));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never holds more than one frame limit of data, and stops at an oversized length', () => {
    const limit = 256;
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 20 }), (chunks) => {
        const decoder = new FrameDecoder(limit);
        for (const chunk of chunks) {
          const error = decoder.push(Buffer.from(chunk), (payload) =>
            expect(payload.length).toBeLessThanOrEqual(limit),
          );
          if (error !== undefined) {
            expect(error.declared).toBeGreaterThan(limit);
            return;
          }
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(limit + LENGTH_PREFIX_SIZE);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('framer against oversized lengths split anywhere', () => {
  it('reports an oversized length before allocating, even when the prefix arrives in pieces', () => {
    const limit = 256;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes.subarray(0, Math.min(bytes.length, limit)))),
        fc.integer({ min: limit + 1, max: 0xffffffff }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 8 }),
        (before, declared, pieceSizes) => {
          const prefix = Buffer.alloc(4);
          prefix.writeUInt32BE(declared);
          const stream = Buffer.concat([frame(before), prefix, Buffer.alloc(16)]);
          const decoder = new FrameDecoder(limit);
          let offset = 0;
          let error;
          for (let i = 0; error === undefined && offset < stream.length; i++) {
            const size = pieceSizes[i % pieceSizes.length]!;
            error = decoder.push(stream.subarray(offset, offset + size), () => {});
            offset += size;
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(limit + LENGTH_PREFIX_SIZE);
          }
          expect(error).toEqual({ kind: 'oversized', declared, limit });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('the server under hostile bytes', () => {
  it('relays nothing malformed and keeps well-behaved clients connected', { timeout: 60_000 }, async () => {
    const server = await startServer({ limits: { max_frame_bytes: 2048 } });
    const watcher = await join(server, 'Watcher');
    const player = await join(server, 'Player');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        // Any announced UDP port (0 included, which no real client sends) and either transport.
        fc.integer({ min: 0, max: 0xffff }),
        fc.boolean(),
        async (frames, handshakeFirst, udpPort, tcpOnly) => {
          const attacker = await rawConnection(server);
          attacker.on('error', () => {});
          if (handshakeFirst) {
            attacker.write(
              frame(
                encodeClientPacket({
                  type: 'connect',
                  udpPort,
                  name: 'Fuzzer',
                  ghost: Buffer.alloc(DATA_GHOST_SIZE),
                  model: 'm',
                  map: 'sp_a1_intro1',
                  tcpOnly,
                  color: { r: 0, g: 0, b: 0 },
                  spectator: false,
                }),
              ),
            );
          }
          // Frames with arbitrary payloads, some claiming other clients' ids.
          for (const payload of frames) attacker.write(frame(payload));
          await sleep(5);
          attacker.destroy();
        },
      ),
      { numRuns: SERVER_RUNS },
    );
    player.sendMessage('still fine');
    await watcher.waitFor((p) => p.type === 'message' && p.text === 'still fine');
    expect(watcher.problems).toEqual([]);
    expect(player.problems).toEqual([]);
    expect(watcher.closed || player.closed).toBe(false);
    expect(server.running).toBe(true);
  });
});
