/**
 * A joined client's packets on their way in, by TCP (one frame from its connection) or by UDP
 * (one datagram): counted, held to the sender's rate limit for that packet type (before anything
 * is decoded), checked for identity, decoded, and handed to the packet's handler.
 *
 * TCP identity is the connection itself. UDP identity is weaker — any host can put any id in a
 * datagram — so a datagram counts only if its id belongs to a client whose TCP connection comes
 * from the same IP, and only from that client's pinned endpoint (udp-endpoint.ts).
 */
import type { RemoteInfo } from 'node:dgram';
import { normaliseAddress, type GhostClient } from './client.js';
import { handlePacket, type PacketContext } from './handlers.js';
import type { PacketRatePolicy } from './packet-limits.js';
import { decodeClientPacket, Header, UPDATE_GHOST_OFFSET, UPDATE_PACKET_SIZE } from './protocol/packets.js';
import type { ServerStats } from './stats.js';
import { checkEndpoint } from './udp-endpoint.js';

/** Only UPDATE, HEART_BEAT and VOICE travel by UDP; anything else arriving there is dropped. */
const UDP_HEADERS = new Set<number>([Header.Update, Header.HeartBeat, Header.Voice]);
const LENGTH_PREFIX_BYTES = 4;

export interface InboundOptions {
  context: PacketContext;
  rates: PacketRatePolicy;
  stats: ServerStats;
  maxFrameBytes: number;
  udpRebindSilenceMs: number;
}

export class Inbound {
  constructor(private readonly options: InboundOptions) {}

  /** One TCP frame (without its length prefix) from a joined client. */
  onFrame(client: GhostClient, payload: Buffer): void {
    if (client.leaving !== undefined) return;
    const { context, stats } = this.options;
    const header = payload[0] ?? -1;
    stats.countPacketIn(header, payload.length + LENGTH_PREFIX_BYTES);
    if (!this.withinLimit(client, header)) return;
    const decoded = decodeClientPacket(payload);
    if (!decoded.ok) {
      if (decoded.error.kind === 'unknown_header') {
        // Possibly a newer SAR: ignore rather than cut the player off.
        context.roster.reportViolation(client, 'unknown_header', decoded.message);
      } else {
        context.roster.remove(client, 'protocol', decoded.message);
      }
      return;
    }
    const packet = decoded.packet;
    if ('id' in packet && packet.id !== client.id) {
      context.roster.reportViolation(client, 'spoofed_id', `${packet.type} packet carries id ${packet.id}`);
      return;
    }
    handlePacket(context, client, packet, payload, 'tcp');
  }

  /** One datagram on the server's port (from the main socket or handed back by a send thread). */
  onDatagram(datagram: Buffer, source: RemoteInfo): void {
    const { context, stats } = this.options;
    stats.countPacketIn(datagram[0] ?? -1, datagram.length);
    if (datagram.length < 5 || datagram.length > this.options.maxFrameBytes) {
      stats.countDroppedPacket('udp_size');
      return;
    }
    const header = datagram[0]!;
    if (!UDP_HEADERS.has(header)) {
      stats.countDroppedPacket('udp_unexpected_type');
      return;
    }
    const client = context.roster.get(datagram.readUInt32BE(1));
    if (client === undefined || client.address !== normaliseAddress(source.address)) {
      stats.countDroppedPacket('udp_unknown_sender');
      return;
    }
    if (client.leaving !== undefined) return;
    const now = performance.now();
    const endpoint = checkEndpoint(client, source, now, this.options.udpRebindSilenceMs);
    if (endpoint === 'foreign') {
      stats.countDroppedPacket('udp_foreign_endpoint');
      return;
    }
    if (endpoint === 'learned') context.send.endpointChanged(client);
    if (!this.withinLimit(client, header, now)) return;
    if (header === Header.Update && datagram.length >= UPDATE_PACKET_SIZE) {
      // The hot path (20 a second from every player): the position is copied straight from
      // the datagram, with nothing decoded or allocated. Shorter ones take the path below.
      context.roster.table.update(client.id, datagram, UPDATE_GHOST_OFFSET);
      return;
    }
    const decoded = decodeClientPacket(datagram);
    if (!decoded.ok) {
      // Not grounds to drop the client: anyone can forge a datagram from a shared address.
      stats.countDroppedPacket('udp_malformed');
      return;
    }
    handlePacket(context, client, decoded.packet, datagram, 'udp');
  }

  private withinLimit(client: GhostClient, header: number, now = performance.now()): boolean {
    if (client.limits.allow(header, now)) return true;
    const { reason, detail } = this.options.rates.describeDrop(header);
    this.options.context.roster.reportViolation(client, reason, detail);
    return false;
  }
}
