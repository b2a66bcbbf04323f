/**
 * The per-client limits that keep one client from costing everyone else: a rate limit for every
 * packet type the server relays, stores or answers, the bounded chat queue, and the send-buffer
 * limit for clients that stop reading. Each test pins the limit itself, not only its presence.
 */
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { frame } from '../src/ghost/protocol/framing.js';
import { encodeClientPacket, encodeServerPacket } from '../src/ghost/protocol/packets.js';
import { MAX_PENDING_CHAT } from '../src/ghost/chat.js';
import type { GhostServer } from '../src/ghost/server.js';
import { barrier, countPackets, join, sleep, startApp, joinApp, startServer, until } from './helpers.js';

const LIMITED = {
  map_change_per_second: 2,
  chat_per_second: 2,
  countdown_confirm_per_second: 2,
  update_per_second: 2,
  finish_per_second: 2,
  model_change_per_second: 2,
  color_change_per_second: 2,
  taunt_per_second: 2,
  locator_per_second: 2,
  voice_per_second: 2,
};

describe('per-client packet rate limits', () => {
  it('relay, store or answer at most the configured number of each packet type a second', async () => {
    const server = await startServer({ limits: LIMITED });
    // TCP-only both, so updates and voice travel in order with everything else.
    const flooder = await join(server, 'Flooder', { tcpOnly: true, map: 'mp_coop_lobby_3' });
    const receiver = await join(server, 'Receiver', { tcpOnly: true, map: 'mp_coop_lobby_3' });
    const receiverMark = receiver.mark();
    const flooderMark = flooder.mark();
    for (let i = 0; i < 5; i++) {
      flooder.changeMap('mp_coop_lobby_3', i, i);
      flooder.sendMessage(`chat ${i}`);
      flooder.sendTcp({ type: 'countdown_confirm', id: flooder.id, step: 1 });
      flooder.sendUpdate({
        position: { x: i, y: 0, z: 0 },
        angles: { x: 0, y: 0, z: 0 },
        viewOffset: 0,
        grounded: true,
      });
      flooder.finishSpeedrun(`0:0${i}.000`);
      flooder.changeModel(`model ${i}`.padEnd(15 * 1024, '.'));
      flooder.changeColor({ r: i, g: i, b: i });
      flooder.taunt(`taunt ${i}`);
      flooder.locator({ x: i, y: 0, z: 0 }, { x: 0, y: 0, z: 1 });
      flooder.voice(Buffer.from(`voice ${i}`));
    }
    await barrier(flooder, receiver);
    for (const type of [
      'map_change',
      'message',
      'speedrun_finish',
      'model_change',
      'color_change',
      'taunt',
      'locator',
      'voice',
    ]) {
      expect(countPackets(receiver, type, receiverMark), type).toBe(2);
    }
    expect(countPackets(flooder, 'countdown_go', flooderMark)).toBe(2);
    for (const reason of [
      'map_change_rate',
      'chat_rate',
      'countdown_confirm_rate',
      'update_rate',
      'finish_rate',
      'model_change_rate',
      'color_change_rate',
      'taunt_rate',
      'locator_rate',
      'voice_rate',
    ]) {
      expect(server.stats.droppedPackets.get(reason), reason).toBe(3);
    }
    // The first two of each got through, in order; the flooder is still connected.
    expect(server.getClient(flooder.id)?.model).toBe('model 1'.padEnd(15 * 1024, '.'));
    expect(flooder.closed).toBe(false);
  });

  it('answers at most ping_per_second pings', async () => {
    const server = await startServer({ limits: { ping_per_second: 3 } });
    const pinger = await join(server, 'Pinger');
    const other = await join(server, 'Other');
    for (let i = 0; i < 10; i++) pinger.ping();
    // A chat message after the pings is relayed once they have all been handled.
    pinger.sendMessage('done');
    await other.waitFor((p) => p.type === 'message' && p.text === 'done');
    await until(() => countPackets(pinger, 'ping') === 3, 2000, 'three answers');
    expect(server.stats.droppedPackets.get('ping_rate')).toBe(7);
  });

  it('limits UDP updates too, and one client’s flood leaves another’s updates alone', async () => {
    const server = await startServer({ limits: { update_per_second: 5 } });
    const flooder = await join(server, 'Flooder');
    const calm = await join(server, 'Calm');
    for (let i = 0; i < 50; i++)
      flooder.sendUpdate({
        position: { x: i, y: 0, z: 0 },
        angles: { x: 0, y: 0, z: 0 },
        viewOffset: 0,
        grounded: true,
      });
    calm.sendUpdate({ position: { x: 7, y: 0, z: 0 }, angles: { x: 0, y: 0, z: 0 }, viewOffset: 0, grounded: true });
    await until(() => (server.stats.droppedPackets.get('update_rate') ?? 0) >= 40, 2000, 'the flood to be cut');
    await until(() => server.getGhost(calm.id)?.readFloatLE(0) === 7, 2000, 'the calm update');
    // Datagrams may be lost on the way, never more than the limit accepted.
    expect(server.stats.droppedPackets.get('update_rate')).toBeLessThanOrEqual(45);
    expect(server.getGhost(flooder.id)!.readFloatLE(0)).toBeLessThan(5);
  });

  it('counts each sender’s chat in a sliding second: the 6th is dropped at 500 ms, allowed after 1 s', async () => {
    const server = await startServer({ limits: { chat_per_second: 5 } });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    const started = performance.now();
    for (let i = 1; i <= 5; i++) alice.sendMessage(`m${i}`);
    await barrier(alice, bob);
    expect(countPackets(bob, 'message')).toBe(5);

    await sleep(Math.max(0, 500 - (performance.now() - started)));
    alice.sendMessage('m6');
    await barrier(alice, bob);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(countPackets(bob, 'message')).toBe(5);
    expect(server.stats.droppedPackets.get('chat_rate')).toBe(1);

    // The server saw the first five a little after they were sent: leave it some margin.
    await sleep(Math.max(0, 1200 - (performance.now() - started)));
    alice.sendMessage('m7');
    expect(await bob.waitFor((p) => p.type === 'message' && p.text === 'm7')).toBeTruthy();
  });

  it('shows the drops in /metrics by reason', async () => {
    const app = await startApp({
      overrides: { limits: { finish_per_second: 1 }, http: { enabled: true, port: 0 } },
    });
    const runner = await joinApp(app, 'Runner');
    for (let i = 0; i < 30; i++) runner.finishSpeedrun(`1:0${i % 10}.000`);
    await barrier(runner);
    const text = await (await fetch(`http://127.0.0.1:${app.http.port}/metrics`)).text();
    expect(text).toMatch(/^ghosting_dropped_packets_total\{reason="finish_rate"\} 29$/m);
  });
});

describe('receive budget', () => {
  it('stops reading a connection past its max_receive_bytes_per_second for a moment, and loses nothing', async () => {
    const budget = 64 * 1024;
    const server = await startServer({ limits: { max_receive_bytes_per_second: budget } });
    const flooder = await join(server, 'Flooder', { answerHeartbeats: false });
    const watcher = await join(server, 'Watcher');
    // HEART_BEAT answers have no rate limit of their own: 10,000 of them, 130 KB, in one go.
    const answer = frame(encodeClientPacket({ type: 'heartbeat', id: flooder.id, token: 1 }));
    const count = 10_000;
    flooder.sendTcpBytes(Buffer.concat(Array.from({ length: count }, () => answer)));
    const heartbeatsIn = () => server.stats.packetsIn.get('HeartBeat') ?? 0;
    await until(() => server.stats.throttledReads >= 1, 2000, 'the connection to be throttled');
    // Read so far: the budget plus at most the chunk that crossed it.
    expect(heartbeatsIn() * answer.length).toBeLessThanOrEqual(budget + 64 * 1024);
    expect(heartbeatsIn()).toBeLessThan(count);
    const mark = watcher.mark();
    await until(() => countPackets(watcher, 'bulk_update', mark) >= 3, 2000, 'ticks for the others meanwhile');
    // Nothing is lost: the rest is read in the following seconds, and the flooder stays.
    await until(() => heartbeatsIn() === count, 5000, 'every frame read in the end');
    expect(flooder.closed).toBe(false);
  });
});

describe('chat filters', () => {
  it('bound each sender’s queue when a filter hangs, and never hold up other senders', async () => {
    const server = await startServer({ limits: { chat_per_second: 0 } });
    const hanging = new Set<string>();
    server.addChatFilter((client, text) =>
      client.name === 'Stuck' ? new Promise(() => hanging.add(text)) : { action: 'allow' },
    );
    const stuck = await join(server, 'Stuck');
    const other = await join(server, 'Other');
    for (let i = 0; i < MAX_PENDING_CHAT + 10; i++) stuck.sendMessage(`stuck ${i}`);
    await barrier(stuck);
    expect(server.stats.droppedPackets.get('chat_queue_full')).toBe(10);
    other.sendMessage('still here');
    expect(await stuck.waitFor((p) => p.type === 'message' && p.text === 'still here')).toBeTruthy();
  });

  it('drop a message when a filter answers nonsense, and keep serving', async () => {
    const server = await startServer();
    const answers: unknown[] = [
      { action: 'rewrite' }, // no text: used to crash the encoder and the process
      { action: 'rewrite', text: 42 },
      { action: 'rewrite', text: 'x'.repeat(5000) },
      { action: 'shout' },
      null,
      'allow',
    ];
    let call = 0;
    server.addChatFilter(() => {
      const answer = answers[call++];
      if (answer === undefined) return { action: 'rewrite', text: 'fine' };
      return answer as { action: 'allow' };
    });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    const mark = bob.mark();
    for (let i = 0; i < answers.length; i++) alice.sendMessage(`bad ${i}`);
    alice.sendMessage('good');
    expect(await bob.waitFor((p) => p.type === 'message', 2000, mark)).toEqual({
      type: 'message',
      id: alice.id,
      text: 'fine',
    });
    expect(countPackets(bob, 'message', mark)).toBe(1);
    expect(server.running).toBe(true);
  });

  it('drop a message whose filter throws', async () => {
    const server = await startServer();
    server.addChatFilter((_client, text) => {
      if (text === 'boom') throw new Error('filter bug');
      return { action: 'allow' };
    });
    const alice = await join(server, 'Alice');
    const bob = await join(server, 'Bob');
    const mark = bob.mark();
    alice.sendMessage('boom');
    alice.sendMessage('after');
    expect(await bob.waitFor((p) => p.type === 'message', 2000, mark)).toMatchObject({ text: 'after' });
    expect(countPackets(bob, 'message', mark)).toBe(1);
  });
});

describe('admission', () => {
  it('refuses with a typed code, and refuses when a check throws or answers nonsense', async () => {
    const server = await startServer();
    const answers: unknown[] = [new Error('check bug'), { nonsense: true }, '', { code: 'banned', reason: 'cheating' }];
    let call = 0;
    server.addAdmissionCheck(() => {
      const answer = answers[call++];
      if (answer instanceof Error) throw answer;
      return answer as undefined;
    });
    const refusals: Array<{ code?: string; reason: string }> = [];
    server.bus.on('clientRefused', (refusal) => void refusals.push(refusal));
    for (const name of ['A', 'B', 'C', 'D']) await expect(join(server, name)).rejects.toThrow(/closed/);
    expect(refusals.map((refusal) => refusal.code)).toEqual([
      'admission_error',
      'admission_error',
      'refused',
      'banned',
    ]);
    expect(refusals[3]!.reason).toBe('cheating');
    expect(server.stats.refusedConnections.get('admission_error')).toBe(2);
    expect((await join(server, 'E')).id).toBe(1);
  });
});

/** The server side of a joined client's connection (for the send-buffer boundary). */
function serverSocketOf(server: GhostServer, id: number): Socket {
  return server['roster'].get(id)!.socket;
}

/**
 * Stops a client reading, then sends it server messages until the kernel takes no more, so that
 * every further byte stays in the server's send buffer, where the limit looks.
 */
async function fillKernelBuffers(server: GhostServer, id: number, pause: () => void): Promise<Socket> {
  pause();
  const socket = serverSocketOf(server, id);
  const chunk = 'k'.repeat(16 * 1024);
  for (let i = 0; i < 2000 && socket.writableLength === 0; i++) {
    server.sendServerMessage(id, chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Let the kernel settle: the length must hold still while nothing is read.
  for (let stable = 0, last = -1; stable < 3;) {
    await sleep(20);
    stable = socket.writableLength === last ? stable + 1 : 0;
    last = socket.writableLength;
  }
  return socket;
}

/** One server message whose frame is exactly `bytes` long. */
function messageOfFrameSize(bytes: number): string {
  const overhead = frame(encodeServerPacket({ type: 'message', id: 0, text: '' })).length;
  return 'b'.repeat(bytes - overhead);
}

describe('send buffer limit', () => {
  const LIMIT = 1024 * 1024;

  for (const [extra, dropped] of [
    [0, false],
    [1, true],
  ] as const) {
    it(`${dropped ? 'drops' : 'keeps'} a client that stops reading with ${extra === 0 ? 'exactly the limit' : 'one byte over the limit'} unsent`, async () => {
      // Bulk updates go by UDP and no heartbeat falls due: nothing but the test writes to its TCP.
      const server = await startServer({
        limits: { max_send_buffer_bytes: LIMIT },
        timing: { heartbeat_interval_ms: 60_000 },
      });
      const slow = await join(server, 'Slow');
      const socket = await fillKernelBuffers(server, slow.id, () => slow['tcp'].pause());
      const queued = socket.writableLength;
      expect(queued).toBeGreaterThan(0);
      expect(queued).toBeLessThan(LIMIT / 2);
      server.sendServerMessage(slow.id, messageOfFrameSize(LIMIT + extra - queued));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(server.getClient(slow.id) === undefined).toBe(dropped);
      if (!dropped) expect(socket.writableLength).toBe(LIMIT);
      expect(server.stats.droppedClients.get('slow_reader') ?? 0).toBe(dropped ? 1 : 0);
    });
  }
});
