/**
 * One connected SAR client: what the server knows about it and the TCP connection it arrived on.
 * Identity is the id plus this connection — never the IP alone, since players behind one NAT or
 * on one LAN share an address.
 */
import type { Socket } from 'node:net';
import type { ClientInfo } from '../events.js';
import type { Color, GhostEntity } from './protocol/packets.js';
import type { ClientPacketLimits } from './packet-limits.js';

export interface ClientIdentity {
  id: number;
  name: string;
  model: string;
  map: string;
  color: Color;
  spectator: boolean;
  tcpOnly: boolean;
}

export class GhostClient implements ClientIdentity {
  name: string;
  model: string;
  map: string;
  color: Color;
  readonly spectator: boolean;
  readonly tcpOnly: boolean;
  readonly connectedAt = new Date();
  /** The linked Discord member, when this address is confirmed for the name (set by src/identity). */
  discordId: string | null = null;
  /** When the other clients were told about this one (CONNECT broadcast), in performance.now() ms. */
  announcedAt = 0;

  /**
   * Where bulk updates go: the TCP peer address and the announced port until a valid datagram
   * teaches us the real ones. Port 0 (announced by no real client; a port cannot be 0) means
   * unknown: nothing goes by UDP until a datagram arrives.
   */
  udpAddress: string;
  udpPort: number;
  /** The port SAR announced in its CONNECT (over its own TCP connection, so it is trusted). */
  readonly announcedUdpPort: number;
  /**
   * Set once a datagram has taught us the endpoint. From then on it is pinned: datagrams from
   * another port of the same IP are dropped until the pinned one has been silent for a while
   * (see UdpEndpoints), so someone behind the same NAT cannot take the player's updates over.
   */
  udpPinned = false;
  /** When the pinned endpoint was last heard from, in performance.now() ms. */
  udpLastHeardAt = 0;

  get udpPortKnown(): boolean {
    return this.udpPort !== 0;
  }

  /** The TCP heartbeat token awaiting an answer (never 0, which is the UDP keep-alive token). */
  heartbeatToken = 0;
  /** When the next TCP heartbeat and UDP keep-alive are due, in performance.now() ms. */
  nextHeartbeatAt = 0;
  nextKeepAliveAt = 0;
  heartbeatAnswered = true;
  missedHeartbeats = 0;

  /** Its rate limit for each packet type (see packet-limits.ts). */
  readonly limits: ClientPacketLimits;
  /** Chat waiting for the chat filters, so that one client's messages keep their order. */
  chatQueue: Promise<void> = Promise.resolve();
  /** How many of its messages are in `chatQueue`; bounded so that a slow filter cannot pile them up. */
  chatPending = 0;
  /** Whether its socket is corked for this event-loop turn's batch of writes (see WriteBatcher). */
  corked = false;
  /** Set once the client is on its way out; nothing more is sent to or accepted from it. */
  leaving: string | undefined;
  /** Protocol violations already logged at warn level, so a flood logs once per kind. */
  readonly reportedViolations = new Set<string>();

  constructor(
    readonly id: number,
    identity: Omit<ClientIdentity, 'id'>,
    /** Normalised IPv4/IPv6 text of the TCP peer, used to check UDP datagrams' source. */
    readonly address: string,
    readonly socket: Socket,
    udpPort: number,
    limits: ClientPacketLimits,
  ) {
    this.name = identity.name;
    this.model = identity.model;
    this.map = identity.map;
    this.color = identity.color;
    this.spectator = identity.spectator;
    this.tcpOnly = identity.tcpOnly;
    this.udpAddress = socket.remoteAddress ?? address;
    this.udpPort = udpPort;
    this.announcedUdpPort = udpPort;
    this.limits = limits;
  }

  get sendBacklog(): number {
    return this.socket.writableLength;
  }

  entity(ghost: Buffer): GhostEntity {
    return {
      id: this.id,
      name: this.name,
      ghost,
      model: this.model,
      map: this.map,
      color: this.color,
      spectator: this.spectator,
    };
  }

  info(): ClientInfo {
    return {
      id: this.id,
      name: this.name,
      address: this.address,
      model: this.model,
      map: this.map,
      color: { ...this.color },
      spectator: this.spectator,
      tcpOnly: this.tcpOnly,
      connectedAt: this.connectedAt,
      discordId: this.discordId,
    };
  }
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; compare them as a.b.c.d. */
export function normaliseAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
