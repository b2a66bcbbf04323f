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

export class ServerStats {
  readonly packetsIn = new Map<string, number>();
  readonly droppedPackets = new Map<string, number>();
  readonly droppedClients = new Map<DropCode, number>();
  readonly refusedConnections = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;
  datagramsOut = 0;
  ticks = 0;
  /** Bulk updates not sent to a TCP-only client whose connection was already backed up. */
  skippedBulkUpdates = 0;

  countPacketIn(header: number, bytes: number): void {
    const name = HEADER_NAMES[header] ?? 'Unknown';
    this.packetsIn.set(name, (this.packetsIn.get(name) ?? 0) + 1);
    this.bytesIn += bytes;
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
