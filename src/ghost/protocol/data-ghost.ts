/**
 * DataGhost: a player's position (3 × f32), view angles (3 × f32) and one byte holding the view
 * offset (bits 0–6) and the grounded flag (bit 7). The server never interprets it: it stores and
 * relays the 25 bytes exactly as received, so NaN payloads ("no player entity") survive intact.
 * These helpers exist for the client simulator and the tests.
 */

export const DATA_GHOST_SIZE = 25;

export interface Vec3 {
  x: number;
  y: number;
  z: number;
}

export interface GhostPose {
  position: Vec3;
  angles: Vec3;
  viewOffset: number;
  grounded: boolean;
}

export function encodeDataGhost(pose: GhostPose): Buffer {
  const bytes = Buffer.alloc(DATA_GHOST_SIZE);
  const values = [pose.position.x, pose.position.y, pose.position.z, pose.angles.x, pose.angles.y, pose.angles.z];
  values.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  bytes.writeUInt8((pose.viewOffset & 0x7f) | (pose.grounded ? 0x80 : 0), 24);
  return bytes;
}

export function decodeDataGhost(bytes: Buffer): GhostPose {
  if (bytes.length !== DATA_GHOST_SIZE)
    throw new RangeError(`a DataGhost is ${DATA_GHOST_SIZE} bytes, got ${bytes.length}`);
  const f = (index: number) => bytes.readFloatLE(index * 4);
  const flags = bytes.readUInt8(24);
  return {
    position: { x: f(0), y: f(1), z: f(2) },
    angles: { x: f(3), y: f(4), z: f(5) },
    viewOffset: flags & 0x7f,
    grounded: (flags & 0x80) !== 0,
  };
}

/** What SAR sends when it has no player entity (in menus, loading): NaN position and angles. */
export const NO_PLAYER_GHOST: Buffer = encodeDataGhost({
  position: { x: NaN, y: NaN, z: NaN },
  angles: { x: NaN, y: NaN, z: NaN },
  viewOffset: 0,
  grounded: false,
});
