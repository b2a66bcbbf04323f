/**
 * The attacker for `npm run bench -- --resilience`: a child process of the benchmark (so that its
 * work does not land on the probes' event loop) that, for a bounded time, attacks the server from
 * loopback addresses of its own (127.3.x.y for the flood, 127.4.0.x for the misbehaving clients):
 *
 * - a connection flood: `connectsPerSecond` TCP connections per second; most send nothing, some
 *   send garbage bytes, some an oversized length prefix. They stay open until the server closes
 *   them or the attack ends;
 * - a client that joins and then stops reading its TCP socket;
 * - a chat flood and a locator flood, each from one joined client.
 *
 * Started by run.ts with an 'attack' message over IPC; answers with an 'attack-report' and exits.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { SimClient } from '../sim/client.js';

export interface AttackStart {
  type: 'attack';
  host: string;
  port: number;
  seconds: number;
  connectsPerSecond: number;
  /** Chat messages and locators per second, each from its own client. */
  floodPerSecond: number;
  map: string;
}

export interface AttackReport {
  type: 'attack-report';
  floodOpened: number;
  floodConnectErrors: number;
  floodClosedByServer: { silent: number; garbage: number; oversized: number };
  floodStillOpen: { silent: number; garbage: number; oversized: number };
  /** ms from connecting until the server closed it, per kind (median, max). */
  floodCloseMs: { silent: number[]; garbage: number[]; oversized: number[] };
  slowReader: { joined: boolean; closedAfterMs: number | undefined };
  chat: { joined: boolean; sent: number; closedAfterMs: number | undefined };
  locator: { joined: boolean; sent: number; closedAfterMs: number | undefined };
  errors: string[];
}

type Kind = 'silent' | 'garbage' | 'oversized';

function send(message: AttackReport | { type: 'fatal'; message: string }): void {
  if (process.connected) process.send?.(message);
}

function floodAddress(index: number): string {
  return `127.3.${Math.floor(index / 254) % 256}.${1 + (index % 254)}`;
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
    errors: [],
  };
  const start = performance.now();
  const endAt = start + config.seconds * 1000;
  const note = (text: string) => {
    if (report.errors.length < 10) report.errors.push(text);
  };

  // ---- the misbehaving clients
  const join = async (index: number, name: string) => {
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
  const [slow, chatter, locator] = await Promise.all([join(1, 'slow-reader'), join(2, 'chatter'), join(3, 'locator')]);
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
  // Stop reading TCP (the socket is private in SimClient; this is a test tool) and UDP. A paused
  // socket does not see its own close, so the server's DISCONNECT broadcast, as the other attack
  // clients receive it, tells when the server dropped it.
  if (slow !== undefined) {
    for (const witness of [chatter, locator]) {
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
  const timer = setInterval(() => {
    if (performance.now() >= endAt) return;
    for (let n = 0; n < perTick; n++) {
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
  for (const entry of floodSockets) {
    if (!entry.closedByServer && !entry.socket.destroyed) report.floodStillOpen[entry.kind]++;
    entry.socket.destroy();
  }
  for (const client of [slow, chatter, locator]) client?.close();
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
