import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { REFUSAL_CODES } from '../src/ghost/refusals.js';
import { GhostServer } from '../src/ghost/server.js';
import { SimClient } from '../src/sim/client.js';
import { encodeDataGhost } from '../src/ghost/protocol/data-ghost.js';
import { frame } from '../src/ghost/protocol/framing.js';
import { encodeClientPacket } from '../src/ghost/protocol/packets.js';
import {
  barrier,
  closed,
  countPackets,
  join,
  rawConnection,
  sleep,
  startServer,
  testConfig,
  until,
} from './helpers.js';

const pose = (x: number) =>
  encodeDataGhost({ position: { x, y: 2, z: 3 }, angles: { x: 0, y: 0, z: 0 }, viewOffset: 5, grounded: true });

describe('handshake', () => {
  it('gives ids from 1, confirms with everyone already there, and announces the newcomer', async () => {
    const server = await startServer();
    const alice = await join(server, 'Alice', {
      map: 'sp_a1_intro1',
      color: { r: 1, g: 2, b: 3 },
      model: 'models/a.mdl',
    });
    expect(alice.id).toBe(1);
    expect(alice.ghosts.size).toBe(0);

    alice.sendUpdate(pose(42));
    await until(() => server.getGhost(1)?.readFloatLE(0) === 42, 2000, 'the update to be stored');

    const bob = await join(server, 'Bob', { spectator: true, map: '' });
    expect(bob.id).toBe(2);
    expect([...bob.ghosts.values()]).toEqual([
      {
        id: 1,
        name: 'Alice',
        ghost: pose(42),
        model: 'models/a.mdl',
        map: 'sp_a1_intro1',
        color: { r: 1, g: 2, b: 3 },
        spectator: false,
      },
    ]);
    const announced = await alice.waitFor((p) => p.type === 'connect');
    expect(announced).toMatchObject({ type: 'connect', entity: { id: 2, name: 'Bob', spectator: true, map: '' } });
  });

  it('never reuses an id', async () => {
    const server = await startServer();
    const first = await join(server, 'One');
    await join(server, 'Two');
    first.disconnect();
    await until(() => server.listClients().length === 1);
    const third = await join(server, 'Three');
    expect(third.id).toBe(3);
  });

  it('closes a connection whose first packet is not CONNECT', async () => {
    const server = await startServer();
    const socket = await rawConnection(server);
    socket.write(frame(encodeClientPacket({ type: 'message', id: 1, text: 'hello' })));
    await closed(socket);
    expect(server.stats.refusedConnections.get('not_connect')).toBe(1);
  });

  it('closes a connection whose CONNECT never completes when the handshake time runs out', async () => {
    const server = await startServer({ timing: { handshake_timeout_ms: 300 } });
    const socket = await rawConnection(server);
    const connect = frame(
      encodeClientPacket({
        type: 'connect',
        udpPort: 1,
        name: 'Slowpoke',
        ghost: Buffer.alloc(25),
        model: 'm',
        map: '',
        tcpOnly: true,
        color: { r: 0, g: 0, b: 0 },
        spectator: false,
      }),
    );
    // Half a length prefix, then most of the frame: bytes keep coming, the CONNECT never does.
    socket.write(connect.subarray(0, 2));
    await sleep(100);
    socket.write(connect.subarray(2, connect.length - 1));
    const lasted = await closed(socket, 2000);
    expect(lasted).toBeGreaterThan(100);
    expect(server.stats.refusedConnections.get('handshake_timeout')).toBe(1);
    expect(server.listClients()).toEqual([]);
  });

  it('closes a connection that never sends CONNECT, without holding up anyone else', async () => {
    const server = await startServer({ timing: { handshake_timeout_ms: 300 } });
    const watcher = await join(server, 'Watcher');
    const mover = await join(server, 'Mover');
    const silent = await rawConnection(server);
    const mark = watcher.mark();
    const moves = setInterval(() => mover.sendUpdate(pose(Math.random())), 10);
    try {
      const lasted = await closed(silent, 3000);
      expect(lasted).toBeGreaterThan(200);
      // Bulk updates kept flowing to the watcher the whole time (20 ms tick).
      expect(countPackets(watcher, 'bulk_update', mark)).toBeGreaterThan(5);
    } finally {
      clearInterval(moves);
    }
    expect(server.stats.refusedConnections.get('handshake_timeout')).toBe(1);
    expect(server.listClients().length).toBe(2);
  });

  it('closes a connection whose CONNECT is truncated', async () => {
    const server = await startServer();
    const socket = await rawConnection(server);
    socket.write(frame(Buffer.from('02c3cb000000ff', 'hex')));
    await closed(socket);
    expect(server.stats.refusedConnections.get('bad_connect')).toBe(1);
  });

  it('refuses players or spectators when told to, and logs the refusal as an event', async () => {
    const server = await startServer();
    server.setAcceptingPlayers(false);
    const refused = server.bus.once('clientRefused');
    await expect(join(server, 'Late')).rejects.toThrow(/closed/);
    expect(await refused).toMatchObject({
      name: 'Late',
      code: 'not_accepting_players',
      reason: 'not accepting players: refused by an operator (accept players opens it)',
    });
    const spectator = await join(server, 'Watcher', { spectator: true });
    expect(spectator.id).toBe(1);

    server.setAcceptingSpectators(false);
    await expect(join(server, 'Watcher2', { spectator: true })).rejects.toThrow(/closed/);
    server.setAcceptingPlayers(true);
    expect((await join(server, 'Player')).id).toBe(2);
  });

  it('lets several clients from one IP play side by side', async () => {
    const server = await startServer();
    const a = await join(server, 'LanA');
    const b = await join(server, 'LanB');
    const c = await join(server, 'LanC');
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    a.sendUpdate(pose(10));
    b.sendUpdate(pose(20));
    await until(
      () => c.ghosts.get(a.id)?.ghost.readFloatLE(0) === 10 && c.ghosts.get(b.id)?.ghost.readFloatLE(0) === 20,
    );
    // Removing one leaves its neighbours on the same address alone.
    expect(server.kick(a.id)).toBe(true);
    await a.waitForClose();
    await barrier(b, c);
    expect(b.closed || c.closed).toBe(false);
    expect(
      server
        .listClients()
        .map((client) => client.name)
        .sort(),
    ).toEqual(['LanB', 'LanC']);
  });

  it('caps connections per IP', async () => {
    const server = await startServer({ limits: { max_connections_per_ip: 2 } });
    await join(server, 'One', { localAddress: '127.0.0.9' });
    await join(server, 'Two', { localAddress: '127.0.0.9' });
    await expect(join(server, 'Three', { localAddress: '127.0.0.9' })).rejects.toThrow();
    expect(server.stats.refusedConnections.get('too_many_connections')).toBe(1);
    // Another address is not affected.
    expect((await join(server, 'Elsewhere', { localAddress: '127.0.0.10' })).id).toBe(3);
  });

  it('refuses clients over max_clients', async () => {
    const server = await startServer({ limits: { max_clients: 1 } });
    await join(server, 'One');
    await expect(join(server, 'Two')).rejects.toThrow(/closed/);
  });
});

describe('readiness', () => {
  for (const threads of [0, 2]) {
    it(`only listens once it can serve: the first connection that gets through joins (send_threads = ${threads})`, async () => {
      const port = await freeTcpAndUdpPort();
      const config = testConfig({ server: { port, send_threads: threads } });
      const server = new GhostServer({ config });
      const started = server.start();
      try {
        // Knock until the port answers; a connection it accepts must not be dropped unserved.
        let client: SimClient | undefined;
        for (let attempt = 0; attempt < 2000 && client === undefined; attempt++) {
          try {
            client = await SimClient.connect({ host: '127.0.0.1', port, name: `Early${attempt}`, map: '' });
          } catch (error) {
            expect((error as NodeJS.ErrnoException).code, String(error)).toBe('ECONNREFUSED');
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        expect(client?.id).toBe(1);
        client!.close();
      } finally {
        await started.catch(() => {});
        await server.stop('test finished');
      }
    });
  }
});

/** A port free for TCP and UDP right now (the server is then started on it by number). */
async function freeTcpAndUdpPort(): Promise<number> {
  for (;;) {
    const tcp = createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as AddressInfo).port;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => (free ? udp.close(() => resolve()) : resolve()));
    if (free) return port;
  }
}

describe('refusal codes', () => {
  it('are each documented in docs/errors.md', () => {
    const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('## Connection refusals'), docs.indexOf('## HTTP'));
    for (const code of REFUSAL_CODES) expect(section, code).toContain(`\`${code}\``);
  });
});
