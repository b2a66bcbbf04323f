/**
 * The attacker for `npm run bench -- --resilience`: a child process of the benchmark (so that its
 * work does not land on the probes' event loop) that, for a bounded time, attacks the server from
 * loopback addresses of its own (127.3.x.y for the flood, 127.4.0.x for the misbehaving clients):
 *
 * - a connection flood: `connectsPerSecond` TCP connections per second; most send nothing, some
 *   send garbage bytes, some an oversized length prefix. They stay open until the server closes
 *   them or the attack ends;
 * - a client that joins and then stops reading its TCP socket;
 * - a chat flood and a locator flood, each from one joined client;
 * - a finish flood: one joined client sending SPEEDRUN_FINISH over TCP, as SAR does, at
 *   `finishPerSecond` (the server relays each one to every other player and the app stores each
 *   one in the database);
 * - a model-change flood: one joined client sending MODEL_CHANGE packets of `modelBytes` bytes of
 *   model name over TCP at `modelPerSecond` (relayed to every other player).
 *
 * `attacks` picks the parts. A rate of 0 means flat out: as fast as the TCP socket takes the
 * bytes (the server's reading is the only brake). At a fixed rate a sender that cannot write
 * (more than HELD_BACK_BYTES already waiting in its socket, because the server is not reading)
 * counts the packets it holds back instead of queueing them without bound.
 *
 * Started by run.ts with an 'attack' message over IPC; answers with an 'attack-report' and exits.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { frame } from '../src/ghost/protocol/framing.js';
import { encodeClientPacket } from '../src/ghost/protocol/packets.js';
import { SimClient } from '../src/sim/client.js';
import type { AttackKind, AttackReport, AttackStart, FloodReport } from './ipc.js';

type Kind = 'silent' | 'garbage' | 'oversized';

function send(message: AttackReport | { type: 'fatal'; message: string }): void {
  if (process.connected) process.send?.(message);
}

function floodAddress(index: number): string {
  return `127.3.${Math.floor(index / 254) % 256}.${1 + (index % 254)}`;
}

/** Bytes already waiting in a flooder's socket above which a fixed-rate flood holds packets back. */
const HELD_BACK_BYTES = 4 * 1024 * 1024;
/** Flat out: bytes written in one go before waiting for the socket to drain. */
const FLAT_OUT_BURST_BYTES = 256 * 1024;
/** Fixed-rate floods look at the clock this often and send what is due. */
const PACE_MS = 10;

/** The TCP socket of a SimClient (private there; this is a test tool, as for the slow reader). */
function tcpOf(client: SimClient): Socket {
  return (client as unknown as { tcp: Socket }).tcp;
}

/** SAR's finish time text: "m:ss.mmm". */
function finishTime(n: number): string {
  return `${Math.floor(n / 60_000) % 60}:${String(Math.floor(n / 1000) % 60).padStart(2, '0')}.${String(n % 1000).padStart(3, '0')}`;
}

/** A model name of exactly `bytes` bytes (ASCII), shaped like a real one. */
function modelName(bytes: number): string {
  const head = 'models/flood/';
  const tail = '.mdl';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail;
}

/**
 * Floods from `client` until `endAt`: `perSecond` packets per second, or flat out when 0.
 * `payload(n)` makes the n-th packet. Returns a function that stops it early.
 */
function flood(
  client: SimClient,
  perSecond: number,
  endAt: number,
  payload: (n: number) => Buffer,
  target: FloodReport,
): () => void {
  const tcp = tcpOf(client);
  const startedAt = performance.now();
  let stopped = false;
  const write = (): boolean => {
    const bytes = payload(target.sent);
    target.sent++;
    target.bytes += bytes.length;
    return tcp.write(frame(bytes));
  };
  const live = () => !stopped && !client.closed && !tcp.destroyed && performance.now() < endAt;
  if (perSecond === 0) {
    const pump = () => {
      if (!live()) return;
      while (live() && tcp.writableLength < FLAT_OUT_BURST_BYTES) write();
      if (live()) tcp.once('drain', pump);
    };
    pump();
    return () => {
      stopped = true;
      tcp.off('drain', pump);
    };
  }
  const timer = setInterval(() => {
    if (!live()) return;
    const due = Math.floor(((performance.now() - startedAt) / 1000) * perSecond) - target.sent - target.heldBack;
    if (due <= 0) return;
    if (tcp.writableLength > HELD_BACK_BYTES) {
      target.heldBack += due;
      return;
    }
    tcp.cork();
    for (let n = 0; n < due; n++) write();
    tcp.uncork();
  }, PACE_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function attack(config: AttackStart): Promise<AttackReport> {
  const report: AttackReport = {
    type: 'attack-report',
    floodOpened: 0,
    floodConnectErrors: 0,
    floodClosedByServer: { silent: 0, garbage: 0, oversized: 0 },
    floodStillOpen: { silent: 0, garbage: 0, oversized: 0 },
    floodCloseMs: { silent: [], garbage: [], oversized: [] },
    slowReader: { joined: false, closedAfterMs: undefined },
    chat: { joined: false, sent: 0, closedAfterMs: undefined },
    locator: { joined: false, sent: 0, closedAfterMs: undefined },
    finish: { joined: false, sent: 0, bytes: 0, heldBack: 0, achievedPerSecond: 0, closedAfterMs: undefined },
    model: { joined: false, sent: 0, bytes: 0, heldBack: 0, achievedPerSecond: 0, closedAfterMs: undefined },
    attacks: config.attacks,
    errors: [],
  };
  const wants = (kind: AttackKind) => config.attacks.includes(kind);
  const start = performance.now();
  const endAt = start + config.seconds * 1000;
  const note = (text: string) => {
    if (report.errors.length < 10) report.errors.push(text);
  };

  // ---- the misbehaving clients
  const join = async (index: number, name: string, kind: AttackKind) => {
    if (!wants(kind)) return undefined;
    try {
      return await SimClient.connect({
        host: config.host,
        port: config.port,
        name,
        localAddress: `127.4.0.${index}`,
        keepHistory: false,
        map: config.map,
        connectTimeoutMs: 10_000,
      });
    } catch (error) {
      note(`${name}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const [slow, chatter, locator, finisher, modeller] = await Promise.all([
    join(1, 'slow-reader', 'slow-reader'),
    join(2, 'chatter', 'chat'),
    join(3, 'locator', 'locator'),
    join(4, 'finisher', 'finish'),
    join(5, 'modeller', 'model'),
  ]);
  const watchClose = (
    client: SimClient | undefined,
    target: { joined: boolean; closedAfterMs: number | undefined },
  ) => {
    if (client === undefined) return;
    target.joined = true;
    client.on('close', () => {
      if (performance.now() < endAt) target.closedAfterMs ??= performance.now() - start;
    });
  };
  watchClose(slow, report.slowReader);
  watchClose(chatter, report.chat);
  watchClose(locator, report.locator);
  watchClose(finisher, report.finish);
  watchClose(modeller, report.model);
  // Stop reading TCP (the socket is private in SimClient; this is a test tool) and UDP. A paused
  // socket does not see its own close, so the server's DISCONNECT broadcast, as the other attack
  // clients receive it, tells when the server dropped it.
  if (slow !== undefined) {
    for (const witness of [chatter, locator, finisher, modeller]) {
      witness?.on('packet', ({ packet }) => {
        if (packet.type === 'disconnect' && packet.id === slow.id && performance.now() < endAt)
          report.slowReader.closedAfterMs ??= performance.now() - start;
      });
    }
    (slow as unknown as { tcp: Socket }).tcp.pause();
    slow.udp?.removeAllListeners('message');
  }

  // ---- floods
  const floodSockets: Array<{ socket: Socket; kind: Kind; closedByServer: boolean }> = [];
  let floodIndex = 0;
  const floodTick = 50;
  const perTick = Math.max(1, Math.round((config.connectsPerSecond * floodTick) / 1000));
  const chatPerTick = Math.max(1, Math.round((config.floodPerSecond * floodTick) / 1000));
  const text = 'flood '.repeat(20);
  const stopFloods: Array<() => void> = [];
  const floodStart = performance.now();
  if (finisher !== undefined) {
    const id = finisher.id;
    stopFloods.push(
      flood(
        finisher,
        config.finishPerSecond,
        endAt,
        (n) => encodeClientPacket({ type: 'speedrun_finish', id, time: finishTime(n) }),
        report.finish,
      ),
    );
  }
  if (modeller !== undefined) {
    // One packet, written again and again: the server does the same work for each.
    const packet = encodeClientPacket({ type: 'model_change', id: modeller.id, model: modelName(config.modelBytes) });
    stopFloods.push(flood(modeller, config.modelPerSecond, endAt, () => packet, report.model));
  }
  const timer = setInterval(() => {
    if (performance.now() >= endAt) return;
    for (let n = 0; wants('connections') && n < perTick; n++) {
      const index = floodIndex++;
      const kind: Kind = index % 10 === 8 ? 'garbage' : index % 10 === 9 ? 'oversized' : 'silent';
      const openedAt = performance.now();
      const socket = connectTcp({ host: config.host, port: config.port, localAddress: floodAddress(index) });
      const entry = { socket, kind, closedByServer: false };
      let connected = false;
      floodSockets.push(entry);
      socket.on('connect', () => {
        connected = true;
        report.floodOpened++;
        if (kind === 'garbage') socket.write(Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)));
        if (kind === 'oversized') {
          const prefix = Buffer.alloc(8);
          prefix.writeUInt32BE(0x7fffffff, 0);
          socket.write(prefix);
        }
      });
      socket.on('error', (error) => {
        if (!connected) report.floodConnectErrors++;
        else note(`flood ${kind}: ${error.message}`);
      });
      socket.on('data', () => {
        // Whatever the server says, it is discarded.
      });
      socket.on('close', () => {
        if (performance.now() < endAt && !entry.closedByServer) {
          entry.closedByServer = true;
          report.floodClosedByServer[kind]++;
          report.floodCloseMs[kind].push(performance.now() - openedAt);
        }
      });
    }
    for (let n = 0; n < chatPerTick; n++) {
      if (chatter !== undefined && !chatter.closed) {
        chatter.sendMessage(`${text}${report.chat.sent}`);
        report.chat.sent++;
      }
      if (locator !== undefined && !locator.closed) {
        locator.locator({ x: n, y: report.locator.sent, z: 0 }, { x: 0, y: 0, z: 1 });
        report.locator.sent++;
      }
    }
  }, floodTick);

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, endAt - performance.now())));
  clearInterval(timer);
  for (const stop of stopFloods) stop();
  const floodSeconds = (performance.now() - floodStart) / 1000;
  for (const target of [report.finish, report.model])
    target.achievedPerSecond = floodSeconds > 0 ? target.sent / floodSeconds : 0;
  for (const entry of floodSockets) {
    if (!entry.closedByServer && !entry.socket.destroyed) report.floodStillOpen[entry.kind]++;
    entry.socket.destroy();
  }
  for (const client of [slow, chatter, locator, finisher, modeller]) client?.close();
  // Summarise the close times as [median, max] to keep the report small.
  for (const kind of ['silent', 'garbage', 'oversized'] as const) {
    const values = report.floodCloseMs[kind];
    report.floodCloseMs[kind] = values.length > 0 ? [median(values), Math.max(...values)] : [];
  }
  return report;
}

process.on('message', (raw) => {
  const message = raw as AttackStart;
  if (message.type !== 'attack') return;
  attack(message).then(
    (report) => {
      send(report);
      setTimeout(() => process.exit(0), 200).unref();
    },
    (error: unknown) => {
      send({ type: 'fatal', message: (error as Error).message });
      setTimeout(() => process.exit(1), 200).unref();
    },
  );
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), 10 * 60 * 1000).unref();
if (!process.connected) {
  console.error('attack: must be started by the benchmark (needs an IPC channel)');
  process.exit(2);
}
