/**
 * The latest DataGhost of every connected client, kept already encoded as bulk UPDATE entries
 * (u32 id + 25 bytes) in one contiguous buffer. An incoming UPDATE is a 25-byte copy into its
 * slot, and a tick's bulk packets are slices of this buffer behind a 9-byte header, so the cost
 * of a tick does not depend on how many updates arrived.
 */
import { DATA_GHOST_SIZE } from './protocol/data-ghost.js';
import { Header } from './protocol/packets.js';

export const BULK_HEADER_SIZE = 9; // u8 header, u32 id 0, u32 count
export const BULK_ENTRY_SIZE = 4 + DATA_GHOST_SIZE;

export class GhostTable {
  private entries = Buffer.alloc(64 * BULK_ENTRY_SIZE);
  private readonly slotById = new Map<number, number>();
  private readonly idBySlot: number[] = [];

  get size(): number {
    return this.idBySlot.length;
  }

  add(id: number, ghost: Uint8Array): void {
    if (this.slotById.has(id)) throw new Error(`ghost ${id} is already in the table`);
    const slot = this.idBySlot.length;
    if ((slot + 1) * BULK_ENTRY_SIZE > this.entries.length) {
      const grown = Buffer.alloc(this.entries.length * 2);
      this.entries.copy(grown);
      this.entries = grown;
    }
    this.slotById.set(id, slot);
    this.idBySlot.push(id);
    this.entries.writeUInt32BE(id, slot * BULK_ENTRY_SIZE);
    this.entries.set(ghost.subarray(0, DATA_GHOST_SIZE), slot * BULK_ENTRY_SIZE + 4);
  }

  /** Copies a DataGhost from `source` at `offset` into the client's slot. */
  update(id: number, source: Uint8Array, offset = 0): boolean {
    const slot = this.slotById.get(id);
    if (slot === undefined) return false;
    this.entries.set(source.subarray(offset, offset + DATA_GHOST_SIZE), slot * BULK_ENTRY_SIZE + 4);
    return true;
  }

  get(id: number): Buffer | undefined {
    const slot = this.slotById.get(id);
    if (slot === undefined) return undefined;
    const start = slot * BULK_ENTRY_SIZE + 4;
    return Buffer.from(this.entries.subarray(start, start + DATA_GHOST_SIZE));
  }

  /** Removes a client by moving the last entry into its slot (order is not part of the protocol). */
  remove(id: number): void {
    const slot = this.slotById.get(id);
    if (slot === undefined) return;
    this.slotById.delete(id);
    const lastSlot = this.idBySlot.length - 1;
    const lastId = this.idBySlot.pop()!;
    if (slot !== lastSlot) {
      this.entries.copy(
        this.entries,
        slot * BULK_ENTRY_SIZE,
        lastSlot * BULK_ENTRY_SIZE,
        (lastSlot + 1) * BULK_ENTRY_SIZE,
      );
      this.idBySlot[slot] = lastId;
      this.slotById.set(lastId, slot);
    }
  }

  /**
   * This tick's bulk UPDATE payloads, each at most `maxPacketSize` bytes (at least one entry per
   * packet), for every ghost or only the ghosts in `only`. Fresh buffers: sends still queued in
   * the kernel keep the bytes they were given.
   */
  buildBulkPackets(maxPacketSize: number, only?: readonly number[]): Buffer[] {
    const slots =
      only === undefined ? undefined : only.map((id) => this.slotById.get(id)).filter((slot) => slot !== undefined);
    const total = slots === undefined ? this.idBySlot.length : slots.length;
    if (total === 0) return [];
    const perPacket = Math.max(1, Math.floor((maxPacketSize - BULK_HEADER_SIZE) / BULK_ENTRY_SIZE));
    const packets: Buffer[] = [];
    for (let first = 0; first < total; first += perPacket) {
      const count = Math.min(perPacket, total - first);
      const packet = Buffer.allocUnsafe(BULK_HEADER_SIZE + count * BULK_ENTRY_SIZE);
      packet.writeUInt8(Header.Update, 0);
      packet.writeUInt32BE(0, 1);
      packet.writeUInt32BE(count, 5);
      if (slots === undefined) {
        this.entries.copy(packet, BULK_HEADER_SIZE, first * BULK_ENTRY_SIZE, (first + count) * BULK_ENTRY_SIZE);
      } else {
        for (let index = 0; index < count; index++) {
          const slot = slots[first + index]!;
          this.entries.copy(
            packet,
            BULK_HEADER_SIZE + index * BULK_ENTRY_SIZE,
            slot * BULK_ENTRY_SIZE,
            (slot + 1) * BULK_ENTRY_SIZE,
          );
        }
      }
      packets.push(packet);
    }
    return packets;
  }
}
