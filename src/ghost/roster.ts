/**
 * The joined clients: ids, the ghost table, and the two moments every client goes through once —
 * joining (confirm to the newcomer, then CONNECT to everyone else, in that order) and leaving
 * (DISCONNECT to everyone else, exactly once however many paths lead there).
 */
import type { Socket } from 'node:net';
import type { Config } from '../config.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { Broadcaster } from './broadcaster.js';
import { GhostClient } from './client.js';
import { GhostTable } from './ghost-table.js';
import type { PacketRatePolicy } from './packet-limits.js';
import { frame } from './protocol/framing.js';
import { encodeConnectConfirm, encodeServerPacket, type ConnectRequest } from './protocol/packets.js';
import type { DropCode, ServerStats } from './stats.js';

export const DROP_TEXT: Record<DropCode, string> = {
  left: 'disconnected',
  closed: 'connection closed',
  heartbeat: 'missed two heartbeats',
  slow_reader: 'not reading: send buffer full',
  protocol: 'protocol error',
  kicked: 'kicked',
  shutdown: 'server shutting down',
};

export interface RosterOptions {
  config: Pick<Config, 'timing'>;
  rates: PacketRatePolicy;
  stats: ServerStats;
  log: Logger;
  bus: EventBus;
  /** The Discord member a name is linked to from this address, if any (GhostServer.setLinkedAccounts). */
  linkedAccount?: (name: string, address: string) => string | undefined;
}

export class Roster {
  readonly clients = new Map<number, GhostClient>();
  readonly table = new GhostTable();
  private nextId = 1;
  /** Set once the server is stopping: departures are no longer announced to the others. */
  closing = false;
  private broadcaster!: Broadcaster;

  constructor(private readonly options: RosterOptions) {}

  /** The sender (made after the roster, since it reads the roster's clients). */
  useBroadcaster(broadcaster: Broadcaster): void {
    this.broadcaster = broadcaster;
  }

  get size(): number {
    return this.clients.size;
  }

  get(id: number): GhostClient | undefined {
    return this.clients.get(id);
  }

  /** Assigns an id, sends the confirm, and tells everyone else, in that order. */
  join(socket: Socket, address: string, request: ConnectRequest): GhostClient {
    const { timing } = this.options.config;
    const id = this.nextId++;
    const client = new GhostClient(id, request, address, socket, request.udpPort, this.options.rates.forClient());
    const others = [...this.clients.values()].map((other) => other.entity(this.table.get(other.id)!));
    this.broadcaster.sendFramed(client, frame(encodeConnectConfirm({ id, ghosts: others })), true);

    const announcement = frame(encodeServerPacket({ type: 'connect', entity: client.entity(request.ghost) }));
    this.broadcaster.toEveryone(announcement);
    this.clients.set(id, client);
    this.table.add(id, request.ghost);
    this.broadcaster.endpointChanged(client);
    const now = performance.now();
    client.announcedAt = now;
    client.nextHeartbeatAt = now + timing.heartbeat_interval_ms;
    client.nextKeepAliveAt = now + timing.udp_keepalive_interval_ms;

    this.options.log.info(
      { id, player: client.name, address, spectator: client.spectator, tcpOnly: client.tcpOnly, map: client.map },
      'client connected',
    );
    client.discordId = this.options.linkedAccount?.(client.name, address) ?? null;
    this.options.bus.emit('clientConnected', { client: client.info() });
    return client;
  }

  /** Removes a client and tells the others, exactly once however many paths lead here. */
  remove(client: GhostClient, code: DropCode, detail?: string): void {
    if (this.clients.get(client.id) !== client) return;
    this.clients.delete(client.id);
    this.table.remove(client.id);
    this.broadcaster.forget(client);
    const reason = detail ?? client.leaving ?? DROP_TEXT[code];
    client.leaving ??= reason;
    if (code === 'left' || code === 'kicked' || code === 'shutdown') {
      // A polite close lets queued packets out; the timer stops a non-reader from keeping it open.
      client.socket.end();
      setTimeout(() => client.socket.destroy(), 1000).unref();
    } else {
      client.socket.destroy();
    }

    if (!this.closing) this.broadcaster.toEveryone(frame(encodeServerPacket({ type: 'disconnect', id: client.id })));
    this.options.stats.countDroppedClient(code);
    const fields = { id: client.id, player: client.name, address: client.address, reason };
    if (code === 'left' || code === 'closed' || code === 'shutdown')
      this.options.log.info(fields, 'client disconnected');
    else this.options.log.warn(fields, 'client dropped');
    this.options.bus.emit('clientDisconnected', { client: client.info(), reason });
  }

  /** Logs a client's protocol violation at warn level the first time, at debug afterwards. */
  reportViolation(client: GhostClient, kind: string, detail: string): void {
    this.options.stats.countDroppedPacket(kind);
    const fields = { id: client.id, player: client.name, address: client.address, violation: kind };
    if (client.reportedViolations.has(kind)) {
      this.options.log.debug(fields, detail);
    } else {
      client.reportedViolations.add(kind);
      this.options.log.warn(fields, `${detail} (further ones logged at debug level)`);
    }
  }
}
