/**
 * Everything the server sends: replies and relays by TCP (batched per event-loop turn, see
 * WriteBatcher), datagrams by UDP, and each tick's bulk updates, heartbeats and keep-alives.
 *
 * Nothing here waits on a client: writes are buffered by the socket, and a client whose unsent
 * data passes `max_send_buffer_bytes` is dropped rather than slowing anyone else down.
 */
import { randomInt } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { GhostClient } from './client.js';
import type { GhostTable } from './ghost-table.js';
import { frame, LENGTH_PREFIX_SIZE } from './protocol/framing.js';
import { encodeServerPacket } from './protocol/packets.js';
import { outgoingName, type DropCode, type ServerStats } from './stats.js';
import type { UdpFanout } from './udp-fanout.js';
import { WriteBatcher } from './write-batcher.js';

/** A TCP-only client this far behind skips bulk updates until it catches up: stale positions are worthless. */
const BULK_BACKLOG_SKIP_BYTES = 64 * 1024;
/** A client that failed to answer this many heartbeats in a row is dropped (GhostServer: two). */
export const MISSED_HEARTBEATS_ALLOWED = 2;

export interface BroadcasterOptions {
  config: Pick<Config, 'server' | 'timing' | 'limits'>;
  /** The joined clients (owned by the Roster; read here). */
  clients: ReadonlyMap<number, GhostClient>;
  table: GhostTable;
  stats: ServerStats;
  log: Logger;
  /** Removes a client that stopped reading or stopped answering heartbeats. */
  drop(client: GhostClient, code: DropCode, detail?: string): void;
}

export class Broadcaster {
  private readonly writes = new WriteBatcher<GhostClient>((client) => this.checkBacklog(client));
  private udp: UdpSocket | undefined;
  /** Send threads for the bulk updates; undefined when `send_threads` is 0. */
  private fanout: UdpFanout | undefined;

  constructor(private readonly options: BroadcasterOptions) {}

  /** The sockets to send datagrams from, once the transport is bound. */
  attach(udp: UdpSocket, fanout: UdpFanout | undefined): void {
    this.udp = udp;
    this.fanout = fanout;
  }

  // ---------------------------------------------------------------------------------------------
  // One packet to one or many clients

  sendFramed(client: GhostClient, framed: Buffer, isConfirm = false): void {
    if (client.leaving !== undefined) return;
    this.writes.write(client, framed);
    this.options.stats.countPacketOut(outgoingName(framed, LENGTH_PREFIX_SIZE, isConfirm), framed.length);
  }

  /** An unframed packet to one client by TCP. */
  reply(client: GhostClient, payload: Buffer): void {
    this.sendFramed(client, frame(payload));
  }

  sendDatagram(client: GhostClient, payload: Buffer): void {
    if (!client.udpPortKnown || this.udp === undefined) return;
    try {
      this.udp.send(payload, client.udpPort, client.udpAddress);
    } catch (error) {
      // dgram throws at once for arguments it rejects; one client's bad endpoint stops nothing.
      this.options.log.debug({ err: error, id: client.id }, 'UDP send refused');
      return;
    }
    this.options.stats.datagramsOut++;
    this.options.stats.countPacketOut(outgoingName(payload), payload.length);
  }

  /** An already framed packet to every joined client. */
  toEveryone(framed: Buffer): void {
    for (const client of this.options.clients.values()) this.sendFramed(client, framed);
  }

  /** An already framed packet to these joined clients (ids that left are skipped). */
  toClients(ids: readonly number[], framed: Buffer): void {
    for (const id of ids) {
      const client = this.options.clients.get(id);
      if (client !== undefined) this.sendFramed(client, framed);
    }
  }

  /** To every joined client but the sender, by TCP. */
  toOthers(sender: GhostClient, payload: Buffer): void {
    const framed = frame(payload);
    for (const other of this.options.clients.values()) if (other !== sender) this.sendFramed(other, framed);
  }

  /** To every other client on the sender's map; by UDP to those not TCP-only when `viaUdp`. */
  toSameMap(sender: GhostClient, payload: Buffer, viaUdp: boolean): void {
    let framed: Buffer | undefined;
    for (const other of this.options.clients.values()) {
      if (other === sender || other.map !== sender.map) continue;
      if (viaUdp && !other.tcpOnly) {
        this.sendDatagram(other, payload);
      } else {
        framed ??= frame(payload);
        this.sendFramed(other, framed);
      }
    }
  }

  /** Tells the send threads where a client's bulk updates go (after a join or a re-learned endpoint). */
  endpointChanged(client: GhostClient): void {
    if (!client.tcpOnly && client.udpPortKnown) this.fanout?.setEndpoint(client.id, client.udpAddress, client.udpPort);
  }

  forget(client: GhostClient): void {
    if (!client.tcpOnly) this.fanout?.forget(client.id);
  }

  /** After a batch of writes went out: a client that left too much unsent is not reading. */
  private checkBacklog(client: GhostClient): void {
    const limit = this.options.config.limits.max_send_buffer_bytes;
    if (client.leaving !== undefined || client.sendBacklog <= limit) return;
    this.options.drop(client, 'slow_reader', `not reading: send buffer full (over ${limit} bytes)`);
  }

  // ---------------------------------------------------------------------------------------------
  // The tick

  tick(): void {
    const started = performance.now();
    this.sendBulkUpdates();
    this.sendDueKeepAlives(started);
    this.options.stats.onTick?.(performance.now() - started);
  }

  private sendBulkUpdates(): void {
    const { clients, table, stats, config } = this.options;
    stats.ticks++;
    if (clients.size === 0) return;
    if (this.fanout?.available) this.fanout.beginTick();
    if (!config.server.interest_management) {
      this.sendBulk(clients.values(), (maxSize) => table.buildBulkPackets(maxSize));
      return;
    }
    // Each player gets only the ghosts on its own map; spectators get everyone.
    const byMap = new Map<string, GhostClient[]>();
    const spectators: GhostClient[] = [];
    for (const client of clients.values()) {
      if (client.spectator) {
        spectators.push(client);
        continue;
      }
      const players = byMap.get(client.map);
      if (players === undefined) byMap.set(client.map, [client]);
      else players.push(client);
    }
    for (const players of byMap.values()) {
      const ids = players.map((client) => client.id);
      this.sendBulk(players, (maxSize) => table.buildBulkPackets(maxSize, ids));
    }
    if (spectators.length > 0) this.sendBulk(spectators, (maxSize) => table.buildBulkPackets(maxSize));
  }

  /** Sends one set of bulk packets to some clients: datagrams by UDP, one frame by TCP. */
  private sendBulk(receivers: Iterable<GhostClient>, build: (maxPacketSize: number) => Buffer[]): void {
    const { stats, config } = this.options;
    let datagrams: Buffer[] | undefined;
    let framed: Buffer | undefined;
    const fanout = this.fanout?.available ? this.fanout : undefined;
    const viaThreads: number[] = [];
    for (const client of receivers) {
      if (client.leaving !== undefined) continue;
      if (!client.tcpOnly) {
        datagrams ??= build(config.limits.max_datagram_bytes);
        if (fanout === undefined) for (const datagram of datagrams) this.sendDatagram(client, datagram);
        else if (client.udpPortKnown) viaThreads.push(client.id);
      } else if (client.sendBacklog > BULK_BACKLOG_SKIP_BYTES) {
        stats.skippedBulkUpdates++;
      } else {
        // TCP has no datagram limit: one packet with every entry.
        framed ??= frame(build(Number.MAX_SAFE_INTEGER)[0]!);
        this.sendFramed(client, framed);
      }
    }
    if (fanout === undefined || viaThreads.length === 0) return;
    const skipped = fanout.send(datagrams!, viaThreads);
    const sent = viaThreads.length - skipped;
    stats.skippedBulkUpdates += skipped;
    stats.datagramsOut += sent * datagrams!.length;
    for (const datagram of datagrams!) stats.countPacketOut('Update', datagram.length, sent);
  }

  /**
   * Heartbeats and UDP keep-alives follow each client's own schedule, counted from when it
   * joined, and are checked after every tick's bulk updates. One round for everybody at once
   * would land on a tick deadline and delay that tick by the time it takes to write to
   * every client; spread out, each tick carries a small share of them.
   */
  private sendDueKeepAlives(now: number): void {
    const { heartbeat_interval_ms: heartbeatMs, udp_keepalive_interval_ms: keepAliveMs } = this.options.config.timing;
    for (const client of this.options.clients.values()) {
      if (client.leaving !== undefined) continue;
      if (now >= client.nextHeartbeatAt) {
        client.nextHeartbeatAt = nextDeadline(client.nextHeartbeatAt, heartbeatMs, now);
        if (!this.sendHeartbeat(client)) continue;
      }
      if (!client.tcpOnly && now >= client.nextKeepAliveAt) {
        client.nextKeepAliveAt = nextDeadline(client.nextKeepAliveAt, keepAliveMs, now);
        this.sendDatagram(client, encodeServerPacket({ type: 'heartbeat', id: client.id, token: 0 }));
      }
    }
  }

  /** Sends a fresh token, or drops the client if the last ones went unanswered. */
  private sendHeartbeat(client: GhostClient): boolean {
    if (client.heartbeatAnswered) {
      client.missedHeartbeats = 0;
    } else if (++client.missedHeartbeats >= MISSED_HEARTBEATS_ALLOWED) {
      this.options.drop(client, 'heartbeat');
      return false;
    }
    client.heartbeatToken = randomInt(1, 0x1_0000_0000);
    client.heartbeatAnswered = false;
    this.sendFramed(
      client,
      frame(encodeServerPacket({ type: 'heartbeat', id: client.id, token: client.heartbeatToken })),
    );
    return true;
  }
}

/** The deadline after `previous`, or one interval from now if the schedule fell behind. */
function nextDeadline(previous: number, intervalMs: number, now: number): number {
  const next = previous + intervalMs;
  return next > now ? next : now + intervalMs;
}
