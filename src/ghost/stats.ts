/**
 * Counters the server keeps about itself: what arrived, what was sent, and why clients left.
 * Plain numbers and maps so that a metrics endpoint or a benchmark can read them cheaply.
 */
import { HEADER_NAMES } from './protocol/packets.js';

export type DropCode =
  | 'left' // the client sent DISCONNECT
  | 'closed' // the connection closed or failed
  | 'heartbeat' // two missed heartbeats
  | 'slow_reader' // its send buffer passed the limit
  | 'protocol' // it sent something that cannot be parsed
  | 'kicked' // an operator removed it
  | 'shutdown'; // the server is stopping

/** Packets and bytes for one packet type in one direction. */
export interface TrafficCount {
  packets: number;
  bytes: number;
}

export class ServerStats {
  /** Received, by packet type name (TCP frames count their 4-byte length prefix). */
  readonly packetsIn = new Map<string, number>();
  readonly trafficIn = new Map<string, TrafficCount>();
  /** Sent, by packet type name; "ConnectConfirm" is the header-less confirm. */
  readonly trafficOut = new Map<string, TrafficCount>();
  readonly droppedPackets = new Map<string, number>();
  readonly droppedClients = new Map<DropCode, number>();
  readonly refusedConnections = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;
  datagramsOut = 0;
  ticks = 0;
  /**
   * Bulk updates a client did not get because the way to it was still busy with the last one: a
   * TCP-only client whose connection was backed up, or a send thread still on the previous tick.
   */
  skippedBulkUpdates = 0;
  /** Times a connection used up its share of `max_receive_bytes_per_second` and was paused for the rest of that tenth of a second. */
  throttledReads = 0;
  /** Called with each tick's duration in milliseconds (the metrics endpoint keeps a histogram). */
  onTick: ((durationMs: number) => void) | undefined;

  countPacketIn(header: number, bytes: number): void {
    const name = HEADER_NAMES[header] ?? 'Unknown';
    this.packetsIn.set(name, (this.packetsIn.get(name) ?? 0) + 1);
    add(this.trafficIn, name, bytes);
    this.bytesIn += bytes;
  }

  /** `packets` copies of one packet of `bytes` bytes (a bulk update sent to many clients). */
  countPacketOut(name: string, bytes: number, packets = 1): void {
    add(this.trafficOut, name, bytes * packets, packets);
    this.bytesOut += bytes * packets;
  }

  countDroppedPacket(reason: string): void {
    this.droppedPackets.set(reason, (this.droppedPackets.get(reason) ?? 0) + 1);
  }

  countDroppedClient(code: DropCode): void {
    this.droppedClients.set(code, (this.droppedClients.get(code) ?? 0) + 1);
  }

  countRefusal(reason: string): void {
    this.refusedConnections.set(reason, (this.refusedConnections.get(reason) ?? 0) + 1);
  }
}

function add(counts: Map<string, TrafficCount>, name: string, bytes: number, packets = 1): void {
  const count = counts.get(name);
  if (count === undefined) counts.set(name, { packets, bytes });
  else {
    count.packets += packets;
    count.bytes += bytes;
  }
}

/**
 * The packet type name of an outgoing packet whose header byte is at `headerAt` (4 in a TCP frame,
 * after the length prefix). The confirm has no header byte.
 */
export function outgoingName(packet: Uint8Array, headerAt = 0, isConfirm = false): string {
  return isConfirm ? 'ConnectConfirm' : (HEADER_NAMES[packet[headerAt] ?? -1] ?? 'Unknown');
}
