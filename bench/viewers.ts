/**
 * `--viewers`: a child process of the benchmark (so that its CPU is not counted as the server's,
 * and its event loop is not the probes') that holds N connections to the server's public
 * `GET /live` Server-Sent-Events stream, as N browsers on the home page would.
 *
 * Each reading viewer parses the stream as EventSource does (blocks separated by a blank line;
 * `id:`, `event:`, `data:` fields; `:` comments), JSON-parses every event's data, and checks
 * that ids rise on its connection. The bench says `bench <time>` at the server's console (the
 * time as `performance.timeOrigin + performance.now()`, the same clock in every process); a
 * viewer that gets that `message` event counts now − time as the delivery delay.
 *
 * Slow viewers send their request on a raw socket and then never read (the socket is paused):
 * the kernel's buffers fill, then the server's, until the server drops them. What the kernel
 * holds for each is read from /proc/net/tcp (the server's `tx_queue`, the viewer's `rx_queue`).
 *
 * Driven over IPC by run.ts (see ipc.ts). It exits when told to, or when the parent goes away.
 */
import { get, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { FromViewers, SlowViewerState, ToViewers, ViewersStart } from './ipc.js';
import { CpuMeter, LagMonitor, Samples, sleep, summarize } from './stats.js';

/** Longest this process may live whatever happens (a backstop; run.ts stops it far sooner). */
const MAX_LIFETIME_MS = 60 * 60 * 1000;
const MAX_FAILURE_TEXTS = 10;
/** A block (one event) longer than this without its blank line is a broken stream. */
const MAX_PENDING_CHARS = 16 * 1024 * 1024;
const BENCH_MESSAGE = /^bench (\d+(?:\.\d+)?)$/;
/** How often the kernel's queues for the viewers' sockets are read (/proc/net/tcp). */
const QUEUE_SAMPLE_MS = 500;

function send(message: FromViewers): void {
  if (process.connected) process.send?.(message);
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

class Viewer {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private lastId: number | undefined;
  response: IncomingMessage | undefined;
  request: ReturnType<typeof get> | undefined;
  open = false;
  closed = false;
  /** The size of the first event (the snapshot), once it came. */
  snapshotBytes: number | undefined;
  snapshotPlayers = 0;
  /** Called on the snapshot: the ramp opens the next connection. */
  onSnapshotHook: (() => void) | undefined;
  windowEvents = 0;
  windowBenchMessages = 0;
  /** Events on this connection whose id was not above the previous one. */
  staleIds = 0;
  localPort: number | undefined;

  constructor(private readonly feed: Viewers) {}

  onData(chunk: Buffer): void {
    const feed = this.feed;
    feed.chunks++;
    feed.bytes += chunk.length;
    this.pending += this.decoder.write(chunk);
    let end: number;
    let start = 0;
    while ((end = this.pending.indexOf('\n\n', start)) >= 0) {
      this.onBlock(this.pending.slice(start, end), end - start);
      start = end + 2;
    }
    if (start > 0) this.pending = this.pending.slice(start);
    if (this.pending.length > MAX_PENDING_CHARS) {
      feed.closeReason('an event longer than 16 MiB');
      this.request?.destroy();
    }
  }

  private onBlock(block: string, length: number): void {
    const feed = this.feed;
    let id: number | undefined;
    let event = 'message';
    let data: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        feed.heartbeats++;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = Number(value);
      else if (field === 'event') event = value;
      else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    }
    // A block without data (a comment, `retry:`) dispatches no event.
    if (data === undefined) return;
    let parsed: unknown;
    // `parse: 'messages'` (a control for the measuring side's own CPU): only the snapshot and the
    // `message` events are JSON-parsed, the others just framed and counted.
    if (feed.parseAll || event === 'message' || this.snapshotBytes === undefined) {
      try {
        parsed = JSON.parse(data);
      } catch {
        feed.parseErrors++;
      }
    }
    feed.events++;
    this.windowEvents++;
    feed.eventsByName.set(event, (feed.eventsByName.get(event) ?? 0) + 1);
    if (id !== undefined && Number.isFinite(id)) {
      if (this.lastId !== undefined && id <= this.lastId) {
        this.staleIds++;
        feed.staleIds++;
        feed.staleIdsTotal++;
      }
      this.lastId = Math.max(id, this.lastId ?? id);
    }
    if (this.snapshotBytes === undefined) {
      this.snapshotBytes = length;
      if (event === 'snapshot') {
        const players = (parsed as { players?: unknown[] } | undefined)?.players;
        this.snapshotPlayers = Array.isArray(players) ? players.length : 0;
      }
      feed.onSnapshot(this);
    }
    if (event === 'message') {
      const text = (parsed as { text?: unknown } | undefined)?.text;
      const match = typeof text === 'string' ? BENCH_MESSAGE.exec(text) : null;
      if (match !== null) {
        const delay = now() - Number(match[1]);
        feed.delay.add(delay);
        const first = feed.perMessage.get(match[1]!);
        if (first === undefined) feed.perMessage.set(match[1]!, { first: delay, last: delay });
        else first.last = Math.max(first.last, delay);
        feed.benchMessages++;
        this.windowBenchMessages++;
      }
    }
  }
}

interface SlowViewer {
  socket: Socket;
  localPort: number | undefined;
  open: boolean;
  ended: boolean;
  bytes: number;
}

class Viewers {
  readonly readers: Viewer[] = [];
  readonly slow: SlowViewer[] = [];
  readonly delay = new Samples(2_000_000);
  /** Per `bench <time>` message: the delay of the first viewer that parsed it and of the last. */
  readonly perMessage = new Map<string, { first: number; last: number }>();
  readonly eventsByName = new Map<string, number>();
  private readonly lag = new LagMonitor(10);
  private readonly cpu = new CpuMeter();
  private readonly closeReasons = new Map<string, number>();
  private readonly failures: string[] = [];
  private windowStart = performance.now();
  /** The most the kernel held at once for the reading viewers (sampled every QUEUE_SAMPLE_MS): server side, viewer side. */
  private queuedMax = { server: 0, viewers: 0 };
  private queueTimer: NodeJS.Timeout | undefined;
  private failed = 0;
  private snapshots = 0;
  private rampDone: (() => void) | undefined;
  events = 0;
  chunks = 0;
  bytes = 0;
  heartbeats = 0;
  parseErrors = 0;
  staleIds = 0;
  /** Since the start: never reset by `mark` (a new connection's first events are in the ramp). */
  staleIdsTotal = 0;
  benchMessages = 0;
  closedInWindow = 0;
  closedTotal = 0;

  readonly parseAll: boolean;

  constructor(private readonly config: ViewersStart) {
    this.parseAll = config.parse === 'all';
  }

  async run(): Promise<void> {
    const { count, concurrency, connectTimeoutMs } = this.config;
    this.lag.start();
    this.queueTimer = setInterval(() => this.sampleQueues(), QUEUE_SAMPLE_MS);
    const start = performance.now();
    const allIn = new Promise<void>((resolve) => (this.rampDone = resolve));
    let next = 0;
    const progress = setInterval(
      () => send({ type: 'progress', connected: this.snapshots, failed: this.failed }),
      1000,
    );
    // `concurrency` requests in flight at a time: the next one starts when one has its snapshot or failed.
    const launch = () => {
      while (next < count && next - this.snapshots - this.failed < concurrency) this.open(next++, launch);
    };
    launch();
    try {
      await Promise.race([allIn, sleep(connectTimeoutMs)]);
    } finally {
      clearInterval(progress);
    }
    const snapshotSizes = this.readers.flatMap((viewer) =>
      viewer.snapshotBytes === undefined ? [] : [viewer.snapshotBytes],
    );
    const notIn = this.readers.filter((viewer) => viewer.snapshotBytes === undefined && !viewer.closed).length;
    if (notIn > 0) this.fail(`${notIn} had no snapshot within ${connectTimeoutMs} ms`, notIn);
    send({
      type: 'ready',
      connected: this.snapshots,
      failed: this.failed + (count - next),
      failures: this.failures,
      rampMs: performance.now() - start,
      snapshotBytes: snapshotSizes.reduce((total, size) => total + size, 0) / Math.max(1, snapshotSizes.length),
      snapshotPlayers: this.readers.find((viewer) => viewer.snapshotBytes !== undefined)?.snapshotPlayers ?? 0,
      staleIds: this.staleIdsTotal,
      staleViewers: this.readers.filter((viewer) => viewer.staleIds > 0).length,
    });
  }

  private open(index: number, launch: () => void): void {
    const viewer = new Viewer(this);
    this.readers.push(viewer);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      launch();
    };
    const request = get(
      {
        host: this.config.host,
        port: this.config.port,
        path: '/live',
        headers: { accept: 'text/event-stream' },
        agent: false,
      },
      (response) => {
        viewer.response = response;
        const type = response.headers['content-type'] ?? '';
        if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
          this.fail(`viewer ${index}: status ${response.statusCode} (${type})`);
          response.resume();
          viewer.closed = true;
          request.destroy();
          settle();
          return;
        }
        viewer.open = true;
        viewer.localPort = response.socket.localPort;
        response.on('data', (chunk: Buffer) => viewer.onData(chunk));
        const ended = (reason: string) => {
          if (viewer.closed) return;
          viewer.closed = true;
          viewer.open = false;
          if (viewer.snapshotBytes === undefined) {
            this.fail(`viewer ${index}: ${reason} before the snapshot`);
            settle();
            return;
          }
          this.closedInWindow++;
          this.closedTotal++;
          this.closeReason(reason);
        };
        response.on('end', () => ended('the server ended the stream'));
        response.on('error', (error) => ended(error.message));
        response.on('close', () => ended('the connection closed'));
      },
    );
    viewer.request = request;
    request.on('error', (error) => {
      if (viewer.response === undefined && !viewer.closed) {
        viewer.closed = true;
        this.fail(`viewer ${index}: ${error.message}`);
        settle();
      }
    });
    viewer.onSnapshotHook = settle;
  }

  onSnapshot(viewer: Viewer): void {
    this.snapshots++;
    viewer.onSnapshotHook?.();
    this.checkRamp();
  }

  private fail(text: string, count = 1): void {
    this.failed += count;
    if (this.failures.length < MAX_FAILURE_TEXTS) this.failures.push(text);
    this.checkRamp();
  }

  private checkRamp(): void {
    if (this.snapshots + this.failed >= this.config.count) this.rampDone?.();
  }

  /**
   * What the kernel holds for all reading viewers together: unsent or unacknowledged in the
   * server's sockets (the server wrote it, the viewer process has not taken it) and received
   * but not yet read by this process. Together with the delay this tells who is behind: a
   * backlog in this process shows here, one inside the server (its own queues) does not.
   */
  private sampleQueues(): void {
    const queues = tcpQueues(this.config.port);
    let server = 0;
    let viewers = 0;
    for (const viewer of this.readers) {
      const port = viewer.localPort;
      if (port === undefined || !viewer.open) continue;
      server += queues.get(`${this.config.port}>${port}`)?.tx ?? 0;
      viewers += queues.get(`${port}>${this.config.port}`)?.rx ?? 0;
    }
    this.queuedMax.server = Math.max(this.queuedMax.server, server);
    this.queuedMax.viewers = Math.max(this.queuedMax.viewers, viewers);
  }

  closeReason(reason: string): void {
    this.closeReasons.set(reason, (this.closeReasons.get(reason) ?? 0) + 1);
  }

  mark(): void {
    this.windowStart = performance.now();
    this.events = this.chunks = this.bytes = this.heartbeats = this.parseErrors = this.staleIds = 0;
    this.queuedMax = { server: 0, viewers: 0 };
    this.benchMessages = this.closedInWindow = 0;
    this.eventsByName.clear();
    this.delay.reset();
    this.perMessage.clear();
    this.lag.samples.reset();
    this.cpu.reset();
    for (const viewer of this.readers) viewer.windowEvents = viewer.windowBenchMessages = 0;
  }

  report(): FromViewers {
    const open = this.readers.filter((viewer) => viewer.open && viewer.snapshotBytes !== undefined);
    const events = open.map((viewer) => viewer.windowEvents);
    const messages = open.map((viewer) => viewer.windowBenchMessages);
    const least = (values: number[]) => (values.length === 0 ? 0 : Math.min(...values));
    const most = (values: number[]) => (values.length === 0 ? 0 : Math.max(...values));
    return {
      type: 'report',
      windowMs: performance.now() - this.windowStart,
      open: open.length,
      closedInWindow: this.closedInWindow,
      closedTotal: this.closedTotal,
      closeReasons: [...this.closeReasons].map(([reason, n]) => `${n}× ${reason}`),
      events: this.events,
      eventsByName: Object.fromEntries(this.eventsByName),
      eventsPerViewerMin: least(events),
      eventsPerViewerMax: most(events),
      chunks: this.chunks,
      bytes: this.bytes,
      heartbeats: this.heartbeats,
      parseErrors: this.parseErrors,
      staleIds: this.staleIds,
      benchMessages: this.benchMessages,
      benchMessagesPerViewerMin: least(messages),
      benchMessagesPerViewerMax: most(messages),
      delay: this.delay.summary(),
      firstDelay: summarize([...this.perMessage.values()].map((message) => message.first)),
      spread: summarize([...this.perMessage.values()].map((message) => message.last - message.first)),
      kernelQueuedMaxBytes: { ...this.queuedMax },
      eventLoopLag: this.lag.samples.summary(),
      cpuPercent: this.cpu.percent(),
      rssKb: Math.round(process.memoryUsage().rss / 1024),
    };
  }

  /** Opens `count` viewers that send the request and never read a byte of the answer. */
  async openSlow(count: number, timeoutMs: number): Promise<FromViewers> {
    const failures: string[] = [];
    const opened = await Promise.all(
      Array.from(
        { length: count },
        (_, index) =>
          new Promise<boolean>((resolve) => {
            const socket = connect({ host: this.config.host, port: this.config.port });
            // Never read: the kernel's receive buffer fills, then the server's send buffer, then the server's own queue.
            socket.pause();
            const viewer: SlowViewer = { socket, localPort: undefined, open: false, ended: false, bytes: 0 };
            const timer = setTimeout(() => {
              failures.push(`slow viewer ${index}: no connection within ${timeoutMs} ms`);
              socket.destroy();
              resolve(false);
            }, timeoutMs);
            socket.once('connect', () => {
              clearTimeout(timer);
              viewer.localPort = socket.localPort;
              viewer.open = true;
              this.slow.push(viewer);
              socket.write(
                `GET /live HTTP/1.1\r\nHost: ${this.config.host}:${this.config.port}\r\nAccept: text/event-stream\r\n\r\n`,
              );
              resolve(true);
            });
            socket.on('error', (error) => {
              clearTimeout(timer);
              if (!viewer.open && failures.length < MAX_FAILURE_TEXTS)
                failures.push(`slow viewer ${index}: ${error.message}`);
              resolve(false);
            });
            socket.on('close', () => {
              viewer.open = false;
            });
          }),
      ),
    );
    const connected = opened.filter(Boolean).length;
    return { type: 'slow-ready', connected, failed: count - connected, failures };
  }

  /** Each slow viewer's socket and what the kernel holds for it, on both ends. */
  slowStatus(): SlowViewerState[] {
    const queues = tcpQueues(this.config.port);
    return this.slow.map((viewer) => {
      const ours = viewer.localPort === undefined ? undefined : queues.get(`${viewer.localPort}>${this.config.port}`);
      const theirs = viewer.localPort === undefined ? undefined : queues.get(`${this.config.port}>${viewer.localPort}`);
      return {
        open: viewer.open,
        serverQueuedBytes: theirs?.tx,
        viewerQueuedBytes: ours?.rx,
      };
    });
  }

  /** The slow viewers read what is waiting for them; a stream the server closed then ends. */
  async drainSlow(timeoutMs: number): Promise<FromViewers> {
    const done = this.slow.map(
      (viewer) =>
        new Promise<void>((resolve) => {
          if (viewer.socket.destroyed) {
            resolve();
            return;
          }
          viewer.socket.on('data', (chunk: Buffer) => (viewer.bytes += chunk.length));
          viewer.socket.once('end', () => (viewer.ended = true));
          viewer.socket.once('close', () => {
            viewer.ended = true;
            resolve();
          });
          viewer.socket.resume();
        }),
    );
    await Promise.race([Promise.all(done), sleep(timeoutMs)]);
    const endedByServer = this.slow.filter((viewer) => viewer.ended).length;
    const result: FromViewers = {
      type: 'slow-drained',
      endedByServer,
      stillOpen: this.slow.length - endedByServer,
      bytes: this.slow.map((viewer) => viewer.bytes),
    };
    for (const viewer of this.slow) viewer.socket.destroy();
    return result;
  }

  close(): void {
    this.lag.stop();
    clearInterval(this.queueTimer);
    for (const viewer of this.readers) viewer.request?.destroy();
    for (const viewer of this.slow) viewer.socket.destroy();
  }
}

/** `tx_queue` and `rx_queue` of the IPv4 TCP sockets on 127.0.0.1 with `port` at one end, by "local>remote" port. */
function tcpQueues(port: number): Map<string, { tx: number; rx: number }> {
  const queues = new Map<string, { tx: number; rx: number }>();
  let text: string;
  try {
    text = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return queues;
  }
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of text.split('\n')) {
    if (!line.includes(hexPort)) continue;
    // sl local rem st tx_queue:rx_queue ...
    const fields = line.trim().split(/\s+/);
    const local = fields[1]?.split(':')[1];
    const remote = fields[2]?.split(':')[1];
    const [tx, rx] = (fields[4] ?? '').split(':');
    if (local === undefined || remote === undefined || tx === undefined || rx === undefined) continue;
    queues.set(`${parseInt(local, 16)}>${parseInt(remote, 16)}`, { tx: parseInt(tx, 16), rx: parseInt(rx, 16) });
  }
  return queues;
}

let viewers: Viewers | undefined;

function exit(code: number): never {
  viewers?.close();
  process.exit(code);
}

process.on('message', (raw) => {
  const message = raw as ToViewers;
  const fatal = (error: unknown) => {
    send({ type: 'fatal', message: (error as Error).message });
    exit(1);
  };
  switch (message.type) {
    case 'start':
      if (viewers !== undefined) return;
      viewers = new Viewers(message);
      viewers.run().catch(fatal);
      break;
    case 'mark':
      viewers?.mark();
      send({ type: 'marked' });
      break;
    case 'report':
      if (viewers !== undefined) send(viewers.report());
      break;
    case 'slow':
      viewers?.openSlow(message.count, message.timeoutMs).then(send, fatal);
      break;
    case 'slow-status':
      if (viewers !== undefined) send({ type: 'slow-status', viewers: viewers.slowStatus() });
      break;
    case 'slow-drain':
      viewers?.drainSlow(message.timeoutMs).then(send, fatal);
      break;
    case 'exit':
      exit(0);
  }
});
process.on('disconnect', () => exit(0));
process.on('SIGTERM', () => exit(0));
setTimeout(() => exit(3), MAX_LIFETIME_MS).unref();
if (!process.connected) {
  console.error('viewers: must be started by the benchmark (needs an IPC channel)');
  process.exit(2);
}
