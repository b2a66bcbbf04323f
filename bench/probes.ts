/**
 * Probe clients: a few full SimClients (the same code path as the tests and `npm run client`)
 * that decode everything the server sends. They measure what a player would notice:
 *
 * - the interval between bulk updates (a tick may span several datagrams when the server splits
 *   it; a new tick starts when an id already seen in the current one comes again);
 * - update propagation latency: each probe sends 20 UPDATEs/s whose x coordinate is a sequence
 *   number; when another probe sees that exact value in a bulk update, the time since it was
 *   sent is one sample (same process, same clock);
 * - tick fan-out: the server sends each tick to its clients one after another in join order.
 *   Some probes join before the load clients ("front") and some after ("back"); how much later
 *   a back probe gets the same tick than the first front probe is how long the server took to
 *   send that tick to everybody;
 * - disconnect broadcasts (clients the server removed) and the probes' own connections closing.
 */
import { PROBE_MAP, probeAddress } from './addresses.js';
import { Samples, summarize, type Summary } from './stats.js';
import { SimClient } from '../src/sim/client.js';
import type { BulkEntry, ServerPacket } from '../src/ghost/protocol/packets.js';

const PROBE_RECEIVE_BUFFER = 4 * 1024 * 1024;
const SENT_HISTORY_MS = 5000;
const TICK_LOG_LIMIT = 20_000;

type Position = 'front' | 'back';

interface ProbeState {
  index: number;
  position: Position;
  client: SimClient;
  seq: number;
  /** seq → performance.now() when sent, for the last few seconds. */
  sent: Map<number, number>;
  /** Per sender id: the last seq this probe has counted, so each value is counted once. */
  lastSeen: Map<number, number>;
  tickStart: number;
  tickIds: Set<number>;
  lastTickSize: number;
  intervals: Samples;
  /** Arrival time of each tick's first datagram, by a key made from its content. */
  tickLog: Map<string, number>;
}

export interface ProbeOptions {
  host: string;
  port: number;
  rate: number;
}

export class ProbeSet {
  private readonly probes: ProbeState[] = [];
  private readonly byId = new Map<number, ProbeState>();
  private readonly sendTimers = new Map<ProbeState, NodeJS.Timeout>();
  readonly latencies = new Samples();
  /** Clients the server announced as gone (DISCONNECT broadcasts, counted once per id). */
  private readonly departed = new Set<number>();
  private probesClosedTotal = 0;
  private updatesSent = 0;
  private stopped = false;
  private windowStart = 0;
  /** Ghost entries in the complete ticks the probes received since the last mark, and those ticks. */
  private windowTickEntries = 0;
  private windowTicks = 0;
  /** Intervals above this are kept with their time, to look for a pattern (see `slowTicks`). */
  private readonly slowTicks: Array<{ atMs: number; intervalMs: number; probe: number }> = [];

  constructor(
    private readonly options: ProbeOptions,
    private readonly slowTickMs: number,
  ) {}

  /** Connects `count` more probes, one after another (so their join order is known). */
  async connect(count: number, position: Position): Promise<void> {
    for (let n = 0; n < count; n++) {
      const index = this.probes.length;
      const client = await SimClient.connect({
        host: this.options.host,
        port: this.options.port,
        name: `probe-${index}`,
        localAddress: probeAddress(index),
        keepHistory: false,
        map: PROBE_MAP,
        connectTimeoutMs: 15_000,
      });
      try {
        client.udp?.setRecvBufferSize(PROBE_RECEIVE_BUFFER);
      } catch {
        // Keep the default; the probe's own drops are reported from /proc/net/udp anyway.
      }
      this.add(index, position, client);
    }
  }

  private add(index: number, position: Position, client: SimClient): void {
    const state: ProbeState = {
      index,
      position,
      client,
      seq: 0,
      sent: new Map(),
      lastSeen: new Map(),
      tickStart: 0,
      tickIds: new Set(),
      lastTickSize: 0,
      intervals: new Samples(),
      tickLog: new Map(),
    };
    this.probes.push(state);
    this.byId.set(client.id, state);
    client.on('packet', ({ packet, at }) => this.onPacket(state, packet, at));
    client.on('close', () => {
      if (!this.stopped) this.probesClosedTotal++;
    });
    this.startSending(state);
  }

  private onPacket(state: ProbeState, packet: ServerPacket, at: number): void {
    if (packet.type === 'disconnect') {
      this.departed.add(packet.id);
      return;
    }
    if (packet.type !== 'bulk_update') return;
    const entries = packet.entries;
    const first = entries[0];
    if (first === undefined) return;
    if (state.tickIds.size > 0 && state.tickIds.has(first.id)) {
      const interval = at - state.tickStart;
      state.intervals.add(interval);
      if (interval > this.slowTickMs && this.slowTicks.length < 1000) {
        this.slowTicks.push({ atMs: at - this.windowStart, intervalMs: interval, probe: state.index });
      }
      state.lastTickSize = state.tickIds.size;
      this.windowTickEntries += state.tickIds.size;
      this.windowTicks++;
      state.tickIds.clear();
    }
    if (state.tickIds.size === 0) {
      state.tickStart = at;
      if (state.tickLog.size < TICK_LOG_LIMIT) state.tickLog.set(tickKey(entries), at);
    }
    for (const entry of entries) {
      state.tickIds.add(entry.id);
      const sender = this.byId.get(entry.id);
      if (sender === undefined || sender === state) continue;
      const seq = entry.ghost.readFloatLE(0);
      if (!(seq > (state.lastSeen.get(entry.id) ?? 0))) continue;
      state.lastSeen.set(entry.id, seq);
      const sentAt = sender.sent.get(seq);
      if (sentAt !== undefined) this.latencies.add(at - sentAt);
    }
  }

  /**
   * Each probe sends on its own timer with a random interval of 0.5–1.5 periods (`rate` per
   * second on average), so send times are spread evenly over the server's tick instead of locked
   * to one phase of it, and the latency samples cover the whole wait-for-the-next-tick range.
   */
  private startSending(state: ProbeState): void {
    const periodMs = 1000 / this.options.rate;
    const sendOne = () => {
      if (this.stopped || state.client.closed) return;
      const now = performance.now();
      state.seq++;
      // x carries the sequence number (exact in a float up to 2^24), y the probe, z bobs.
      const position = { x: state.seq, y: state.index * 1000, z: 64 + (state.seq % 32) };
      state.sent.set(state.seq, now);
      state.client.sendUpdate({ position, angles: { x: 0, y: state.seq % 360, z: 0 }, viewOffset: 64, grounded: true });
      this.updatesSent++;
      for (const [seq, sentAt] of state.sent) {
        if (now - sentAt < SENT_HISTORY_MS) break;
        state.sent.delete(seq);
      }
      schedule();
    };
    const schedule = () => this.sendTimers.set(state, setTimeout(sendOne, periodMs * (0.5 + Math.random())));
    schedule();
  }

  /** Starts a measurement window: clears samples and counters. */
  mark(): void {
    this.windowStart = performance.now();
    this.windowTickEntries = 0;
    this.windowTicks = 0;
    for (const state of this.probes) {
      state.intervals.reset();
      state.tickLog.clear();
    }
    this.latencies.reset();
    this.updatesSent = 0;
    this.slowTicks.length = 0;
  }

  get count(): number {
    return this.probes.length;
  }

  get connected(): number {
    return this.probes.filter((state) => !state.client.closed).length;
  }

  /** Clients in the last complete tick, as the first live probe saw it (the server's client count). */
  /** The mean number of ghosts in a tick the probes received, since the last mark. */
  get entriesPerTick(): number | undefined {
    return this.windowTicks === 0 ? undefined : this.windowTickEntries / this.windowTicks;
  }

  get lastTickSize(): number {
    return this.probes.find((state) => !state.client.closed)?.lastTickSize ?? 0;
  }

  /** When the most recent tick reached any probe (performance.now(); 0 before the first). */
  get lastTickAt(): number {
    let latest = 0;
    for (const state of this.probes) if (!state.client.closed) latest = Math.max(latest, state.tickStart);
    return latest;
  }

  /** Tick intervals of every probe together, or only of the front or back ones. */
  intervals(position?: Position): Summary | undefined {
    const values: number[] = [];
    for (const state of this.probes)
      if (position === undefined || state.position === position) values.push(...state.intervals.values());
    return summarize(values);
  }

  /** How much later each back probe received a tick than the first front probe did. */
  fanOut(): Summary | undefined {
    const reference = this.probes.find((state) => state.position === 'front');
    if (reference === undefined) return undefined;
    const delays: number[] = [];
    for (const state of this.probes) {
      if (state.position !== 'back') continue;
      for (const [key, at] of state.tickLog) {
        const referenceAt = reference.tickLog.get(key);
        if (referenceAt !== undefined) delays.push(at - referenceAt);
      }
    }
    return summarize(delays);
  }

  get slowTickLog(): ReadonlyArray<{ atMs: number; intervalMs: number; probe: number }> {
    return this.slowTicks;
  }

  /** Probes whose connection closed before the step ended. */
  get probesClosed(): number {
    return this.probesClosedTotal;
  }

  /** Distinct clients the server announced as gone since the probes connected. */
  get departedTotal(): number {
    return this.departed.size;
  }

  get windowUpdatesSent(): number {
    return this.updatesSent;
  }

  /** Local UDP addresses of the probes (to read their kernel drop counters). */
  get udpEndpoints(): Array<{ address: string; port: number }> {
    const endpoints: Array<{ address: string; port: number }> = [];
    for (const state of this.probes) {
      try {
        const address = state.client.udp?.address();
        if (address) endpoints.push({ address: address.address, port: address.port });
      } catch {
        // Closed.
      }
    }
    return endpoints;
  }

  /** Stops sending and counting closes (the server is about to be stopped). */
  quiesce(): void {
    this.stopped = true;
    for (const timer of this.sendTimers.values()) clearTimeout(timer);
  }

  close(): void {
    this.quiesce();
    for (const state of this.probes) state.client.close();
  }
}

/**
 * Identifies a tick by its content: the first few entries' ids and positions. Load clients move
 * on every update, so two ticks practically never share a key, and every receiver of one tick
 * gets the same bytes (the server builds a tick's packets once).
 */
function tickKey(entries: readonly BulkEntry[]): string {
  let key = '';
  for (let i = 0; i < Math.min(8, entries.length); i++) {
    const entry = entries[i]!;
    key += `${entry.id}:${entry.ghost.readFloatLE(0)},${entry.ghost.readFloatLE(4)};`;
  }
  return key;
}
