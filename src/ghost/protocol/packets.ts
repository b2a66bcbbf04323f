/**
 * Typed encode/decode for every SAR ghost packet (see PROTOCOL.md in the shared protocol folder).
 *
 * The same header means different layouts in each direction (CONNECT is a request from a client
 * and an announcement from the server; UPDATE is one ghost up and a bulk list down), so there is
 * one decoder per direction. Decoders never throw: a bad packet comes back as a `DecodeFailure`.
 */
import { DATA_GHOST_SIZE, type Vec3 } from './data-ghost.js';
import { PacketReader, PacketWriter, TruncatedPacket } from './sfml.js';

export const Header = {
  None: 0,
  Ping: 1,
  Connect: 2,
  Disconnect: 3,
  StopServer: 4,
  MapChange: 5,
  HeartBeat: 6,
  Message: 7,
  Countdown: 8,
  Update: 9,
  SpeedrunFinish: 10,
  ModelChange: 11,
  ColorChange: 12,
  Taunt: 13,
  Locator: 14,
  Voice: 15,
} as const;
export type Header = (typeof Header)[keyof typeof Header];

/** A client's UPDATE: u8 header, u32 id, then the DataGhost at this offset. */
export const UPDATE_GHOST_OFFSET = 5;
export const UPDATE_PACKET_SIZE = UPDATE_GHOST_OFFSET + DATA_GHOST_SIZE;

export const HEADER_NAMES: readonly string[] = Object.keys(Header);

export interface Color {
  r: number;
  g: number;
  b: number;
}

/** What the server knows of a connected client, as sent in the confirm and CONNECT broadcast. */
export interface GhostEntity {
  id: number;
  name: string;
  ghost: Buffer;
  model: string;
  map: string;
  color: Color;
  spectator: boolean;
}

export interface ConnectRequest {
  type: 'connect';
  udpPort: number;
  name: string;
  ghost: Buffer;
  model: string;
  map: string;
  tcpOnly: boolean;
  color: Color;
  spectator: boolean;
}

/** Packets whose layout is the same in both directions (the server relays them unchanged). */
export type SymmetricPacket =
  | { type: 'disconnect'; id: number }
  | { type: 'map_change'; id: number; map: string; ticks: number; ticksTotal: number }
  | { type: 'heartbeat'; id: number; token: number }
  | { type: 'message'; id: number; text: string }
  | { type: 'speedrun_finish'; id: number; time: string }
  | { type: 'model_change'; id: number; model: string }
  | { type: 'color_change'; id: number; color: Color }
  | { type: 'taunt'; id: number; animation: string }
  | { type: 'locator'; id: number; position: Vec3; normal: Vec3 }
  | { type: 'voice'; id: number; data: Buffer };

export type ClientPacket =
  | { type: 'none' }
  | { type: 'ping'; id: number }
  | ConnectRequest
  | { type: 'stop_server'; id: number }
  | { type: 'countdown_confirm'; id: number; step: number }
  | { type: 'update'; id: number; ghost: Buffer }
  | SymmetricPacket;

export interface BulkEntry {
  id: number;
  ghost: Buffer;
}

export type ServerPacket =
  | { type: 'none' }
  | { type: 'ping' }
  | { type: 'connect'; entity: GhostEntity }
  | { type: 'countdown_setup'; id: number; duration: number; preCommands: string; postCommands: string }
  | { type: 'countdown_go'; id: number }
  | { type: 'bulk_update'; id: number; entries: BulkEntry[] }
  | SymmetricPacket;

export interface ConnectConfirm {
  id: number;
  ghosts: GhostEntity[];
}

export type DecodeError =
  | { kind: 'empty' }
  | { kind: 'unknown_header'; header: number }
  | { kind: 'truncated'; header: number; field: string; needed: number; available: number };

export type DecodeResult<T> =
  { ok: true; packet: T; trailingBytes: number } | { ok: false; error: DecodeError; message: string };

const COUNTDOWN_SETUP = 0;
const COUNTDOWN_GO = 1;

// ---------------------------------------------------------------------------------------------
// Field groups shared by several packets

function readColor(reader: PacketReader): Color {
  return { r: reader.u8('color.r'), g: reader.u8('color.g'), b: reader.u8('color.b') };
}

function writeColor(writer: PacketWriter, color: Color): void {
  writer.u8(color.r).u8(color.g).u8(color.b);
}

function readVec3(reader: PacketReader, field: string): Vec3 {
  return { x: reader.f32(`${field}.x`), y: reader.f32(`${field}.y`), z: reader.f32(`${field}.z`) };
}

function writeVec3(writer: PacketWriter, vector: Vec3): void {
  writer.f32(vector.x).f32(vector.y).f32(vector.z);
}

function readGhostEntity(reader: PacketReader): GhostEntity {
  return {
    id: reader.u32('id'),
    name: reader.string('name'),
    ghost: reader.raw('ghost', DATA_GHOST_SIZE),
    model: reader.string('model'),
    map: reader.string('map'),
    color: readColor(reader),
    spectator: reader.bool('spectator'),
  };
}

function writeGhostEntity(writer: PacketWriter, entity: GhostEntity): void {
  writer.u32(entity.id).string(entity.name).raw(entity.ghost).string(entity.model).string(entity.map);
  writeColor(writer, entity.color);
  writer.bool(entity.spectator);
}

/** Reads the body of a packet that has the same layout both ways; undefined if not one of them. */
function readSymmetric(header: number, reader: PacketReader): SymmetricPacket | undefined {
  switch (header) {
    case Header.Disconnect:
      return { type: 'disconnect', id: reader.u32('id') };
    case Header.MapChange:
      return {
        type: 'map_change',
        id: reader.u32('id'),
        map: reader.string('map'),
        ticks: reader.u32('ticks'),
        ticksTotal: reader.u32('ticks_total'),
      };
    case Header.HeartBeat:
      return { type: 'heartbeat', id: reader.u32('id'), token: reader.u32('token') };
    case Header.Message:
      return { type: 'message', id: reader.u32('id'), text: reader.string('text') };
    case Header.SpeedrunFinish:
      return { type: 'speedrun_finish', id: reader.u32('id'), time: reader.string('time') };
    case Header.ModelChange:
      return { type: 'model_change', id: reader.u32('id'), model: reader.string('model') };
    case Header.ColorChange:
      return { type: 'color_change', id: reader.u32('id'), color: readColor(reader) };
    case Header.Taunt:
      return { type: 'taunt', id: reader.u32('id'), animation: reader.string('animation') };
    case Header.Locator:
      return {
        type: 'locator',
        id: reader.u32('id'),
        position: readVec3(reader, 'position'),
        normal: readVec3(reader, 'normal'),
      };
    case Header.Voice:
      return { type: 'voice', id: reader.u32('id'), data: reader.rest() };
    default:
      return undefined;
  }
}

function writeSymmetric(writer: PacketWriter, packet: SymmetricPacket): void {
  switch (packet.type) {
    case 'disconnect':
      writer.u8(Header.Disconnect).u32(packet.id);
      return;
    case 'map_change':
      writer.u8(Header.MapChange).u32(packet.id).string(packet.map).u32(packet.ticks).u32(packet.ticksTotal);
      return;
    case 'heartbeat':
      writer.u8(Header.HeartBeat).u32(packet.id).u32(packet.token);
      return;
    case 'message':
      writer.u8(Header.Message).u32(packet.id).string(packet.text);
      return;
    case 'speedrun_finish':
      writer.u8(Header.SpeedrunFinish).u32(packet.id).string(packet.time);
      return;
    case 'model_change':
      writer.u8(Header.ModelChange).u32(packet.id).string(packet.model);
      return;
    case 'color_change':
      writer.u8(Header.ColorChange).u32(packet.id);
      writeColor(writer, packet.color);
      return;
    case 'taunt':
      writer.u8(Header.Taunt).u32(packet.id).string(packet.animation);
      return;
    case 'locator':
      writer.u8(Header.Locator).u32(packet.id);
      writeVec3(writer, packet.position);
      writeVec3(writer, packet.normal);
      return;
    case 'voice':
      writer.u8(Header.Voice).u32(packet.id).raw(packet.data);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

function describe(error: DecodeError): string {
  switch (error.kind) {
    case 'empty':
      return 'empty packet (no header byte)';
    case 'unknown_header':
      return `unknown packet header ${error.header}`;
    case 'truncated':
      return `truncated ${HEADER_NAMES[error.header] ?? error.header} packet: field ${error.field} needs ${error.needed} bytes, ${error.available} left`;
  }
}

function fail<T>(error: DecodeError): DecodeResult<T> {
  return { ok: false, error, message: describe(error) };
}

/** Runs a body reader, turning a truncation into a failure value. */
function decodeWith<T>(bytes: Buffer, header: number, body: (reader: PacketReader) => T | undefined): DecodeResult<T> {
  const reader = new PacketReader(bytes);
  try {
    const packet = body(reader);
    if (packet === undefined) return fail({ kind: 'unknown_header', header });
    return { ok: true, packet, trailingBytes: reader.remaining };
  } catch (error) {
    if (error instanceof TruncatedPacket) {
      return fail({
        kind: 'truncated',
        header,
        field: error.field,
        needed: error.needed,
        available: error.available,
      });
    }
    throw error;
  }
}

/** Reads the header byte, then the body for that header. */
function decodeHeaded<T>(
  bytes: Buffer,
  body: (header: number, reader: PacketReader) => T | undefined,
): DecodeResult<T> {
  if (bytes.length === 0) return fail({ kind: 'empty' });
  const header = bytes[0]!;
  return decodeWith(bytes, header, (reader) => {
    reader.u8('header');
    return body(header, reader);
  });
}

/** Decodes a packet a client sent to the server. */
export function decodeClientPacket(bytes: Buffer): DecodeResult<ClientPacket> {
  return decodeHeaded(bytes, (header, reader): ClientPacket | undefined => {
    switch (header) {
      case Header.None:
        return { type: 'none' };
      case Header.Ping:
        return { type: 'ping', id: reader.u32('id') };
      case Header.Connect:
        return {
          type: 'connect',
          udpPort: reader.u16('udp_port'),
          name: reader.string('name'),
          ghost: reader.raw('ghost', DATA_GHOST_SIZE),
          model: reader.string('model'),
          map: reader.string('map'),
          tcpOnly: reader.bool('tcp_only'),
          color: readColor(reader),
          spectator: reader.bool('spectator'),
        };
      case Header.StopServer:
        return { type: 'stop_server', id: reader.u32('id') };
      case Header.Countdown:
        return { type: 'countdown_confirm', id: reader.u32('id'), step: reader.u8('step') };
      case Header.Update:
        return { type: 'update', id: reader.u32('id'), ghost: reader.raw('ghost', DATA_GHOST_SIZE) };
      default:
        return readSymmetric(header, reader);
    }
  });
}

/** Decodes a packet the server sent to a client (used by the client simulator and tests). */
export function decodeServerPacket(bytes: Buffer): DecodeResult<ServerPacket> {
  return decodeHeaded(bytes, (header, reader): ServerPacket | undefined => {
    switch (header) {
      case Header.None:
        return { type: 'none' };
      case Header.Ping:
        return { type: 'ping' };
      case Header.Connect:
        return { type: 'connect', entity: readGhostEntity(reader) };
      case Header.Countdown: {
        const id = reader.u32('id');
        const step = reader.u8('step');
        if (step !== COUNTDOWN_SETUP) return { type: 'countdown_go', id };
        return {
          type: 'countdown_setup',
          id,
          duration: reader.u32('duration'),
          preCommands: reader.string('pre_commands'),
          postCommands: reader.string('post_commands'),
        };
      }
      case Header.Update: {
        const id = reader.u32('id');
        const count = reader.u32('count');
        const entries: BulkEntry[] = [];
        // Bounded by the packet's own length: each entry consumes 29 bytes or throws.
        for (let index = 0; index < count; index++) {
          entries.push({ id: reader.u32('entry.id'), ghost: reader.raw('entry.ghost', DATA_GHOST_SIZE) });
        }
        return { type: 'bulk_update', id, entries };
      }
      default:
        return readSymmetric(header, reader);
    }
  });
}

/** Decodes the header-less connect confirm, the first thing a server sends a new client. */
export function decodeConnectConfirm(bytes: Buffer): DecodeResult<ConnectConfirm> {
  return decodeWith(bytes, Header.Connect, (reader) => {
    const id = reader.u32('id');
    const count = reader.u32('count');
    const ghosts: GhostEntity[] = [];
    for (let index = 0; index < count; index++) ghosts.push(readGhostEntity(reader));
    return { id, ghosts };
  });
}

// ---------------------------------------------------------------------------------------------
// Encoding

export function encodeClientPacket(packet: ClientPacket): Buffer {
  const writer = new PacketWriter();
  switch (packet.type) {
    case 'none':
      writer.u8(Header.None);
      break;
    case 'ping':
      writer.u8(Header.Ping).u32(packet.id);
      break;
    case 'connect':
      writer.u8(Header.Connect).u16(packet.udpPort).string(packet.name).raw(packet.ghost);
      writer.string(packet.model).string(packet.map).bool(packet.tcpOnly);
      writeColor(writer, packet.color);
      writer.bool(packet.spectator);
      break;
    case 'stop_server':
      writer.u8(Header.StopServer).u32(packet.id);
      break;
    case 'countdown_confirm':
      writer.u8(Header.Countdown).u32(packet.id).u8(packet.step);
      break;
    case 'update':
      writer.u8(Header.Update).u32(packet.id).raw(packet.ghost);
      break;
    default:
      writeSymmetric(writer, packet);
  }
  return writer.finish();
}

export function encodeServerPacket(packet: ServerPacket): Buffer {
  const writer = new PacketWriter();
  switch (packet.type) {
    case 'none':
      writer.u8(Header.None);
      break;
    case 'ping':
      writer.u8(Header.Ping);
      break;
    case 'connect':
      writer.u8(Header.Connect);
      writeGhostEntity(writer, packet.entity);
      break;
    case 'countdown_setup':
      writer.u8(Header.Countdown).u32(packet.id).u8(COUNTDOWN_SETUP).u32(packet.duration);
      writer.string(packet.preCommands).string(packet.postCommands);
      break;
    case 'countdown_go':
      writer.u8(Header.Countdown).u32(packet.id).u8(COUNTDOWN_GO);
      break;
    case 'bulk_update':
      writer.u8(Header.Update).u32(packet.id).u32(packet.entries.length);
      for (const entry of packet.entries) writer.u32(entry.id).raw(entry.ghost);
      break;
    default:
      writeSymmetric(writer, packet);
  }
  return writer.finish();
}

export function encodeConnectConfirm(confirm: ConnectConfirm): Buffer {
  const writer = new PacketWriter(8 + confirm.ghosts.length * 64);
  writer.u32(confirm.id).u32(confirm.ghosts.length);
  for (const entity of confirm.ghosts) writeGhostEntity(writer, entity);
  return writer.finish();
}
