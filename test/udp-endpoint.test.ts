/**
 * A player's UDP endpoint, once learned, belongs to that player: datagrams with its id from
 * another port of the same IP (a neighbour behind the same NAT, or a forged source) neither move
 * its ghost nor take its bulk updates. The endpoint moves only when the pinned one has gone
 * silent (NAT rebinding), or to the port the player announced over its own TCP connection.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDataGhost } from '../src/ghost/protocol/data-ghost.js';
import { encodeClientPacket, Header } from '../src/ghost/protocol/packets.js';
import { join, sleep, startServer, until } from './helpers.js';

const pose = (x: number) =>
  encodeDataGhost({ position: { x, y: 0, z: 0 }, angles: { x: 0, y: 0, z: 0 }, viewOffset: 0, grounded: false });

interface Intruder {
  socket: UdpSocket;
  /** Bulk updates this socket has received. */
  bulks: number;
  send(id: number, x: number, port: number): void;
}

const sockets: UdpSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

/** Another UDP socket on the same IP as the players (127.0.0.1), as a neighbour behind one NAT. */
async function intruder(): Promise<Intruder> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const state: Intruder = {
    socket,
    bulks: 0,
    send(id, x, port) {
      socket.send(encodeClientPacket({ type: 'update', id, ghost: pose(x) }), port, '127.0.0.1');
    },
  };
  socket.on('message', (datagram) => {
    if (datagram[0] === Header.Update) state.bulks++;
  });
  return state;
}

for (const threads of [0, 2]) {
  describe(`UDP endpoints (send_threads = ${threads})`, () => {
    it('ignores datagrams with a player’s id from another port while the player is talking', async () => {
      const server = await startServer({ server: { send_threads: threads } });
      const victim = await join(server, 'Victim');
      const watcher = await join(server, 'Watcher');
      victim.sendUpdate(pose(1));
      await until(() => watcher.ghosts.get(victim.id)?.ghost.readFloatLE(0) === 1, 2000, 'the victim’s update');

      const mallory = await intruder();
      for (let i = 0; i < 5; i++) mallory.send(victim.id, 666, server.port);
      await until(() => (server.stats.droppedPackets.get('udp_foreign_endpoint') ?? 0) === 5, 2000, 'the drops');
      // Ticks built after the forged datagrams: the ghost did not move, and they go to the victim.
      const mark = victim.mark();
      await until(
        () => victim.received.slice(mark).filter((r) => r.packet.type === 'bulk_update').length >= 3,
        2000,
        'three more ticks at the victim',
      );
      expect(server.getGhost(victim.id)!.readFloatLE(0)).toBe(1);
      expect(mallory.bulks).toBe(0);
    });

    it('follows a player whose endpoint went silent and came back from a new port (NAT rebinding)', async () => {
      const server = await startServer({ server: { send_threads: threads }, timing: { udp_rebind_silence_ms: 300 } });
      const player = await join(server, 'Player');
      player.sendUpdate(pose(1));
      await until(() => server.getGhost(player.id)?.readFloatLE(0) === 1, 2000, 'the first update');
      const rebound = await intruder(); // the same player, after the NAT gave it another port

      rebound.send(player.id, 2, server.port); // too early: the old endpoint was heard just now
      await until(() => (server.stats.droppedPackets.get('udp_foreign_endpoint') ?? 0) === 1, 2000, 'the drop');
      expect(server.getGhost(player.id)!.readFloatLE(0)).toBe(1);

      await sleep(400); // the old endpoint stays silent for longer than udp_rebind_silence_ms
      rebound.send(player.id, 3, server.port);
      await until(() => server.getGhost(player.id)?.readFloatLE(0) === 3, 2000, 'the update from the new port');
      await until(() => rebound.bulks >= 2, 2000, 'bulk updates at the new port');
    });

    it('gives the endpoint back at once to the port the player announced over TCP', async () => {
      const server = await startServer({
        server: { send_threads: threads },
        timing: { udp_rebind_silence_ms: 60_000 },
      });
      const player = await join(server, 'Player');
      // Someone on the player's IP speaks first, before the player's first datagram.
      const mallory = await intruder();
      mallory.send(player.id, 666, server.port);
      await until(() => server.getGhost(player.id)?.readFloatLE(0) === 666, 2000, 'the forged update');

      player.sendUpdate(pose(5)); // from the port announced in its CONNECT
      await until(() => server.getGhost(player.id)?.readFloatLE(0) === 5, 2000, 'the player’s update');
      const bulksAtMallory = mallory.bulks;
      mallory.send(player.id, 777, server.port);
      await until(() => (server.stats.droppedPackets.get('udp_foreign_endpoint') ?? 0) === 1, 2000, 'the drop');
      const mark = player.mark();
      await until(
        () => player.received.slice(mark).filter((r) => r.packet.type === 'bulk_update').length >= 3,
        2000,
        'ticks at the player',
      );
      expect(server.getGhost(player.id)!.readFloatLE(0)).toBe(5);
      // At most a tick already on its way when the endpoint moved back.
      expect(mallory.bulks - bulksAtMallory).toBeLessThanOrEqual(1);
    });
  });
}
