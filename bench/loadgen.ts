/**
 * The load generator: a child process of the benchmark (so that it does not share an event loop
 * with the probes) that connects many LightClients, each from its own loopback address, and has
 * each send `rate` UPDATEs per second.
 *
 * Sending is spread evenly: the clients are split into groups, one group per time slot, so the
 * server sees a steady stream rather than bursts. The schedule is kept against the clock; when
 * the generator falls more than one period behind, the missed sends are counted and skipped,
 * so "achieved rate vs target" shows whether the generator itself kept up.
 *
 * Driven over IPC by run.ts (see ipc.ts). It exits when told to, or when the parent goes away.
 */
import { benchMap, loadAddress } from './addresses.js';
import type { FromLoadGen, LoadReport, LoadStartMessage, ToLoadGen } from './ipc.js';
import { LightClient, type LightClientEvents } from './light-client.js';
import { RaceRunners } from './race-runner.js';
import { CpuMeter, LagMonitor, Samples } from './stats.js';

/** Send slots per update period: each client sends in one slot of every period. */
const SLOTS_PER_PERIOD = 10;
/** Longest this process may live whatever happens (a backstop; run.ts stops it far sooner). */
const MAX_LIFETIME_MS = 60 * 60 * 1000;
const MAX_FAILURE_TEXTS = 10;

function send(message: FromLoadGen): void {
  if (process.connected) process.send?.(message);
}

class LoadGenerator {
  private readonly clients: LightClient[] = [];
  private readonly groups: LightClient[][] = Array.from({ length: SLOTS_PER_PERIOD }, () => []);
  private readonly lag = new LagMonitor(10);
  private readonly cpu = new CpuMeter();
  private readonly lateness = new Samples(2_000_000);
  private readonly startedAt = performance.now();
  private readonly slotMs: number;
  private timer: NodeJS.Timeout | undefined;
  private nextSlot = 0;
  private sending = true;
  private windowStart = performance.now();
  private updatesSent = 0;
  private updatesMissed = 0;
  private sendErrors = 0;
  private heartbeats = 0;
  private droppedInWindow = 0;
  private droppedTotal = 0;
  private udpBytesRead = 0;
  private readonly dropReasons = new Map<string, number>();
  private readonly events: LightClientEvents;
  private nextIndex = 0;
  private churnTimer: NodeJS.Timeout | undefined;
  private churnClosed = 0;
  private churnConnected = 0;
  private churnFailed = 0;
  /** `--race`: the clients as race entrants. */
  readonly race: RaceRunners | undefined;

  constructor(private readonly config: LoadStartMessage) {
    this.slotMs = 1000 / config.rate / SLOTS_PER_PERIOD;
    const race = config.race === undefined ? undefined : new RaceRunners(config.race.mapChangeSeconds * 1000);
    this.race = race;
    this.events = {
      ...(race !== undefined
        ? { onCountdown: (client: LightClient, seconds: number) => race.onCountdown(client, seconds) }
        : {}),
      onHeartbeat: () => this.heartbeats++,
      onUdpError: () => this.sendErrors++,
      onUdpBytes: (bytes) => (this.udpBytesRead += bytes),
      onClose: (client, expected, reason) => {
        if (expected) return;
        this.droppedInWindow++;
        this.droppedTotal++;
        this.dropReasons.set(reason, (this.dropReasons.get(reason) ?? 0) + 1);
        this.removeFromGroup(client);
        race?.forget(client);
      },
    };
  }

  private removeFromGroup(client: LightClient): void {
    const group = this.groups[client.options.index % SLOTS_PER_PERIOD];
    const at = group?.indexOf(client) ?? -1;
    if (group !== undefined && at >= 0) group.splice(at, 1);
  }

  private connectOne(index: number): Promise<LightClient> {
    return LightClient.connect(
      {
        host: this.config.host,
        port: this.config.port,
        localAddress: loadAddress(index),
        name: `load-${index}`,
        index,
        readUdp: this.config.readUdp,
        connectTimeoutMs: this.config.connectTimeoutMs,
        map: benchMap(index, this.config.maps),
      },
      this.events,
    );
  }

  /**
   * Every second closes `perSecond` random connected clients (expected closes, not drops) and
   * connects as many new ones from fresh addresses. A round does not start while the previous
   * one's connects are still pending.
   */
  churn(perSecond: number): void {
    clearInterval(this.churnTimer);
    this.churnTimer = undefined;
    if (perSecond <= 0) return;
    let busy = false;
    this.churnTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      const live = this.clients.filter((client) => !client.closed && !client.closing);
      for (let n = 0; n < perSecond && live.length > 0; n++) {
        const [client] = live.splice(Math.floor(Math.random() * live.length), 1);
        if (client === undefined) break;
        this.removeFromGroup(client);
        client.close();
        this.churnClosed++;
      }
      const joins = Array.from({ length: perSecond }, async () => {
        const index = this.nextIndex++;
        try {
          const client = await this.connectOne(index);
          this.clients.push(client);
          if (!client.closed) this.groups[index % SLOTS_PER_PERIOD]!.push(client);
          this.churnConnected++;
        } catch {
          this.churnFailed++;
        }
      });
      void Promise.all(joins).then(() => {
        // Forget closed clients so the list does not grow for the whole soak.
        for (let i = this.clients.length - 1; i >= 0; i--) if (this.clients[i]!.closed) this.clients.splice(i, 1);
        busy = false;
      });
    }, 1000);
  }

  async run(): Promise<void> {
    this.lag.start();
    this.schedule();
    const { count, connectConcurrency } = this.config;
    const rampStart = performance.now();
    let connected = 0;
    let failed = 0;
    const failures: string[] = [];
    let lastProgress = 0;
    const worker = async () => {
      while (this.nextIndex < count) {
        const index = this.nextIndex++;
        try {
          const client = await this.connectOne(index);
          this.clients.push(client);
          if (!client.closed) this.groups[index % SLOTS_PER_PERIOD]!.push(client);
          connected++;
        } catch (error) {
          failed++;
          if (failures.length < MAX_FAILURE_TEXTS) failures.push(`${loadAddress(index)}: ${(error as Error).message}`);
        }
        const now = performance.now();
        if (now - lastProgress > 1000) {
          lastProgress = now;
          send({ type: 'progress', connected, failed });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, connectConcurrency) }, () => worker()));
    const udpReadMode = this.config.readUdp || this.clients.some((client) => !client.unread) ? 'read' : 'unread';
    send({ type: 'ready', connected, failed, failures, rampMs: performance.now() - rampStart, udpReadMode });
  }

  /** Runs every slot that is due, then sleeps until the next one. */
  private schedule(): void {
    const due = this.startedAt + this.nextSlot * this.slotMs;
    this.timer = setTimeout(() => this.runSlots(), Math.max(0, due - performance.now()));
  }

  private runSlots(): void {
    const now = performance.now();
    const currentSlot = Math.floor((now - this.startedAt) / this.slotMs);
    if (currentSlot - this.nextSlot >= SLOTS_PER_PERIOD) {
      // More than a whole period behind: skip ahead, counting what was not sent.
      const skipped = currentSlot - this.nextSlot - SLOTS_PER_PERIOD + 1;
      if (this.sending) {
        for (let slot = this.nextSlot; slot < this.nextSlot + skipped; slot++) {
          this.updatesMissed += this.groups[slot % SLOTS_PER_PERIOD]!.length;
        }
      }
      this.nextSlot += skipped;
    }
    const t = (now - this.startedAt) / 1000;
    for (; this.nextSlot <= currentSlot; this.nextSlot++) {
      if (!this.sending) continue;
      const group = this.groups[this.nextSlot % SLOTS_PER_PERIOD]!;
      if (group.length === 0) continue;
      this.lateness.add(now - (this.startedAt + this.nextSlot * this.slotMs));
      for (const client of group) client.sendUpdate(t);
      this.updatesSent += group.length;
    }
    this.schedule();
  }

  mark(): void {
    this.windowStart = performance.now();
    this.updatesSent = 0;
    this.updatesMissed = 0;
    this.sendErrors = 0;
    this.heartbeats = 0;
    this.droppedInWindow = 0;
    this.udpBytesRead = 0;
    this.lateness.reset();
    this.lag.samples.reset();
    this.cpu.reset();
    this.race?.mark();
  }

  /** `--race`: every connected client says /ready. */
  readyUp(): void {
    this.race?.ready(this.clients);
  }

  /** `--race`, `--viewers`: every connected client walks the route without a race (`loop`: round and round), or stops. */
  walk(action: 'start' | 'stop', loop = false): void {
    if (action === 'start') this.race?.walk(this.clients, loop);
    else this.race?.halt();
  }

  report(): LoadReport {
    const windowMs = performance.now() - this.windowStart;
    const activeClients = this.groups.reduce((total, group) => total + group.length, 0);
    return {
      type: 'report',
      windowMs,
      activeClients,
      updatesSent: this.updatesSent,
      updatesTarget: Math.round((activeClients * this.config.rate * windowMs) / 1000),
      updatesMissed: this.updatesMissed,
      sendErrors: this.sendErrors,
      sendLateness: this.lateness.summary(),
      eventLoopLag: this.lag.samples.summary(),
      cpuPercent: this.cpu.percent(),
      rssKb: Math.round(process.memoryUsage.rss() / 1024),
      heartbeatsAnswered: this.heartbeats,
      droppedInWindow: this.droppedInWindow,
      droppedTotal: this.droppedTotal,
      dropReasons: [...this.dropReasons].map(([reason, n]) => `${n}× ${reason}`),
      udpBytesRead: this.udpBytesRead,
      udpReadMode: this.config.readUdp || this.clients.some((client) => !client.unread) ? 'read' : 'unread',
      churnClosed: this.churnClosed,
      churnConnected: this.churnConnected,
      churnFailed: this.churnFailed,
      ...(this.race !== undefined ? { race: this.race.report() } : {}),
    };
  }

  quiesce(): void {
    this.sending = false;
    this.churn(0);
    this.race?.stop();
  }

  close(): void {
    clearTimeout(this.timer);
    this.churn(0);
    this.race?.stop();
    this.lag.stop();
    for (const client of this.clients) client.close();
  }
}

let generator: LoadGenerator | undefined;

function exit(code: number): void {
  generator?.close();
  // Give the closes a moment to reach the kernel, then leave whatever is still pending.
  setTimeout(() => process.exit(code), 200).unref();
}

process.on('message', (raw) => {
  const message = raw as ToLoadGen;
  switch (message.type) {
    case 'start':
      if (generator !== undefined) return;
      generator = new LoadGenerator(message);
      generator.run().catch((error: unknown) => {
        send({ type: 'fatal', message: (error as Error).message });
        exit(1);
      });
      break;
    case 'mark':
      generator?.mark();
      send({ type: 'marked' });
      break;
    case 'report':
      if (generator !== undefined) send(generator.report());
      break;
    case 'churn':
      generator?.churn(message.perSecond);
      break;
    case 'quiesce':
      generator?.quiesce();
      send({ type: 'quiesced' });
      break;
    case 'race-ready':
      generator?.readyUp();
      if (generator?.race !== undefined) send(generator.race.status());
      break;
    case 'race-status':
      if (generator?.race !== undefined) send(generator.race.status());
      break;
    case 'race-walk':
      generator?.walk(message.action, message.loop ?? false);
      if (generator?.race !== undefined) send(generator.race.status());
      break;
    case 'exit':
      exit(0);
      break;
  }
});
process.on('disconnect', () => exit(0));
process.on('SIGTERM', () => exit(0));
setTimeout(() => exit(3), MAX_LIFETIME_MS).unref();
if (!process.connected) {
  console.error('loadgen: must be started by the benchmark (needs an IPC channel)');
  process.exit(2);
}
