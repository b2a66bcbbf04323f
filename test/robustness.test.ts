import { describe, expect, it } from 'vitest';
import { encodeDataGhost } from '../src/ghost/protocol/data-ghost.js';
import { frame } from '../src/ghost/protocol/framing.js';
import { decodeConnectConfirm, encodeClientPacket } from '../src/ghost/protocol/packets.js';
import { barrier, closed, countPackets, join, rawConnection, sleep, startServer, until } from './helpers.js';

const pose = (x: number) =>
  encodeDataGhost({ position: { x, y: 0, z: 0 }, angles: { x: 0, y: 0, z: 0 }, viewOffset: 0, grounded: false });

describe('heartbeats', () => {
  it('keeps a client that answers and drops one that misses two, telling the others once', async () => {
    const server = await startServer({ timing: { heartbeat_interval_ms: 100 } });
    const answering = await join(server, 'Answering');
    const silent = await join(server, 'Silent', { answerHeartbeats: false });
    const tokens = new Set<number>();
    answering.on('packet', ({ packet, transport }) => {
      if (packet.type === 'heartbeat' && transport === 'tcp') tokens.add(packet.token);
    });

    await silent.waitForClose(1000);
    await answering.waitFor((p) => p.type === 'disconnect' && p.id === silent.id);
    expect(server.stats.droppedClients.get('heartbeat')).toBe(1);

    // Four more heartbeats, all answered: still there.
    const seen = tokens.size;
    await until(() => tokens.size >= seen + 4, 3000, 'four more heartbeats');
    await barrier(answering);
    expect(answering.closed).toBe(false);
    expect(countPackets(answering, 'disconnect')).toBe(1);
    // A fresh random token each time (never 0, which is the UDP keep-alive's).
    expect(tokens.has(0)).toBe(false);
  });

  it('drops a silent client right after its second unanswered heartbeat, not before, not after', async () => {
    const server = await startServer({ timing: { heartbeat_interval_ms: 100 } });
    const silent = await join(server, 'Silent', { answerHeartbeats: false });
    await silent.waitForClose(2000);
    const heartbeats = silent.received.filter((r) => r.packet.type === 'heartbeat' && r.transport === 'tcp');
    expect(heartbeats.length).toBe(2);
    expect(server.stats.droppedClients.get('heartbeat')).toBe(1);
  });

  it('does not count a wrong token as an answer', async () => {
    const server = await startServer({ timing: { heartbeat_interval_ms: 100 } });
    const liar = await join(server, 'Liar', { answerHeartbeats: false });
    liar.on('packet', ({ packet }) => {
      if (packet.type === 'heartbeat')
        liar.sendTcp({ type: 'heartbeat', id: liar.id, token: (packet.token + 1) >>> 0 });
    });
    await liar.waitForClose(1000);
  });

  it('sends UDP keep-alives with token 0 to clients that are not TCP-only', async () => {
    const server = await startServer({ timing: { udp_keepalive_interval_ms: 50 } });
    const udp = await join(server, 'Udp');
    const tcp = await join(server, 'Tcp', { tcpOnly: true });
    expect(await udp.waitFor((p, transport) => p.type === 'heartbeat' && transport === 'udp')).toEqual({
      type: 'heartbeat',
      id: udp.id,
      token: 0,
    });
    // Two more keep-alives to the UDP client: the TCP-only one was due its own by now.
    const mark = udp.mark();
    await until(
      () => udp.received.slice(mark).filter((r) => r.packet.type === 'heartbeat' && r.transport === 'udp').length >= 2,
      2000,
      'two more keep-alives',
    );
    await barrier(tcp);
    expect(tcp.received.some((r) => r.packet.type === 'heartbeat' && r.packet.token === 0)).toBe(false);
  });
});

describe('hostile and broken clients', () => {
  it('drops a packet whose id is not the sender’s and keeps the sender', async () => {
    const server = await startServer();
    const mallory = await join(server, 'Mallory');
    const victim = await join(server, 'Victim');
    const mark = victim.mark();
    mallory.sendTcp({ type: 'message', id: victim.id, text: 'I am Victim' });
    mallory.sendTcp({ type: 'disconnect', id: victim.id });
    mallory.sendTcp({ type: 'map_change', id: victim.id, map: 'fake', ticks: 0, ticksTotal: 0 });
    await until(() => (server.stats.droppedPackets.get('spoofed_id') ?? 0) === 3);
    await barrier(mallory, victim);
    expect(countPackets(victim, 'message', mark)).toBe(0);
    expect(server.listClients().length).toBe(2);
    expect(server.getClient(victim.id)?.map).toBe('sp_a1_intro1');
    expect(mallory.closed).toBe(false);
  });

  it('ignores STOP_SERVER', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    alice.sendTcp({ type: 'stop_server', id: alice.id });
    alice.sendTcp({ type: 'stop_server', id: 0 });
    alice.ping();
    await alice.waitFor((p) => p.type === 'ping');
    expect(server.running).toBe(true);
    expect((await join(server, 'Carol')).id).toBe(3);
    expect(bob.closed).toBe(false);
  });

  it('drops a client that sends a truncated packet; the others carry on', async () => {
    const server = await startServer();
    const broken = await join(server, 'Broken');
    const other = await join(server, 'Other');
    broken.sendTcpPayload(Buffer.from('0700000001000000ff41', 'hex')); // MESSAGE whose text length overruns
    await broken.waitForClose();
    await other.waitFor((p) => p.type === 'disconnect' && p.id === broken.id);
    expect(server.stats.droppedClients.get('protocol')).toBe(1);
    other.ping();
    await other.waitFor((p) => p.type === 'ping');
  });

  it('ignores a packet with an unknown header without dropping the client', async () => {
    const server = await startServer();
    const futureSar = await join(server, 'Future');
    futureSar.sendTcpPayload(Buffer.from('2a00000001', 'hex'));
    futureSar.ping();
    await futureSar.waitFor((p) => p.type === 'ping');
    expect(server.stats.droppedPackets.get('unknown_header')).toBe(1);
  });

  it('drops a client whose frame length is over the limit, at once', async () => {
    const server = await startServer({ limits: { max_frame_bytes: 4096 } });
    const greedy = await join(server, 'Greedy');
    const other = await join(server, 'Other');
    greedy.sendTcpBytes(Buffer.from('ffffffff', 'hex'));
    await greedy.waitForClose(1000);
    await other.waitFor((p) => p.type === 'disconnect' && p.id === greedy.id);
  });

  it('refuses an oversized frame before the handshake', async () => {
    const server = await startServer({ limits: { max_frame_bytes: 4096 } });
    const socket = await rawConnection(server);
    socket.write(Buffer.from('00100000', 'hex'));
    await closed(socket, 1000);
    expect(server.stats.refusedConnections.get('oversized_frame')).toBe(1);
  });

  it('keeps serving while a frame promises bytes that never come', async () => {
    const server = await startServer();
    const stalled = await join(server, 'Stalled');
    const watcher = await join(server, 'Watcher');
    stalled.sendTcpBytes(Buffer.from('0000010007', 'hex')); // 256-byte frame, 1 byte sent
    const mark = watcher.mark();
    watcher.ping();
    await watcher.waitFor((p) => p.type === 'ping', 1000, mark);
    await until(() => countPackets(watcher, 'bulk_update', mark) > 2, 2000, 'the watcher to keep getting ticks');
    expect(stalled.closed).toBe(false);
  });

  it('weathers a connection flood from many addresses while players play', async () => {
    const server = await startServer({ timing: { handshake_timeout_ms: 300 } });
    const watcher = await join(server, 'Watcher');
    const mover = await join(server, 'Mover');
    const moves = setInterval(() => mover.sendUpdate(pose(Math.random())), 10);
    try {
      const mark = watcher.mark();
      // 90 connections, each from its own address so the per-IP cap does not apply: a third
      // say nothing, a third send garbage, a third promise an oversized frame.
      const flood = await Promise.all(
        Array.from({ length: 90 }, (_, n) => rawConnection(server, `127.5.${Math.floor(n / 200)}.${(n % 200) + 1}`)),
      );
      flood.forEach((socket, n) => {
        if (n % 3 === 1) socket.write(Buffer.from('the quick brown fox jumps over it'));
        if (n % 3 === 2) socket.write(Buffer.from('7fffffff', 'hex'));
      });
      const lasted = await Promise.all(flood.map((socket) => closed(socket, 3000)));
      const silentLasted = lasted.filter((_, n) => n % 3 === 0);
      expect(Math.min(...silentLasted)).toBeGreaterThan(200);
      expect(server.stats.refusedConnections.get('handshake_timeout')).toBe(30);
      expect(server.stats.refusedConnections.get('oversized_frame')).toBe(60);
      // The players never noticed: still connected, and their ticks kept coming (20 ms tick).
      expect(server.listClients().map((client) => client.name)).toEqual(['Watcher', 'Mover']);
      expect(countPackets(watcher, 'bulk_update', mark)).toBeGreaterThan(10);
    } finally {
      clearInterval(moves);
    }
  });

  for (const threads of [0, 2]) {
    it(`serves a client that announced UDP port 0 once it sends a datagram (send_threads = ${threads})`, async () => {
      const server = await startServer({ server: { send_threads: threads } });
      // No real client announces port 0, and nothing can be sent to it: dgram throws at once.
      const zero = await join(server, 'Zero', { announcedUdpPort: 0 });
      const other = await join(server, 'Other');
      const mark = other.mark();
      await until(() => countPackets(other, 'bulk_update', mark) > 3, 2000, 'ticks to reach the other client');
      expect(countPackets(zero, 'bulk_update')).toBe(0);
      expect(server.running).toBe(true);
      zero.sendUpdate(pose(1));
      await zero.waitFor((p) => p.type === 'bulk_update');
    });
  }

  it('survives UDP junk: empty, short, oversized and wrong-type datagrams', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const junk = [
      Buffer.alloc(0),
      Buffer.from([9]),
      Buffer.from('09000000', 'hex'),
      Buffer.alloc(40_000, 9),
      encodeClientPacket({ type: 'message', id: alice.id, text: 'by udp' }),
      Buffer.from('0900000001ff', 'hex'), // truncated update with Alice's id
    ];
    for (const datagram of junk) alice.sendUdpPayload(datagram);
    alice.sendUpdate(
      encodeDataGhost({ position: { x: 9, y: 9, z: 9 }, angles: { x: 0, y: 0, z: 0 }, viewOffset: 0, grounded: true }),
    );
    await until(() => alice.ghosts.size === 0 && server.getGhost(alice.id)?.readFloatLE(0) === 9);
    expect(alice.closed).toBe(false);
    expect(server.stats.droppedPackets.get('udp_unexpected_type')).toBe(1);
    expect(server.stats.droppedPackets.get('udp_malformed')).toBe(1);
  });

  it('drops a client that stops reading, while a reading client gets everything', async () => {
    const server = await startServer({ limits: { max_send_buffer_bytes: 256 * 1024 } });
    const reader = await join(server, 'Reader', { keepHistory: false });
    let messagesRead = 0;
    reader.on('packet', ({ packet }) => {
      if (packet.type === 'message') messagesRead++;
    });

    // A hand-made client that completes the handshake and then never reads again.
    const stuck = await rawConnection(server);
    stuck.write(
      frame(
        encodeClientPacket({
          type: 'connect',
          udpPort: 0,
          name: 'Stuck',
          ghost: Buffer.alloc(25),
          model: 'm',
          map: 'sp_a1_intro1',
          tcpOnly: true,
          color: { r: 0, g: 0, b: 0 },
          spectator: false,
        }),
      ),
    );
    await new Promise<void>((resolve) =>
      stuck.once('data', (chunk) => (decodeConnectConfirm(chunk.subarray(4)).ok ? resolve() : undefined)),
    );
    stuck.pause();

    const text = 'x'.repeat(8 * 1024);
    let sent = 0;
    // Bounded: ~40 MB is far beyond loopback socket buffers plus the 256 KiB limit.
    while (sent < 5000 && server.listClients().length === 2) {
      server.broadcastServerMessage(text);
      sent++;
      if (sent % 50 === 0) await sleep(1);
    }
    expect(server.stats.droppedClients.get('slow_reader')).toBe(1);
    // Once it reads again it finds the connection closed.
    stuck.resume();
    await closed(stuck, 10_000);
    await until(() => messagesRead === sent, 10_000, 'the reader to receive every message');
    expect(reader.closed).toBe(false);
  });
});

describe('shutdown', () => {
  it('tells clients, closes every socket and stops listening', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob', { tcpOnly: true });
    const pending = await rawConnection(server);
    const stopped = server.bus.once('serverStopped');
    await server.stop('test');
    await stopped;
    for (const client of [alice, bob]) {
      expect(client.received.some((r) => r.packet.type === 'message' && r.packet.id === 0)).toBe(true);
      await client.waitForClose(500);
    }
    await closed(pending, 500);
    await expect(join(server, 'Late', { connectTimeoutMs: 500 })).rejects.toThrow();
  });
});
