/**
 * The countdown pinger: a child process of the benchmark that joins as one client and times the
 * COUNTDOWN confirm (`u8 8, u32 id, u8 1`) → `countdown_go` round trip, which SAR uses to line
 * up everyone's start. It runs apart from the probes because they decode every bulk update:
 * their own event-loop lag (p99 3–5 ms at 1,000+ clients) would be counted as the server's.
 * Its bulk updates go to a UDP socket it never reads, so its loop is idle when an answer comes.
 *
 * One confirm is outstanding at a time; one not answered when the next is due counts as lost.
 * Driven over IPC by run.ts (see ipc.ts). It exits when told to, or when the parent goes away.
 */
import { createSocket } from 'node:dgram';
import { SimClient } from '../src/sim/client.js';
import { PROBE_MAP } from './addresses.js';
import type { FromPinger, ToPinger } from './ipc.js';
import { stopReading, UNREAD_RECEIVE_BUFFER } from './light-client.js';
import { LagMonitor, Samples } from './stats.js';

/** Longest this process may live whatever happens (a backstop; run.ts stops it far sooner). */
const MAX_LIFETIME_MS = 60 * 60 * 1000;

function send(message: FromPinger): void {
  if (process.connected) process.send?.(message);
}

let client: SimClient | undefined;
let timer: NodeJS.Timeout | undefined;
let pendingSince: number | undefined;
let lost = 0;
const rtt = new Samples();
const lag = new LagMonitor(10);

async function start(message: Extract<ToPinger, { type: 'start' }>): Promise<void> {
  const sink = createSocket('udp4');
  await new Promise<void>((resolve) => sink.bind(0, message.localAddress, resolve));
  sink.setRecvBufferSize(UNREAD_RECEIVE_BUFFER);
  stopReading(sink);
  client = await SimClient.connect({
    host: message.host,
    port: message.port,
    name: 'countdown-pinger',
    localAddress: message.localAddress,
    map: PROBE_MAP,
    keepHistory: false,
    announcedUdpPort: sink.address().port,
    connectTimeoutMs: 15_000,
  });
  const pinger = client;
  pinger.on('packet', ({ packet, at }: { packet: { type: string }; at: number }) => {
    if (packet.type !== 'countdown_go' || pendingSince === undefined) return;
    rtt.add(at - pendingSince);
    pendingSince = undefined;
  });
  pinger.on('close', () => clearTimeout(timer));
  const ping = () => {
    if (pendingSince !== undefined) lost++;
    pendingSince = performance.now();
    pinger.sendTcp({ type: 'countdown_confirm', id: pinger.id, step: 1 });
    timer = setTimeout(ping, message.intervalMs * (0.75 + Math.random() / 2));
  };
  timer = setTimeout(ping, message.intervalMs * Math.random());
  lag.start();
  send({ type: 'ready', id: pinger.id });
}

process.on('message', (raw) => {
  const message = raw as ToPinger;
  switch (message.type) {
    case 'start':
      start(message).catch((error: unknown) => {
        send({ type: 'fatal', message: (error as Error).message });
        process.exit(1);
      });
      break;
    case 'mark':
      rtt.reset();
      lag.samples.reset();
      lost = 0;
      send({ type: 'marked' });
      break;
    case 'report':
      send({
        type: 'report',
        rtt: rtt.summary(),
        lost,
        eventLoopLag: lag.samples.summary(),
        connected: client !== undefined && !client.closed,
      });
      break;
    case 'exit':
      clearTimeout(timer);
      client?.close();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
