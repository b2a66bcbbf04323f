import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeClientPacket, Header } from '../src/ghost/protocol/packets.js';
import { UdpFanout } from '../src/ghost/udp-fanout.js';
import { silentLogger } from '../src/logger.js';
import { join, startServer, until } from './helpers.js';

const sockets: UdpSocket[] = [];
const fanouts: UdpFanout[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(fanouts.splice(0).map((fanout) => fanout.close()));
});

interface Received {
  datagram: Buffer;
  source: RemoteInfo;
}

/** A UDP socket on 127.0.0.1 that keeps what it receives. */
async function listener(): Promise<{ socket: UdpSocket; port: number; received: Received[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const received: Received[] = [];
  socket.on('message', (datagram, source) => received.push({ datagram, source }));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, received };
}

/** A port free for UDP on 127.0.0.1 right now. */
async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(resolve));
  return port;
}

async function startFanout(threads: number, port: number, onDatagram = (_d: Buffer, _s: RemoteInfo) => {}) {
  const fanout = await UdpFanout.start({
    threads,
    type: 'udp4',
    hostname: '127.0.0.1',
    port,
    sendBufferSize: 0,
    log: silentLogger(),
    onDatagram,
  });
  fanouts.push(fanout);
  return fanout;
}

describe('bulk updates sent from send threads', () => {
  for (const threads of [0, 1, 2]) {
    it(`with send_threads = ${threads}, reach every UDP client from the server's own port`, async () => {
      const server = await startServer({ server: { send_threads: threads } });
      const receivers = await Promise.all([listener(), listener(), listener()]);
      for (const [index, receiver] of receivers.entries()) {
        await join(server, `P${index}`, { announcedUdpPort: receiver.port });
      }
      await until(() => receivers.every((receiver) => receiver.received.some((r) => r.datagram[0] === Header.Update)));
      for (const receiver of receivers) {
        const bulk = receiver.received.filter((r) => r.datagram[0] === Header.Update);
        // Source port = the port clients connect to, or NAT would not let the datagrams through.
        expect(new Set(bulk.map((r) => r.source.port))).toEqual(new Set([server.port]));
      }
      const latest = receivers[2]!.received.filter((r) => r.datagram[0] === Header.Update).at(-1)!.datagram;
      expect(latest.readUInt32BE(5)).toBe(3);
      const sent = server.stats.trafficOut.get('Update');
      expect(sent?.packets).toBe(server.stats.datagramsOut - (server.stats.trafficOut.get('HeartBeat')?.packets ?? 0));
    });
  }

  it('stops sending to a client once it has left', async () => {
    const server = await startServer();
    const leaver = await listener();
    const stayer = await listener();
    const leaving = await join(server, 'Leaver', { announcedUdpPort: leaver.port });
    await join(server, 'Stayer', { announcedUdpPort: stayer.port });
    await until(() => leaver.received.length > 0 && stayer.received.length > 0);
    leaving.disconnect();
    await until(() => server.listClients().length === 1);
    // Ticks built before the departure may still be on their way: let two later ones reach the stayer.
    const stayerAtLeave = stayer.received.length;
    await until(() => stayer.received.length >= stayerAtLeave + 2);
    const before = leaver.received.length;
    const stayerBefore = stayer.received.length;
    await until(() => stayer.received.length >= stayerBefore + 3);
    expect(leaver.received.length).toBe(before);
  });
});

describe('UdpFanout', () => {
  it('sends each datagram to every listed endpoint, and not to forgotten ones', async () => {
    const port = await freeUdpPort();
    const fanout = await startFanout(1, port);
    const [first, second] = await Promise.all([listener(), listener()]);
    fanout.setEndpoint(1, '127.0.0.1', first.port);
    fanout.setEndpoint(3, '127.0.0.1', second.port);
    fanout.send([Buffer.from('a'), Buffer.from('b')], [1, 3]);
    await until(() => first.received.length === 2 && second.received.length === 2);
    expect(first.received.map((r) => r.datagram.toString())).toEqual(['a', 'b']);
    expect(first.received[0]!.source.port).toBe(port);

    fanout.forget(1);
    fanout.send([Buffer.from('c')], [1, 3]);
    // One thread sends in list order on loopback, so id 1's datagram would have arrived first.
    await until(() => second.received.length === 3);
    // Both datagrams were in the kernel's queues already; one more turn of the loop reads both sockets.
    await new Promise((resolve) => setImmediate(resolve));
    expect(first.received.length).toBe(2);
  });

  it('skips a tick for the clients of a thread still sending the previous one', async () => {
    const port = await freeUdpPort();
    const fanout = await startFanout(1, port);
    const receiver = await listener();
    fanout.setEndpoint(1, '127.0.0.1', receiver.port);
    // The next beginTick comes at once, before the thread can even have read this request.
    // 200 datagrams fit a default-sized receive buffer, should the reader fall behind.
    const busy = Array.from({ length: 200 }, (_, n) => Buffer.from(`busy ${n}`));
    fanout.beginTick();
    expect(fanout.send(busy, [1])).toBe(0);
    fanout.beginTick();
    expect(fanout.send([Buffer.from('stale')], [1])).toBe(1);
    await until(() => receiver.received.length === 200);
    fanout.beginTick();
    expect(fanout.send([Buffer.from('fresh')], [1])).toBe(0);
    await until(() => receiver.received.length === 201);
    expect(receiver.received.at(-1)!.datagram.toString()).toBe('fresh');
    expect(receiver.received.some((r) => r.datagram.toString() === 'stale')).toBe(false);
  });

  it('hands a datagram that reached a send thread to the main thread', async () => {
    const port = await freeUdpPort();
    const forwarded: Received[] = [];
    // No main socket on this port: the thread's socket is the only one there.
    await startFanout(1, port, (datagram, source) => forwarded.push({ datagram, source }));
    const sender = await listener();
    const update = encodeClientPacket({ type: 'heartbeat', id: 7, token: 99 });
    sender.socket.send(update, port, '127.0.0.1');
    await until(() => forwarded.length === 1);
    expect(forwarded[0]!.datagram).toEqual(update);
    expect(forwarded[0]!.source).toMatchObject({ address: '127.0.0.1', port: sender.port, family: 'IPv4' });
  });

  it('refuses to start when its port is taken without SO_REUSEADDR', async () => {
    const holder = await listener();
    await expect(startFanout(2, holder.port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
