import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { encodeDataGhost, NO_PLAYER_GHOST } from '../src/ghost/protocol/data-ghost.js';
import { encodeClientPacket, type ServerPacket } from '../src/ghost/protocol/packets.js';
import type { SimClient } from '../src/sim/client.js';
import { barrier, countPackets, join, sleep, startServer, until } from './helpers.js';

const pose = (x: number) =>
  encodeDataGhost({ position: { x, y: 0, z: 0 }, angles: { x: 0, y: 0, z: 0 }, viewOffset: 0, grounded: false });

/** Waits for a packet at `receiver` and checks the sender never got it back. */
async function expectRelayed(sender: SimClient, receivers: SimClient[], type: ServerPacket['type'], mark: number) {
  const packets = await Promise.all(
    receivers.map((receiver) => receiver.waitFor((p) => p.type === type && 'id' in p && p.id === sender.id)),
  );
  await barrier(sender);
  expect(countPackets(sender, type, mark)).toBe(0);
  return packets;
}

describe('relays', () => {
  it('relays chat to everyone else, never back to the sender, and tells the event bus', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    const carol = await join(server, 'Carol', { tcpOnly: true });
    const event = server.bus.once('clientMessage');
    const mark = alice.mark();
    alice.sendMessage('gl hf ✨');
    const [atBob, atCarol] = await expectRelayed(alice, [bob, carol], 'message', mark);
    expect(atBob).toEqual({ type: 'message', id: alice.id, text: 'gl hf ✨' });
    expect(atCarol).toEqual(atBob);
    expect((await event).text).toBe('gl hf ✨');
  });

  it('relays map, model, colour and finish changes and remembers them for later joiners', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice', { map: 'sp_a1_intro1' });
    const bob = await join(server, 'Bob');
    const mark = alice.mark();

    alice.changeMap('sp_a2_laser_intro', 1234, 56789);
    alice.changeModel('models/player/chell/player.mdl');
    alice.changeColor({ r: 10, g: 20, b: 30 });
    alice.finishSpeedrun('1:02.345');
    expect(await bob.waitFor((p) => p.type === 'map_change')).toEqual({
      type: 'map_change',
      id: alice.id,
      map: 'sp_a2_laser_intro',
      ticks: 1234,
      ticksTotal: 56789,
    });
    expect(await bob.waitFor((p) => p.type === 'model_change')).toMatchObject({
      model: 'models/player/chell/player.mdl',
    });
    expect(await bob.waitFor((p) => p.type === 'color_change')).toMatchObject({ color: { r: 10, g: 20, b: 30 } });
    expect(await bob.waitFor((p) => p.type === 'speedrun_finish')).toEqual({
      type: 'speedrun_finish',
      id: alice.id,
      time: '1:02.345',
    });
    await barrier(alice);
    for (const type of ['map_change', 'model_change', 'color_change', 'speedrun_finish'])
      expect(countPackets(alice, type, mark)).toBe(0);

    const carol = await join(server, 'Carol');
    expect(carol.ghosts.get(alice.id)).toMatchObject({
      map: 'sp_a2_laser_intro',
      model: 'models/player/chell/player.mdl',
      color: { r: 10, g: 20, b: 30 },
    });
  });

  it('sends TAUNT, LOCATOR and VOICE only to others on the same map', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice', { map: 'mp_coop_lobby_3' });
    const sameMap = await join(server, 'Same', { map: 'mp_coop_lobby_3' });
    const sameMapTcp = await join(server, 'SameTcp', { map: 'mp_coop_lobby_3', tcpOnly: true });
    const elsewhere = await join(server, 'Elsewhere', { map: 'sp_a1_intro1' });
    const mark = alice.mark();
    const elsewhereMark = elsewhere.mark();

    alice.taunt('wave');
    alice.locator({ x: 100, y: -200, z: 32 }, { x: 0, y: 0, z: 1 });
    const voice = Buffer.from('be020000060000000000000000000000010203040506', 'hex');
    alice.voice(voice);

    for (const receiver of [sameMap, sameMapTcp]) {
      expect(await receiver.waitFor((p) => p.type === 'taunt')).toEqual({
        type: 'taunt',
        id: alice.id,
        animation: 'wave',
      });
      expect(await receiver.waitFor((p) => p.type === 'locator')).toEqual({
        type: 'locator',
        id: alice.id,
        position: { x: 100, y: -200, z: 32 },
        normal: { x: 0, y: 0, z: 1 },
      });
    }
    // Voice goes by UDP to UDP clients and by TCP to TCP-only ones, bytes unchanged.
    expect(await sameMap.waitFor((p, transport) => p.type === 'voice' && transport === 'udp')).toEqual({
      type: 'voice',
      id: alice.id,
      data: voice,
    });
    expect(await sameMapTcp.waitFor((p, transport) => p.type === 'voice' && transport === 'tcp')).toEqual({
      type: 'voice',
      id: alice.id,
      data: voice,
    });
    // The voice datagram reached the others above, so a wrong one to Elsewhere was sent before
    // its PING's answer; the TCP relays to it and to Alice went before their answers too.
    await barrier(elsewhere, alice);
    for (const type of ['taunt', 'locator', 'voice']) {
      expect(countPackets(elsewhere, type, elsewhereMark), `${type} on another map`).toBe(0);
      expect(countPackets(alice, type, mark), `${type} echoed`).toBe(0);
    }

    // After a map change the filter follows the new map.
    elsewhere.changeMap('mp_coop_lobby_3');
    await alice.waitFor((p) => p.type === 'map_change');
    alice.taunt('laugh');
    expect(await elsewhere.waitFor((p) => p.type === 'taunt')).toMatchObject({ animation: 'laugh' });
  });

  it('holds back a newcomer’s voice for the grace period', async () => {
    const server = await startServer({ timing: { voice_grace_ms: 1000 } });
    const listener = await join(server, 'Listener');
    const talker = await join(server, 'Talker');
    const joinedAt = performance.now();
    // Well inside the grace period but not at its very start, so a grace a thousand times too
    // short cannot pass by luck.
    await sleep(200);
    talker.voice(Buffer.from('early'));
    await until(() => server.stats.packetsIn.get('Voice') === 1, 2000, 'the server to get the early voice');
    await barrier(listener);
    expect(countPackets(listener, 'voice')).toBe(0);
    expect(performance.now() - joinedAt).toBeLessThan(1000);
    await sleep(Math.max(0, 1100 - (performance.now() - joinedAt)));
    talker.voice(Buffer.from('later'));
    expect(await listener.waitFor((p) => p.type === 'voice')).toMatchObject({ data: Buffer.from('later') });
  });

  it('relays at most chat_per_second messages per sender', async () => {
    const server = await startServer({ limits: { chat_per_second: 5 } });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    for (let i = 0; i < 20; i++) alice.sendMessage(`flood ${i}`);
    await barrier(alice, bob);
    expect(countPackets(bob, 'message')).toBe(5);
    expect(server.stats.droppedPackets.get('chat_rate')).toBe(15);
  });

  it('relays at most locator_per_second locators per sender', async () => {
    const server = await startServer({ limits: { locator_per_second: 10 } });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    for (let i = 0; i < 30; i++) alice.locator({ x: i, y: 0, z: 0 }, { x: 0, y: 0, z: 1 });
    await barrier(alice, bob);
    expect(countPackets(bob, 'locator')).toBe(10);
    expect(server.stats.droppedPackets.get('locator_rate')).toBe(20);
  });

  it('answers PING at once with a header-only PING', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    alice.ping();
    expect(await alice.waitFor((p) => p.type === 'ping')).toEqual({ type: 'ping' });
  });

  it('announces a departure exactly once to everyone else', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    const carol = await join(server, 'Carol');
    const left = server.bus.once('clientDisconnected');
    alice.disconnect(); // DISCONNECT packet followed by the socket closing
    for (const other of [bob, carol]) await other.waitFor((p) => p.type === 'disconnect' && p.id === alice.id);
    await barrier(bob, carol);
    expect(countPackets(bob, 'disconnect')).toBe(1);
    expect(countPackets(carol, 'disconnect')).toBe(1);
    expect((await left).client.name).toBe('Alice');

    bob.close(); // no DISCONNECT packet, just a closed socket
    await carol.waitFor((p) => p.type === 'disconnect' && p.id === bob.id);
    await barrier(carol);
    expect(countPackets(carol, 'disconnect')).toBe(2);
  });
});

describe('bulk updates', () => {
  it('sends every ghost, the receiver included, with the bytes each client sent', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    alice.sendUpdate(pose(1.25));
    bob.sendUpdate(NO_PLAYER_GHOST);
    const bulk = await bob.waitFor(
      (p) => p.type === 'bulk_update' && p.entries.some((e) => e.id === alice.id && e.ghost.readFloatLE(0) === 1.25),
    );
    if (bulk.type !== 'bulk_update') throw new Error('unreachable');
    expect(bulk.id).toBe(0);
    expect(bulk.entries.map((e) => e.id).sort()).toEqual([alice.id, bob.id]);
    expect(bulk.entries.find((e) => e.id === alice.id)!.ghost.equals(pose(1.25))).toBe(true);
    expect(bulk.entries.find((e) => e.id === bob.id)!.ghost.equals(NO_PLAYER_GHOST)).toBe(true);
  });

  it('uses TCP both ways for a tcp_only client and sends it no UDP', async () => {
    const server = await startServer();
    const udpClient = await join(server, 'Udp');
    const tcpClient = await join(server, 'Tcp', { tcpOnly: true });
    tcpClient.sendUpdate(pose(7));
    await udpClient.waitFor(
      (p, transport) =>
        transport === 'udp' &&
        p.type === 'bulk_update' &&
        p.entries.some((e) => e.id === tcpClient.id && e.ghost.readFloatLE(0) === 7),
    );
    await tcpClient.waitFor((p, transport) => transport === 'tcp' && p.type === 'bulk_update');
    expect(tcpClient.received.some((r) => r.transport === 'udp')).toBe(false);
  });

  it('splits a large tick into datagrams no bigger than max_datagram_bytes', async () => {
    const server = await startServer({ limits: { max_datagram_bytes: 9 + 29 * 2 } });
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await join(server, `P${i}`));
    const receiver = clients[0]!;
    const mark = receiver.mark();
    await until(() => countPackets(receiver, 'bulk_update', mark) >= 9, 2000, 'three ticks of bulk updates');
    const bulks = receiver.received.slice(mark).filter((r) => r.packet.type === 'bulk_update');
    expect(bulks.length).toBeGreaterThan(3);
    for (const bulk of bulks)
      if (bulk.packet.type === 'bulk_update') expect(bulk.packet.entries.length).toBeLessThanOrEqual(2);
    const seen = new Set(
      bulks.flatMap((b) => (b.packet.type === 'bulk_update' ? b.packet.entries.map((e) => e.id) : [])),
    );
    expect(seen.size).toBe(5);
  });

  it('with interest_management, sends players only their map’s ghosts and spectators everyone', async () => {
    const server = await startServer({ server: { interest_management: true } });
    const alice = await join(server, 'Alice', { map: 'sp_a1_intro1' });
    const bob = await join(server, 'Bob', { map: 'sp_a1_intro1' });
    const carol = await join(server, 'Carol', { map: 'sp_a2_laser_intro' });
    const watcher = await join(server, 'Watcher', { map: '', spectator: true });
    const idsIn = async (client: typeof alice) => {
      const mark = client.mark();
      const bulk = await client.waitFor((p) => p.type === 'bulk_update', 2000, mark);
      return bulk.type === 'bulk_update' ? bulk.entries.map((entry) => entry.id).sort() : [];
    };
    expect(await idsIn(alice)).toEqual([alice.id, bob.id]);
    expect(await idsIn(carol)).toEqual([carol.id]);
    expect(await idsIn(watcher)).toEqual([alice.id, bob.id, carol.id, watcher.id]);
    carol.changeMap('sp_a1_intro1');
    // The send threads may still be sending a tick built before the map change: wait for the
    // first bulk update that has Carol in it, and check it has nobody else.
    const withCarol = await alice.waitFor(
      (p) => p.type === 'bulk_update' && p.entries.some((entry) => entry.id === carol.id),
      2000,
      alice.mark(),
    );
    if (withCarol.type !== 'bulk_update') throw new Error('unreachable');
    expect(withCarol.entries.map((entry) => entry.id).sort()).toEqual([alice.id, bob.id, carol.id]);
  });

  it('learns a client’s UDP port from its datagrams', async () => {
    const server = await startServer();
    // Announce a port nobody listens on, as a client behind NAT effectively does.
    const alice = await join(server, 'Alice', { announcedUdpPort: 9 });
    const ticks = server.stats.ticks;
    await until(() => server.stats.ticks >= ticks + 3, 2000, 'three ticks');
    expect(countPackets(alice, 'bulk_update')).toBe(0);
    alice.sendUpdate(pose(3));
    await alice.waitFor((p) => p.type === 'bulk_update');
  });

  it('ignores UDP datagrams that claim an id from another IP, or an unknown id', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice', { localAddress: '127.0.0.1' });
    const bob = await join(server, 'Bob');
    alice.sendUpdate(pose(5));
    await until(() => bob.ghosts.get(alice.id)?.ghost.readFloatLE(0) === 5);

    const forger = createSocket('udp4');
    await new Promise<void>((resolve) => forger.bind(0, '127.0.0.2', resolve));
    try {
      forger.send(encodeClientPacket({ type: 'update', id: alice.id, ghost: pose(666) }), server.port, '127.0.0.1');
      forger.send(encodeClientPacket({ type: 'update', id: 999, ghost: pose(666) }), server.port, '127.0.0.1');
      await until(() => (server.stats.droppedPackets.get('udp_unknown_sender') ?? 0) >= 2);
    } finally {
      forger.close();
    }
    // A tick built after the forged datagrams were handled still has Alice where she said.
    const after = await bob.waitFor((p) => p.type === 'bulk_update', 2000, bob.mark());
    if (after.type !== 'bulk_update') throw new Error('unreachable');
    expect(after.entries.find((entry) => entry.id === alice.id)?.ghost.readFloatLE(0)).toBe(5);
    // The forged datagram did not redirect Alice's updates either.
    const mark = alice.mark();
    await alice.waitFor((p) => p.type === 'bulk_update', 1000, mark);
  });
});

describe('countdown', () => {
  it('sends the setup to everyone, answers each confirm at once, then refuses new players', async () => {
    const server = await startServer({ countdown: { delay: 5, pre_commands: 'sv_cheats 0', post_commands: 'say go' } });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob', { spectator: true });
    const started = server.bus.once('countdownStarted');
    server.startCountdown();
    for (const client of [alice, bob]) {
      expect(await client.waitFor((p) => p.type === 'countdown_setup')).toEqual({
        type: 'countdown_setup',
        id: 0,
        duration: 5,
        preCommands: 'sv_cheats 0',
        postCommands: 'say go',
      });
      // SimClient confirms like SAR does; the go comes straight back.
      expect(await client.waitFor((p) => p.type === 'countdown_go')).toEqual({ type: 'countdown_go', id: 0 });
    }
    expect(await started).toEqual({
      duration: 5,
      preCommands: 'sv_cheats 0',
      postCommands: 'say go',
      clientIds: [alice.id, bob.id],
    });
    expect(server.acceptingPlayers).toBe(false);
    await expect(join(server, 'Late')).rejects.toThrow(/closed/);
    // A refused connection never took an id.
    expect((await join(server, 'LateSpectator', { spectator: true })).id).toBe(3);
  });

  it('keeps accepting players when refuse_new_players is off', async () => {
    const server = await startServer({ countdown: { refuse_new_players: false } });
    server.startCountdown({ duration: 3 });
    expect((await join(server, 'Late')).id).toBe(1);
  });

  it('answers a confirm even with no countdown running, and only for step 1', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    alice.sendTcp({ type: 'countdown_confirm', id: alice.id, step: 0 });
    alice.sendTcp({ type: 'countdown_confirm', id: alice.id, step: 1 });
    await alice.waitFor((p) => p.type === 'countdown_go');
    await barrier(alice);
    expect(countPackets(alice, 'countdown_go')).toBe(1);
  });
});

describe('server messages', () => {
  it('broadcasts with id 0, or sends to one client only', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    server.broadcastServerMessage('Race starts in 5 minutes');
    for (const client of [alice, bob]) {
      expect(await client.waitFor((p) => p.type === 'message')).toEqual({
        type: 'message',
        id: 0,
        text: 'Race starts in 5 minutes',
      });
    }
    const mark = alice.mark();
    expect(server.sendServerMessage(bob.id, 'just you')).toBe(true);
    expect(await bob.waitFor((p) => p.type === 'message' && p.text === 'just you')).toBeTruthy();
    await barrier(alice);
    expect(countPackets(alice, 'message', mark)).toBe(0);
    expect(server.sendServerMessage(99, 'nobody')).toBe(false);
  });
});
