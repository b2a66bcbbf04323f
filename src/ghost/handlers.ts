/**
 * What the server does with each packet from a client that has joined, one function per packet
 * type. By the time a handler runs, the packet has passed its sender's rate limit, has been
 * decoded, and its id has been checked against the connection (TCP) or the pinned endpoint (UDP)
 * it came from (inbound.ts). `payload` is the packet as received, so relays forward the client's
 * exact bytes.
 */
import type { GhostClient } from './client.js';
import type { ClientPacket } from './protocol/packets.js';
import { encodeServerPacket, UPDATE_GHOST_OFFSET } from './protocol/packets.js';
import type { Logger } from '../logger.js';
import type { EventBus } from '../events.js';
import type { Broadcaster } from './broadcaster.js';
import type { ChatPipeline } from './chat.js';
import type { Roster } from './roster.js';

export type Transport = 'tcp' | 'udp';

/** The collaborators packet handlers talk to. */
export interface PacketContext {
  readonly log: Logger;
  readonly bus: EventBus;
  readonly voiceGraceMs: number;
  /** Replies and relays. */
  readonly send: Broadcaster;
  /** The joined clients: removal, violations, the ghost table. */
  readonly roster: Roster;
  readonly chat: ChatPipeline;
}

type PacketOf<T extends ClientPacket['type']> = Extract<ClientPacket, { type: T }>;
type Handler<T extends ClientPacket['type']> = (
  context: PacketContext,
  client: GhostClient,
  packet: PacketOf<T>,
  payload: Buffer,
  transport: Transport,
) => void;

const PING_REPLY = encodeServerPacket({ type: 'ping' });
const COUNTDOWN_GO = encodeServerPacket({ type: 'countdown_go', id: 0 });
const COUNTDOWN_CONFIRM_STEP = 1;

export const handlers: { [T in ClientPacket['type']]: Handler<T> } = {
  none() {
    // SAR never sends NONE; harmless, so it is ignored.
  },

  ping(context, client) {
    context.send.reply(client, PING_REPLY);
  },

  connect(context, client) {
    context.roster.reportViolation(client, 'repeated_connect', 'sent CONNECT again after joining');
  },

  disconnect(context, client) {
    context.roster.remove(client, 'left');
  },

  stop_server(context, client) {
    // The reference server shut down for anyone who asked; this one never does.
    context.roster.reportViolation(client, 'stop_server', 'ignored STOP_SERVER from a client');
  },

  map_change(context, client, packet, payload) {
    const previousMap = client.map;
    client.map = packet.map;
    context.log.info({ id: client.id, player: client.name, map: packet.map }, 'map change');
    context.send.toOthers(client, payload);
    context.bus.emit('mapChanged', {
      client: client.info(),
      previousMap,
      ticks: packet.ticks,
      ticksTotal: packet.ticksTotal,
    });
  },

  heartbeat(_context, client, packet) {
    // Token 0 answers the UDP keep-alive, which needs no checking.
    if (packet.token !== 0 && packet.token === client.heartbeatToken) client.heartbeatAnswered = true;
  },

  message(context, client, packet, payload) {
    context.chat.handle(client, packet.text, payload);
  },

  countdown_confirm(context, client, packet) {
    // Answered at once: SAR times this round trip to line everyone's start up.
    if (packet.step === COUNTDOWN_CONFIRM_STEP) context.send.reply(client, COUNTDOWN_GO);
  },

  update(context, client, _packet, payload) {
    context.roster.table.update(client.id, payload, UPDATE_GHOST_OFFSET);
  },

  speedrun_finish(context, client, packet, payload) {
    context.log.info({ id: client.id, player: client.name, time: packet.time }, 'speedrun finished');
    context.send.toOthers(client, payload);
    context.bus.emit('speedrunFinished', { client: client.info(), time: packet.time });
  },

  model_change(context, client, packet, payload) {
    const previousModel = client.model;
    client.model = packet.model;
    context.send.toOthers(client, payload);
    context.bus.emit('modelChanged', { client: client.info(), previousModel });
  },

  color_change(context, client, packet, payload) {
    const previousColor = client.color;
    client.color = packet.color;
    context.send.toOthers(client, payload);
    context.bus.emit('colorChanged', { client: client.info(), previousColor });
  },

  taunt(context, client, _packet, payload) {
    context.send.toSameMap(client, payload, false);
  },

  locator(context, client, _packet, payload) {
    context.send.toSameMap(client, payload, false);
  },

  voice(context, client, _packet, payload) {
    // SAR crashes on voice from an id it has not been told about yet. The CONNECT broadcast goes
    // by TCP and voice by UDP, which can overtake it, so a newcomer's voice waits a moment.
    if (performance.now() - client.announcedAt < context.voiceGraceMs) return;
    context.send.toSameMap(client, payload, true);
  },
};

/** Dispatches a decoded packet to its handler (keeps the mapped type in one place). */
export function handlePacket(
  context: PacketContext,
  client: GhostClient,
  packet: ClientPacket,
  payload: Buffer,
  transport: Transport,
): void {
  (handlers[packet.type] as Handler<typeof packet.type>)(context, client, packet as never, payload, transport);
}
