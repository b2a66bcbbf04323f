#!/usr/bin/env node
/**
 * `npm run bench -- [--clients 100,500,1000] [--seconds 10] ...`: load test of the ghost server.
 *
 * For each step (a number of clients N) it starts a fresh server (`node dist/index.js`, temporary
 * config, warn-level console logging, 127.0.0.1, a free port), connects a few probe clients here,
 * and N − probes lightweight clients in a separate load-generator process, each from its own
 * loopback address, each sending UPDATEs by UDP and answering TCP heartbeats. After a warm-up it
 * measures for `--seconds`, then stops the server and the generator (by PID, always) and prints
 * one table row. See BENCHMARKS.md for the results and how to read them.
 */
import Database from 'better-sqlite3';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, setPriority, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PINGER_ADDRESS, SERVER_HOST } from './addresses.js';
import {
  ATTACKS,
  MODEL_CHANGE_OVERHEAD,
  type AttackKind,
  type AttackReport,
  type AttackStart,
  type FloodReport,
  type LoadReport,
  type ViewersReport,
} from './ipc.js';
import {
  startLoadGenerator,
  startPinger,
  startViewers,
  type LoadGenChild,
  type PingerChild,
  type ViewersChild,
} from './child.js';
import { ProbeSet } from './probes.js';
import {
  readCpuSeconds,
  readFdCount,
  readMemory,
  readUdpSockets,
  readUdpSocketsAsync,
  type UdpSocketInfo,
} from './proc.js';
import { serverBuilt, serverEntry, ServerProcess } from './server-process.js';
import { LagMonitor, Samples, sleep, withTimeout, type Summary } from './stats.js';

/** A MODEL_CHANGE frame of exactly the default `[limits] max_frame_bytes` (16 KiB). */
const DEFAULT_MODEL_BYTES = 16 * 1024 - MODEL_CHANGE_OVERHEAD;
/** The acceptance line of issue 11: honest players' tick p99 under attack within this of the baseline. */
const RESILIENCE_MARGIN_MS = 10;
/** `--viewers` without a number. */
const DEFAULT_VIEWERS = 500;

const USAGE = `Usage: npm run bench -- [options]

  --clients <list>          client counts, one step each (default: 100,500,1000,1500,2000)
  --seconds <s>             measurement window per step (default: 10)
  --warmup <s>              time after the last client joined, before measuring (default: 3)
  --probes <n>              full SimClient probes per step, included in the count (default: 4);
                            half join before the load clients and half after
  --rate <n>                UPDATEs per second per client (default: 20)
  --tick-ms <ms>            the server's [timing] tick_interval_ms (default: 50)
  --max-datagram-bytes <n>  the server's [limits] max_datagram_bytes (default: the server's own)
  --server-config <k=v>     any other server setting, e.g. timing.heartbeat_interval_ms=60000
                            (repeatable; values are TOML: numbers, true/false, "strings")
  --target-p99-ms <ms>      tick interval p99 that counts as holding (default: 60)
  --connect-concurrency <n> connections the generator opens at once (default: 32)
  --read-udp                lightweight clients read (and discard) their bulk updates
  --maps <k>                spread the clients over k maps (load client i on map i mod k, the
                            probes on map 0); with server.interest_management=true each client
                            then gets about N/k ghosts per tick (default: 1)
  --pin                     pin the server to CPU 0 and everything else (generator, probes, pinger,
                            viewers) to CPU 1 (taskset)
  --stop-after-fail         skip the remaining steps after the first one that does not hold
  --json <file>             also write the results as JSON
  --soak <minutes>          instead of the steps: hold N clients (default 300, or the first
                            --clients value) for this long with churn, and report the server's
                            RSS and open descriptors at the start and the end
  --churn <n>               soak: clients that leave and new ones that join every second (default: 5)
  --resilience              instead of the steps: at N clients (default 500, or the first --clients
                            value) measure the tick for --attack-seconds, then again while a
                            separate process attacks the server (connection flood, garbage and
                            oversized frames, a client that stops reading, chat and locator
                            floods, a SPEEDRUN_FINISH flood and a MODEL_CHANGE flood), and
                            compare the honest players' tick and propagation in the two
  --attack-seconds <s>      resilience: length of the baseline and of the attack (default: 10)
  --attacks <list>          resilience: the attacks to run, comma-separated (default: all at once):
                            ${ATTACKS.join(',')}
  --connects-per-second <n> resilience: flood connections per second (default: 200)
  --flood-per-second <n>    resilience: chat messages and locators per second (default: 200)
  --finish-per-second <n>   resilience: SPEEDRUN_FINISH packets per second from one client
                            (default: 1000; 0 = flat out, as fast as the server reads them)
  --model-per-second <n>    resilience: MODEL_CHANGE packets per second from one client
                            (default: 1000; 0 = flat out)
  --model-bytes <n>         resilience: model name length in each MODEL_CHANGE (default: ${DEFAULT_MODEL_BYTES},
                            a ${DEFAULT_MODEL_BYTES + MODEL_CHANGE_OVERHEAD}-byte packet: the largest the default max_frame_bytes takes)
  --race                    instead of the plain steps: for each --clients step (default: 500) measure
                            --seconds three times on one server: without a race; with every load
                            client walking the single-player route (a MAP_CHANGE carrying SAR's
                            split ticks every --map-change-seconds) but no race open; and as the
                            entrants of a race opened and started at the server's console (each says
                            /ready and confirms the countdown like SAR) walking the route again;
                            compare the tick and latency
  --map-change-seconds <s>  race, viewers: seconds between one client's map changes (default: 5)
  --race-countdown <s>      race: the race's countdown (default: 3)
  --viewers [n]             instead of the plain steps: what the public /live event stream costs
                            the ghost tick. At --clients (default: 500) playing and walking the
                            single-player route (a map change every --map-change-seconds each),
                            with the bench saying "bench <time>" at the server's console 4 times
                            a second, measure --seconds with no viewer, then with n viewers
                            (default: 500) reading /live from a separate process; compare the tick
                            and latency, and report the viewers' events, bytes and delivery delay
  --slow-viewers <k>        viewers: then add k viewers that never read, measure --seconds again,
                            and wait (at most --slow-viewer-seconds) until the server has dropped
                            them, watching its memory (default: 0)
  --slow-viewer-seconds <s> viewers: longest wait for the slow viewers to be dropped (default: 600)
  --viewer-parse <what>     viewers: "all" (default) JSON-parses every event as a page would;
                            "messages" only the snapshot and the bench's messages (a control: how
                            much of a change is the viewer process's own CPU on the same cores)
  --says-per-second <n>     viewers: "say bench <time>" at the console per second, in every window
                            (default: 4; 0 = none, and no delivery delay measured)
  -h, --help                show this help

Every mode also measures the COUNTDOWN confirm → countdown_go round trip (about 200 samples per
window, from a separate pinger process that joins as one of the N clients and reads nothing
else) and the server's memory per client: (RSS with N clients − RSS of the idle server just
after it started) / N.`;

interface Options {
  clients: number[];
  seconds: number;
  warmup: number;
  probes: number;
  rate: number;
  tickMs: number;
  maxDatagramBytes: number | undefined;
  serverConfig: string[];
  targetP99Ms: number;
  connectConcurrency: number;
  readUdp: boolean;
  maps: number;
  pin: boolean;
  stopAfterFail: boolean;
  json: string | undefined;
  /** Whether --clients was given (soak and resilience have their own default N). */
  clientsGiven: boolean;
  soakMinutes: number | undefined;
  churn: number;
  resilience: boolean;
  attackSeconds: number;
  connectsPerSecond: number;
  floodPerSecond: number;
  attacks: AttackKind[];
  finishPerSecond: number;
  modelPerSecond: number;
  modelBytes: number;
  race: boolean;
  mapChangeSeconds: number;
  raceCountdown: number;
  /** `--viewers`: how many read /live (undefined: not this mode). */
  viewers: number | undefined;
  slowViewers: number;
  slowViewerSeconds: number;
  saysPerSecond: number;
  viewerParse: 'all' | 'messages';
}

interface StepResult {
  clients: number;
  error?: string;
  connected: number;
  serverSawClients: number;
  /** Mean ghosts per tick at the probes: N, or about N / maps with interest management. */
  entriesPerTick: number | undefined;
  connectFailures: number;
  connectFailureSamples: string[];
  rampSeconds: number;
  /** Server CPU while the clients were joining (each join costs O(clients already there)). */
  rampServerCpuPercent?: number;
  /** Tick intervals the front probes saw while the others were joining. */
  rampTickInterval?: Summary;
  windowSeconds: number;
  tickInterval?: Summary;
  tickIntervalFront?: Summary;
  tickIntervalBack?: Summary;
  fanOut?: Summary;
  slowTicks: ReadonlyArray<{ atMs: number; intervalMs: number; probe: number }>;
  latency?: Summary;
  updatesSent: number;
  updatesDroppedAtServer: number;
  updateSendErrors: number;
  serverCpuPercent?: number;
  serverRssMb?: number;
  serverPeakRssMb?: number;
  serverRxQueueMaxKb: number;
  dropped: number;
  dropReasons: string[];
  serverDisconnectBroadcasts: number;
  serverLog: Record<string, number>;
  generator?: Omit<LoadReport, 'type'>;
  probeLag?: Summary;
  probeUdpDrops: number;
  /** RSS of the server right after it started, before any client connected. */
  idleRssKb?: number;
  countdownRtt?: Summary;
  countdownLost: number;
  /** The countdown pinger's own event-loop lag: an upper bound on how much of the round trip is its own. */
  pingerLag?: Summary;
  held: boolean;
}

class UsageError extends Error {}

/** COUNTDOWN confirm round trips measured per window. */
const COUNTDOWN_SAMPLES = 200;

function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min)
    throw new UsageError(`--${name}: expected a whole number ≥ ${min}, got "${text}"`);
  return value;
}

function positiveNumber(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < min)
    throw new UsageError(`--${name}: expected a number ≥ ${min}, got "${text}"`);
  return value;
}

function readAttacks(text: string | undefined): AttackKind[] {
  if (text === undefined) return [...ATTACKS];
  const chosen = text.split(',').map((part) => part.trim());
  for (const name of chosen)
    if (!(ATTACKS as readonly string[]).includes(name))
      throw new UsageError(`--attacks: unknown attack "${name}" (choose from ${ATTACKS.join(', ')})`);
  return [...new Set(chosen)] as AttackKind[];
}

function readViewerParse(text: string | undefined): 'all' | 'messages' {
  if (text === undefined || text === 'all' || text === 'messages') return text ?? 'all';
  throw new UsageError(`--viewer-parse: expected "all" or "messages", got "${text}"`);
}

/** `--viewers` with no number after it means the default number of viewers. */
function withViewerDefault(args: string[]): string[] {
  return args.map((arg, index) =>
    arg === '--viewers' && (index + 1 >= args.length || args[index + 1]!.startsWith('-'))
      ? `--viewers=${DEFAULT_VIEWERS}`
      : arg,
  );
}

function readOptions(args: string[]): Options | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: withViewerDefault(args),
      strict: true,
      allowPositionals: false,
      options: {
        clients: { type: 'string' },
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        probes: { type: 'string' },
        rate: { type: 'string' },
        'tick-ms': { type: 'string' },
        'max-datagram-bytes': { type: 'string' },
        'server-config': { type: 'string', multiple: true },
        'target-p99-ms': { type: 'string' },
        'connect-concurrency': { type: 'string' },
        'read-udp': { type: 'boolean' },
        maps: { type: 'string' },
        pin: { type: 'boolean' },
        'stop-after-fail': { type: 'boolean' },
        json: { type: 'string' },
        soak: { type: 'string' },
        churn: { type: 'string' },
        resilience: { type: 'boolean' },
        'attack-seconds': { type: 'string' },
        'connects-per-second': { type: 'string' },
        'flood-per-second': { type: 'string' },
        attacks: { type: 'string' },
        'finish-per-second': { type: 'string' },
        'model-per-second': { type: 'string' },
        'model-bytes': { type: 'string' },
        race: { type: 'boolean' },
        'map-change-seconds': { type: 'string' },
        'race-countdown': { type: 'string' },
        viewers: { type: 'string' },
        'slow-viewers': { type: 'string' },
        'slow-viewer-seconds': { type: 'string' },
        'says-per-second': { type: 'string' },
        'viewer-parse': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  const clients = (values.clients ?? '100,500,1000,1500,2000')
    .split(',')
    .map((part) => positiveInt('clients', part.trim(), 0));
  const probes = positiveInt('probes', values.probes, 4, 2);
  if (probes > 100) throw new UsageError('--probes: at most 100');
  for (const n of clients)
    if (n < probes + 1)
      throw new UsageError(
        `--clients: each step needs at least ${probes + 1} clients (the probes and the countdown pinger)`,
      );
  return {
    clients,
    seconds: positiveInt('seconds', values.seconds, 10),
    warmup: positiveInt('warmup', values.warmup, 3, 0),
    probes,
    rate: positiveInt('rate', values.rate, 20),
    tickMs: positiveInt('tick-ms', values['tick-ms'], 50),
    maxDatagramBytes:
      values['max-datagram-bytes'] === undefined
        ? undefined
        : positiveInt('max-datagram-bytes', values['max-datagram-bytes'], 0, 38),
    serverConfig: (values['server-config'] ?? []).map((setting) => {
      if (!/^[a-z_]+\.[a-z_]+=.+$/.test(setting))
        throw new UsageError(`--server-config: expected section.key=value, got "${setting}"`);
      return setting;
    }),
    targetP99Ms: positiveInt('target-p99-ms', values['target-p99-ms'], 60),
    connectConcurrency: positiveInt('connect-concurrency', values['connect-concurrency'], 32),
    readUdp: values['read-udp'] ?? false,
    maps: positiveInt('maps', values.maps, 1),
    pin: values.pin ?? false,
    stopAfterFail: values['stop-after-fail'] ?? false,
    json: values.json,
    clientsGiven: values.clients !== undefined,
    soakMinutes: values.soak === undefined ? undefined : positiveInt('soak', values.soak, 1),
    churn: positiveInt('churn', values.churn, 5, 0),
    resilience: values.resilience ?? false,
    attackSeconds: positiveInt('attack-seconds', values['attack-seconds'], 10),
    connectsPerSecond: positiveInt('connects-per-second', values['connects-per-second'], 200),
    floodPerSecond: positiveInt('flood-per-second', values['flood-per-second'], 200),
    attacks: readAttacks(values.attacks),
    finishPerSecond: positiveInt('finish-per-second', values['finish-per-second'], 1000, 0),
    modelPerSecond: positiveInt('model-per-second', values['model-per-second'], 1000, 0),
    modelBytes: positiveInt('model-bytes', values['model-bytes'], DEFAULT_MODEL_BYTES),
    race: values.race ?? false,
    mapChangeSeconds: positiveNumber('map-change-seconds', values['map-change-seconds'], 5, 0.2),
    raceCountdown: positiveInt('race-countdown', values['race-countdown'], 3, 1),
    viewers: values.viewers === undefined ? undefined : positiveInt('viewers', values.viewers, DEFAULT_VIEWERS),
    slowViewers: positiveInt('slow-viewers', values['slow-viewers'], 0, 0),
    slowViewerSeconds: positiveInt('slow-viewer-seconds', values['slow-viewer-seconds'], 600),
    saysPerSecond: positiveNumber('says-per-second', values['says-per-second'], 4, 0),
    viewerParse: readViewerParse(values['viewer-parse']),
  };
}

// -------------------------------------------------------------------------------------------------
// Children: whatever is running is stopped on every way out.

const liveServers = new Set<ServerProcess>();
const liveGenerators = new Set<LoadGenChild>();
const livePingers = new Set<PingerChild>();
const liveProbes = new Set<ProbeSet>();
const liveAttackers = new Set<ChildProcess>();
const liveViewerProcesses = new Set<ViewersChild>();

function killEverythingNow(): void {
  for (const probes of liveProbes) probes.close();
  for (const viewers of liveViewerProcesses) viewers.killNow();
  for (const generator of liveGenerators) generator.killNow();
  for (const pinger of livePingers) pinger.killNow();
  for (const server of liveServers) server.killNow();
  for (const attacker of liveAttackers) {
    if (attacker.pid === undefined || attacker.exitCode !== null || attacker.signalCode !== null) continue;
    try {
      process.kill(attacker.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

function pin(pid: number, cpu: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore', timeout: 2000 });
  } catch (error) {
    log(`could not pin pid ${pid} to CPU ${cpu}: ${(error as Error).message}`);
  }
}

function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!match) return undefined;
    return match[1] === 'unlimited' ? Infinity : Number(match[1]);
  } catch {
    return undefined;
  }
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) return match[1].trim();
  } catch {
    // Fall back to what Node knows.
  }
  return cpus()[0]?.model ?? 'unknown';
}

// -------------------------------------------------------------------------------------------------
// One step

/** Asks the load generator to connect `count` light clients, and waits until they have. */
function startLoad(generator: LoadGenChild, options: Options, port: number, count: number, timeoutMs: number) {
  return generator.request(
    {
      type: 'start',
      host: SERVER_HOST,
      port,
      count,
      rate: options.rate,
      connectConcurrency: options.connectConcurrency,
      connectTimeoutMs: 15_000,
      readUdp: options.readUdp,
      maps: options.maps,
      ...(options.race || options.viewers !== undefined
        ? { race: { mapChangeSeconds: options.mapChangeSeconds } }
        : {}),
    },
    'ready',
    timeoutMs,
  );
}

const PINGER_PRIORITY = -10;
let pingerPriorityWarned = false;

/** Starts the countdown pinger (pinger.ts), which joins as one more client, after all the others. */
async function startCountdownPinger(port: number, intervalMs: number): Promise<PingerChild> {
  const pinger = startPinger();
  livePingers.add(pinger);
  // The pinger is the measuring instrument. On a 2-core machine it otherwise waits for a core
  // behind the generator, the probes and the server's threads, and that wait (its event-loop
  // lag) would be counted as the server's answer time.
  try {
    setPriority(pinger.pid, PINGER_PRIORITY);
  } catch (error) {
    if (!pingerPriorityWarned) log(`countdown pinger keeps normal priority: ${(error as Error).message}`);
    pingerPriorityWarned = true;
  }
  await pinger.request(
    { type: 'start', host: SERVER_HOST, port, localAddress: PINGER_ADDRESS, intervalMs },
    'ready',
    30_000,
  );
  return pinger;
}

async function stopCountdownPinger(pinger: PingerChild | undefined): Promise<void> {
  if (pinger === undefined) return;
  await pinger.stop();
  livePingers.delete(pinger);
}

async function runStep(options: Options, clients: number): Promise<StepResult> {
  const result: StepResult = {
    clients,
    connected: 0,
    serverSawClients: 0,
    entriesPerTick: undefined,
    connectFailures: 0,
    connectFailureSamples: [],
    rampSeconds: 0,
    windowSeconds: 0,
    updatesSent: 0,
    updatesDroppedAtServer: 0,
    updateSendErrors: 0,
    serverRxQueueMaxKb: 0,
    dropped: 0,
    dropReasons: [],
    serverDisconnectBroadcasts: 0,
    slowTicks: [],
    serverLog: {},
    probeUdpDrops: 0,
    countdownLost: 0,
    held: false,
  };
  // The probes and the countdown pinger are part of the count.
  const lightCount = clients - options.probes - 1;
  let server: ServerProcess | undefined;
  let probes: ProbeSet | undefined;
  let generator: LoadGenChild | undefined;
  let pinger: PingerChild | undefined;
  const lag = new LagMonitor(10);
  try {
    server = await ServerProcess.start({
      host: SERVER_HOST,
      tickIntervalMs: options.tickMs,
      startTimeoutMs: 10_000,
      extraSettings: options.serverConfig,
      ...(options.maxDatagramBytes !== undefined ? { maxDatagramBytes: options.maxDatagramBytes } : {}),
    });
    liveServers.add(server);
    // Let it finish starting up before taking the idle figure.
    await sleep(500);
    result.idleRssKb = readMemory(server.pid)?.rssKb;
    if (options.pin) {
      pin(server.pid, 0);
      pin(process.pid, 1);
    }
    log(
      `${clients} clients: server pid ${server.pid} on ${SERVER_HOST}:${server.port}; connecting ${options.probes} probes, ${lightCount} load clients and the countdown pinger`,
    );

    const rampStart = performance.now();
    const rampCpuStart = readCpuSeconds(server.pid);
    const frontProbes = Math.ceil(options.probes / 2);
    probes = new ProbeSet({ host: SERVER_HOST, port: server.port, rate: options.rate }, options.targetP99Ms);
    liveProbes.add(probes);
    await withTimeout(probes.connect(frontProbes, 'front'), 30_000, 'probes did not connect within 30 s');
    probes.mark();

    generator = startLoadGenerator();
    liveGenerators.add(generator);
    if (options.pin) pin(generator.pid, 1);
    const rampTimeoutMs = 30_000 + lightCount * 40;
    const ready = await startLoad(generator, options, server.port, lightCount, rampTimeoutMs);
    result.rampTickInterval = probes.intervals('front');
    await withTimeout(
      probes.connect(options.probes - frontProbes, 'back'),
      30_000,
      'probes did not connect within 30 s',
    );
    pinger = await startCountdownPinger(server.port, (options.seconds * 1000) / COUNTDOWN_SAMPLES);
    result.rampSeconds = (performance.now() - rampStart) / 1000;
    const rampCpuEnd = readCpuSeconds(server.pid);
    if (rampCpuStart !== undefined && rampCpuEnd !== undefined) {
      result.rampServerCpuPercent = ((rampCpuEnd - rampCpuStart) / result.rampSeconds) * 100;
    }
    result.connectFailures = ready.failed;
    result.connectFailureSamples = ready.failures;
    log(
      `${clients} clients: ${ready.connected + probes.connected + 1} connected in ${result.rampSeconds.toFixed(1)} s (${ready.failed} failed; bulk updates to load clients ${ready.udpReadMode})`,
    );

    await sleep(options.warmup * 1000);

    // ---- measurement window
    // Blocking /proc/net/udp snapshots (drop counters) are taken just outside the window, so that
    // their cost does not land on the probes' event loop while they measure.
    const serverEndpoint = { address: SERVER_HOST, port: server.port };
    const probeEndpoints = probes.udpEndpoints;
    const udpBefore = readUdpSockets([serverEndpoint, ...probeEndpoints]);
    await generator.request({ type: 'mark' }, 'marked', 10_000);
    await pinger.request({ type: 'mark' }, 'marked', 10_000);
    probes.mark();
    lag.start();
    const cpuBefore = readCpuSeconds(server.pid);
    const windowStart = performance.now();
    const windowEnd = windowStart + options.seconds * 1000;
    let rxQueueMax = 0;
    let peakRssKb = 0;
    while (performance.now() < windowEnd) {
      await sleep(Math.min(1000, Math.max(0, windowEnd - performance.now())));
      const [udp] = await readUdpSocketsAsync([serverEndpoint]);
      if (udp) rxQueueMax = Math.max(rxQueueMax, udp.rxQueueBytes);
      const memory = readMemory(server.pid);
      if (memory) peakRssKb = Math.max(peakRssKb, memory.rssKb);
      if (!server.running) throw new Error(`the server exited during the measurement: ${server.log.last.join(' | ')}`);
    }
    const cpuAfter = readCpuSeconds(server.pid);
    const windowMs = performance.now() - windowStart;
    const ping = await pinger.request({ type: 'report' }, 'report', 10_000);
    result.countdownRtt = ping.rtt;
    result.countdownLost = ping.lost;
    result.pingerLag = ping.eventLoopLag;
    lag.stop();
    result.tickInterval = probes.intervals();
    result.tickIntervalFront = probes.intervals('front');
    result.tickIntervalBack = probes.intervals('back');
    result.fanOut = probes.fanOut();
    result.slowTicks = [...probes.slowTickLog];
    result.latency = probes.latencies.summary();
    result.probeLag = lag.samples.summary();
    const probeUpdatesSent = probes.windowUpdatesSent;
    const report = await generator.request({ type: 'report' }, 'report', 10_000);
    const udpAfter = readUdpSockets([serverEndpoint, ...probeEndpoints]);

    const { type: _type, ...generatorReport } = report;
    result.generator = generatorReport;
    result.windowSeconds = windowMs / 1000;
    result.connected = report.activeClients + probes.connected + (ping.connected ? 1 : 0);
    result.serverSawClients = probes.lastTickSize;
    result.entriesPerTick = probes.entriesPerTick;
    result.updatesSent = report.updatesSent + probeUpdatesSent;
    result.updateSendErrors = report.sendErrors;
    result.updatesDroppedAtServer = dropsBetween(udpBefore.slice(0, 1), udpAfter.slice(0, 1));
    result.serverRxQueueMaxKb = rxQueueMax / 1024;
    if (cpuBefore !== undefined && cpuAfter !== undefined)
      result.serverCpuPercent = ((cpuAfter - cpuBefore) / (windowMs / 1000)) * 100;
    const memory = readMemory(server.pid);
    result.serverRssMb = memory ? memory.rssKb / 1024 : undefined;
    result.serverPeakRssMb = Math.max(peakRssKb, memory?.peakRssKb ?? 0) / 1024;
    result.probeUdpDrops = dropsBetween(udpBefore.slice(1), udpAfter.slice(1));
    result.dropped = report.droppedTotal + probes.probesClosed + (ping.connected ? 0 : 1);
    result.dropReasons = report.dropReasons;
    result.serverDisconnectBroadcasts = probes.departedTotal;
  } catch (error) {
    result.error = (error as Error).message;
    log(`${clients} clients: ${result.error}`);
  } finally {
    lag.stop();
    // Stop traffic, then the server (by PID), then the generator's and probes' sockets.
    probes?.quiesce();
    if (generator?.running) {
      try {
        await generator.request({ type: 'quiesce' }, 'quiesced', 5000);
      } catch {
        // It is stopped below either way.
      }
    }
    if (server !== undefined) {
      await server.stop();
      liveServers.delete(server);
      result.serverLog = Object.fromEntries(server.log.byMessage);
    }
    probes?.close();
    if (probes) liveProbes.delete(probes);
    if (generator !== undefined) {
      await generator.stop();
      liveGenerators.delete(generator);
    }
    await stopCountdownPinger(pinger);
  }
  result.held =
    result.error === undefined &&
    result.connected === clients &&
    result.connectFailures === 0 &&
    result.dropped === 0 &&
    result.serverDisconnectBroadcasts === 0 &&
    result.tickInterval !== undefined &&
    result.tickInterval.p99 <= options.targetP99Ms;
  return result;
}

/** Datagrams the kernel dropped on these sockets between two readings (NaN if unreadable). */
function dropsBetween(before: Array<UdpSocketInfo | undefined>, after: Array<UdpSocketInfo | undefined>): number {
  let total = 0;
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    const b = after[i];
    if (a === undefined || b === undefined) return NaN;
    total += Math.max(0, b.drops - a.drops);
  }
  return total;
}

// -------------------------------------------------------------------------------------------------
// Output

function fixed(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padStart(widths[column]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((width) => '-'.repeat(width + 1) + ':').join('|')}|`, ...rows.map(line)].join(
    '\n',
  );
}

/** (RSS with N clients − RSS of the idle server) / N, in KB. */
function kbPerClient(rssMb: number | undefined, idleRssKb: number | undefined, clients: number): number | undefined {
  if (rssMb === undefined || idleRssKb === undefined || clients <= 0) return undefined;
  return (rssMb * 1024 - idleRssKb) / clients;
}

/**
 * Memory per additional client between the smallest and the largest step that both ran: each
 * step is a fresh server, so the fixed cost of any load (heap growth, compiled code, send
 * threads) cancels out, which (RSS − idle RSS) / N does not do.
 */
function marginalKbPerClient(results: StepResult[]): string | undefined {
  const measured = results.filter((r) => r.serverRssMb !== undefined && r.connected > 0);
  if (measured.length < 2) return undefined;
  const first = measured[0]!;
  const last = measured.at(-1)!;
  if (last.connected <= first.connected) return undefined;
  const kb = ((last.serverRssMb! - first.serverRssMb!) * 1024) / (last.connected - first.connected);
  return (
    `Server memory per additional client from ${first.connected} to ${last.connected} clients: ` +
    `${fixed(kb, 1)} KB ((${fixed(last.serverRssMb, 0)} − ${fixed(first.serverRssMb, 0)}) MB RSS / ${last.connected - first.connected})`
  );
}

function countdownCell(rtt: Summary | undefined, lost: number): string {
  if (rtt === undefined) return '–';
  return `${fixed(rtt.p50, 2)}/${fixed(rtt.p99, 2)}${lost > 0 ? ` (${lost} lost)` : ''}`;
}

function resultsTable(results: StepResult[]): string {
  const headers = [
    'clients',
    'connected',
    'ramp s',
    'tick p50 ms',
    'tick p99 ms',
    'tick max ms',
    'latency p50 ms',
    'latency p99 ms',
    'entries/tick',
    'updates lost',
    'server CPU %',
    'server RSS MB',
    'KB/client',
    'dropped/failed',
    'held',
  ];
  const rows = results.map((r) => [
    String(r.clients),
    r.error !== undefined && r.connected === 0 ? 'error' : String(r.connected),
    fixed(r.rampSeconds),
    fixed(r.tickInterval?.p50),
    fixed(r.tickInterval?.p99),
    fixed(r.tickInterval?.max),
    fixed(r.latency?.p50),
    fixed(r.latency?.p99),
    fixed(r.entriesPerTick, 0),
    r.updatesSent > 0 ? `${fixed(((r.updatesDroppedAtServer + r.updateSendErrors) / r.updatesSent) * 100, 2)} %` : '–',
    fixed(r.serverCpuPercent, 0),
    fixed(r.serverRssMb, 0),
    fixed(kbPerClient(r.serverRssMb, r.idleRssKb, r.clients), 0),
    String(r.dropped + r.connectFailures),
    r.held ? 'yes' : 'NO',
  ]);
  return table(headers, rows);
}

function healthTable(results: StepResult[]): string {
  const headers = [
    'clients',
    'gen sent/target',
    'gen missed',
    'gen send late p99 ms',
    'gen loop lag p99/max ms',
    'gen CPU %',
    'tick fan-out p50/p99 ms',
    'probe loop lag p99/max ms',
    'probe UDP drops',
    'server UDP rx queue max KB',
    'server CPU % in ramp',
    'tick p99/max in ramp ms',
    'countdown RTT p50/p99 ms',
    'pinger loop lag p99 ms',
  ];
  const rows = results.map((r) => {
    const g = r.generator;
    return [
      String(r.clients),
      g
        ? `${g.updatesSent}/${g.updatesTarget} (${fixed((g.updatesSent / Math.max(1, g.updatesTarget)) * 100, 1)} %)`
        : '–',
      g ? String(g.updatesMissed) : '–',
      fixed(g?.sendLateness?.p99),
      g ? `${fixed(g.eventLoopLag?.p99)}/${fixed(g.eventLoopLag?.max)}` : '–',
      fixed(g?.cpuPercent, 0),
      r.fanOut ? `${fixed(r.fanOut.p50)}/${fixed(r.fanOut.p99)}` : '–',
      r.probeLag ? `${fixed(r.probeLag.p99)}/${fixed(r.probeLag.max)}` : '–',
      String(r.probeUdpDrops),
      fixed(r.serverRxQueueMaxKb, 0),
      fixed(r.rampServerCpuPercent, 0),
      r.rampTickInterval ? `${fixed(r.rampTickInterval.p99)}/${fixed(r.rampTickInterval.max)}` : '–',
      countdownCell(r.countdownRtt, r.countdownLost),
      fixed(r.pingerLag?.p99),
    ];
  });
  return table(headers, rows);
}

// -------------------------------------------------------------------------------------------------
// Soak and resilience: one server, N clients, longer or hostile conditions.

interface Session {
  server: ServerProcess;
  probes: ProbeSet;
  generator: LoadGenChild;
  pinger: PingerChild;
  idleRssKb: number | undefined;
  idleFds: number | undefined;
  connected: number;
  failed: number;
}

/** Starts a server and connects probes + load clients (like a step's ramp); throws on failure. */
async function openSession(
  options: Options,
  clients: number,
  countdownIntervalMs: number,
  parts: Partial<Session>,
  features: { metrics?: boolean; console?: boolean } = {},
): Promise<Session> {
  const server = await ServerProcess.start({
    host: SERVER_HOST,
    tickIntervalMs: options.tickMs,
    startTimeoutMs: 10_000,
    extraSettings: options.serverConfig,
    metrics: features.metrics ?? false,
    console: features.console ?? false,
    ...(options.maxDatagramBytes !== undefined ? { maxDatagramBytes: options.maxDatagramBytes } : {}),
  });
  parts.server = server;
  liveServers.add(server);
  // Let it finish starting up before taking the idle figure.
  await sleep(500);
  const idleRssKb = readMemory(server.pid)?.rssKb;
  const idleFds = readFdCount(server.pid);
  if (options.pin) {
    pin(server.pid, 0);
    pin(process.pid, 1);
  }
  log(`server pid ${server.pid} on ${SERVER_HOST}:${server.port}; idle RSS ${fixed((idleRssKb ?? NaN) / 1024)} MB`);
  const frontProbes = Math.ceil(options.probes / 2);
  const probes = new ProbeSet({ host: SERVER_HOST, port: server.port, rate: options.rate }, options.targetP99Ms);
  parts.probes = probes;
  liveProbes.add(probes);
  await withTimeout(probes.connect(frontProbes, 'front'), 30_000, 'probes did not connect within 30 s');
  const generator = startLoadGenerator();
  parts.generator = generator;
  liveGenerators.add(generator);
  if (options.pin) pin(generator.pid, 1);
  const lightCount = clients - options.probes - 1;
  const ready = await startLoad(generator, options, server.port, lightCount, 30_000 + lightCount * 40);
  await withTimeout(probes.connect(options.probes - frontProbes, 'back'), 30_000, 'probes did not connect within 30 s');
  const pinger = await startCountdownPinger(server.port, countdownIntervalMs);
  parts.pinger = pinger;
  log(`${ready.connected + probes.connected + 1} of ${clients} connected (${ready.failed} failed)`);
  return {
    server,
    probes,
    generator,
    pinger,
    idleRssKb,
    idleFds,
    connected: ready.connected + probes.connected + 1,
    failed: ready.failed,
  };
}

/** Stops everything a session started; `beforeRemove` runs once the server has exited, before its folder goes. */
async function closeSession(parts: Partial<Session>, beforeRemove?: (server: ServerProcess) => void): Promise<void> {
  parts.probes?.quiesce();
  if (parts.generator?.running) {
    try {
      await parts.generator.request({ type: 'quiesce' }, 'quiesced', 5000);
    } catch {
      // Stopped below either way.
    }
  }
  const server = parts.server;
  if (server !== undefined) {
    await server.stop(undefined, beforeRemove && (() => beforeRemove(server)));
    liveServers.delete(server);
  }
  parts.probes?.close();
  if (parts.probes) liveProbes.delete(parts.probes);
  if (parts.generator !== undefined) {
    await parts.generator.stop();
    liveGenerators.delete(parts.generator);
  }
  await stopCountdownPinger(parts.pinger);
}

function serverLogLine(server: ServerProcess | undefined): string {
  if (server === undefined) return 'server log: –';
  const entries = [...server.log.byMessage];
  return `server log (warn and above): ${entries.length === 0 ? 'nothing' : entries.map(([message, n]) => `${n}× ${message}`).join(', ')}`;
}

interface Reading {
  atS: number;
  rssKb: number | undefined;
  fds: number | undefined;
  clients: number;
}

async function runSoak(options: Options, minutes: number): Promise<number> {
  const clients = options.clientsGiven ? options.clients[0]! : 300;
  log(`soak: ${clients} clients for ${minutes} min, ${options.churn} leave and ${options.churn} join per second`);
  const parts: Partial<Session> = {};
  const readings: Reading[] = [];
  let error: string | undefined;
  let report: LoadReport | undefined;
  let tick: Summary | undefined;
  let countdown: Summary | undefined;
  let countdownLost = 0;
  let probesClosed = 0;
  let departed = 0;
  let session: Session | undefined;
  try {
    session = await openSession(options, clients, (minutes * 60_000) / COUNTDOWN_SAMPLES, parts);
    const { server, probes, generator, pinger } = session;
    await sleep(options.warmup * 1000);
    const read = (atS: number): Reading => ({
      atS,
      rssKb: readMemory(server.pid)?.rssKb,
      fds: readFdCount(server.pid),
      clients: probes.lastTickSize,
    });
    readings.push(read(0));
    log(`soak start: RSS ${fixed((readings[0]!.rssKb ?? NaN) / 1024)} MB, ${readings[0]!.fds} fds`);
    await generator.request({ type: 'mark' }, 'marked', 10_000);
    await pinger.request({ type: 'mark' }, 'marked', 10_000);
    probes.mark();
    generator.post({ type: 'churn', perSecond: options.churn });
    const start = performance.now();
    const end = start + minutes * 60_000;
    while (performance.now() < end) {
      await sleep(Math.min(10_000, Math.max(0, end - performance.now())));
      if (!server.running) throw new Error(`the server exited during the soak: ${server.log.last.join(' | ')}`);
      const reading = read((performance.now() - start) / 1000);
      readings.push(reading);
      log(
        `soak ${reading.atS.toFixed(0)} s: RSS ${fixed((reading.rssKb ?? NaN) / 1024)} MB, ${reading.fds} fds, ${reading.clients} clients in the last tick`,
      );
    }
    generator.post({ type: 'churn', perSecond: 0 });
    tick = probes.intervals();
    const ping = await pinger.request({ type: 'report' }, 'report', 10_000);
    countdown = ping.rtt;
    countdownLost = ping.lost;
    // Let the last round of joins and leaves finish before the final reading.
    await sleep(3000);
    readings.push(read((performance.now() - start) / 1000));
    report = await generator.request({ type: 'report' }, 'report', 10_000);
    probesClosed = probes.probesClosed;
    departed = probes.departedTotal;
  } catch (caught) {
    error = (caught as Error).message;
    log(`soak: ${error}`);
  } finally {
    await closeSession(parts);
  }

  const first = readings[0];
  const last = readings[readings.length - 1];
  const rssValues = readings.map((r) => r.rssKb ?? NaN).filter(Number.isFinite);
  const fdValues = readings.map((r) => r.fds ?? NaN).filter(Number.isFinite);
  console.log('');
  console.log(
    table(
      ['', 'clients in tick', 'server RSS MB', 'server fds'],
      [
        ['idle (before clients)', '0', fixed((session?.idleRssKb ?? NaN) / 1024), String(session?.idleFds ?? '–')],
        ...(first
          ? [['start', String(first.clients), fixed((first.rssKb ?? NaN) / 1024), String(first.fds ?? '–')]]
          : []),
        ...(rssValues.length > 0
          ? [['max during soak', '', fixed(Math.max(...rssValues) / 1024), String(Math.max(...fdValues))]]
          : []),
        ...(last && last !== first
          ? [['end', String(last.clients), fixed((last.rssKb ?? NaN) / 1024), String(last.fds ?? '–')]]
          : []),
      ],
    ),
  );
  console.log('');
  const dropped = (report?.droppedTotal ?? 0) + probesClosed;
  console.log(
    `clients: ${clients}; churn: ${report?.churnClosed ?? 0} left, ${report?.churnConnected ?? 0} joined, ${report?.churnFailed ?? 0} could not join; ` +
      `dropped (closed without being asked): ${dropped}${report && report.dropReasons.length > 0 ? ` (${report.dropReasons.join(', ')})` : ''}; ` +
      `departures the probes saw: ${departed}`,
  );
  console.log(
    `tick p50/p99/max ${fixed(tick?.p50)}/${fixed(tick?.p99)}/${fixed(tick?.max)} ms; countdown RTT p50/p99 ${countdownCell(countdown, countdownLost)} ms; ` +
      `memory per client ${fixed(kbPerClient(first?.rssKb !== undefined ? first.rssKb / 1024 : undefined, session?.idleRssKb, clients), 0)} KB`,
  );
  console.log(serverLogLine(parts.server));
  if (error !== undefined) console.log(`error: ${error}`);
  if (first?.rssKb !== undefined && last?.rssKb !== undefined && first.fds !== undefined && last.fds !== undefined) {
    // Noise: the V8 heap and the allocator move RSS by several MB without any leak; a descriptor
    // is a socket, so a few are in flight at any moment of churn.
    const rssGrowthKb = last.rssKb - first.rssKb;
    const rssNoiseKb = Math.max(10 * 1024, first.rssKb * 0.1);
    const fdGrowth = last.fds - first.fds;
    const fdNoise = Math.max(5, options.churn * 2);
    const memoryGrew = rssGrowthKb > rssNoiseKb;
    const fdsGrew = fdGrowth > fdNoise;
    console.log('');
    console.log(
      `Soak verdict: memory ${memoryGrew ? 'GREW' : 'did not grow'} beyond noise (${rssGrowthKb >= 0 ? '+' : ''}${fixed(rssGrowthKb / 1024)} MB, noise ±${fixed(rssNoiseKb / 1024)} MB); ` +
        `descriptors ${fdsGrew ? 'GREW' : 'did not grow'} beyond noise (${fdGrowth >= 0 ? '+' : ''}${fdGrowth}, noise ±${fdNoise}); ` +
        `${dropped} client${dropped === 1 ? '' : 's'} dropped.`,
    );
  }
  if (options.json !== undefined)
    writeFileSync(
      options.json,
      JSON.stringify(
        { mode: 'soak', options, idleRssKb: session?.idleRssKb, readings, report, tick, countdown, error },
        null,
        2,
      ),
    );
  return error === undefined ? 0 : 1;
}

interface PhaseResult {
  name: string;
  seconds: number;
  tick?: Summary;
  latency?: Summary;
  countdown?: Summary;
  countdownLost: number;
  cpuPercent?: number;
  rssKb?: number;
  fdsMax?: number;
  clientsInTick: number;
  /** Honest clients (load clients and probes) whose connection closed during the phase. */
  honestDropped: number;
  /** The probes' own event-loop lag: how much of the tick figures may be the measuring side's. */
  probeLag?: Summary;
  generatorLag?: Summary;
}

/** Rows in a table of the server's database after it stopped (undefined if it cannot be read). */
function countRows(databasePath: string, table: string): number | undefined {
  try {
    const database = new Database(databasePath, { readonly: true, fileMustExist: true });
    try {
      return (database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      database.close();
    }
  } catch {
    return undefined;
  }
}

/** What the server's counters (GET /metrics) gained between two readings. */
function countersLine(before: Map<string, number> | undefined, after: Map<string, number> | undefined): string {
  if (before === undefined || after === undefined)
    return 'server counters during and after the attack: unavailable (/metrics did not answer)';
  const gained = [...after]
    .map(([name, value]) => [name, value - (before.get(name) ?? 0)] as const)
    .filter(([, delta]) => delta > 0)
    .map(([name, delta]) => `${name} +${delta}`);
  return `server counters during and after the attack (/metrics): ${gained.length === 0 ? 'no change' : gained.join(', ')}`;
}

function signed(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
}

function rateText(perSecond: number): string {
  return perSecond === 0 ? 'flat out' : `${perSecond}/s`;
}

async function runResilience(options: Options): Promise<number> {
  const clients = options.clientsGiven ? options.clients[0]! : 500;
  const seconds = options.attackSeconds;
  const wants = (kind: AttackKind) => options.attacks.includes(kind);
  const described = options.attacks.map((kind) =>
    kind === 'connections'
      ? `connection flood ${options.connectsPerSecond}/s`
      : kind === 'chat' || kind === 'locator'
        ? `${kind} flood ${options.floodPerSecond}/s`
        : kind === 'finish'
          ? `finish flood ${rateText(options.finishPerSecond)}`
          : kind === 'model'
            ? `model-change flood ${rateText(options.modelPerSecond)} × ${options.modelBytes + MODEL_CHANGE_OVERHEAD} bytes`
            : 'a client that stops reading',
  );
  log(`resilience: ${clients} clients; ${seconds} s baseline, then ${seconds} s of attack (${described.join(', ')})`);
  const parts: Partial<Session> = {};
  const phases: PhaseResult[] = [];
  let error: string | undefined;
  let attack: AttackReport | undefined;
  let report: LoadReport | undefined;
  let probesClosed = 0;
  let attacker: ChildProcess | undefined;
  let session: Session | undefined;
  let finishesStored: number | undefined;
  let countersBefore: Map<string, number> | undefined;
  let countersAfter: Map<string, number> | undefined;
  const dropReasons = new Set<string>();
  try {
    // With the HTTP endpoint on, to read the server's own drop and refusal counters.
    session = await openSession(options, clients, (seconds * 1000) / COUNTDOWN_SAMPLES, parts, { metrics: true });
    const { server, probes, generator, pinger } = session;
    await sleep(options.warmup * 1000);

    /**
     * Measures from now until `untilMs`, and on while `during` has not settled or `settle()` says
     * the server has not caught up yet (each at most 20 s more).
     */
    const measure = async (
      name: string,
      during: Promise<unknown>,
      untilMs: number,
      settle: () => boolean = () => true,
    ): Promise<void> => {
      await generator.request({ type: 'mark' }, 'marked', 10_000);
      await pinger.request({ type: 'mark' }, 'marked', 10_000);
      probes.mark();
      const probesClosedBefore = probes.probesClosed;
      const lag = new LagMonitor(10);
      lag.start();
      const cpuBefore = readCpuSeconds(server.pid);
      const startedAt = performance.now();
      let fdsMax = 0;
      let settled = false;
      void during.then(
        () => (settled = true),
        () => (settled = true),
      );
      try {
        while (performance.now() < untilMs || ((!settled || !settle()) && performance.now() < untilMs + 20_000)) {
          await sleep(500);
          fdsMax = Math.max(fdsMax, readFdCount(server.pid) ?? 0);
          if (!server.running) throw new Error(`the server exited: ${server.log.last.join(' | ')}`);
          if (settled && settle() && performance.now() >= untilMs) break;
        }
      } finally {
        lag.stop();
      }
      const cpuAfter = readCpuSeconds(server.pid);
      const elapsedS = (performance.now() - startedAt) / 1000;
      const ping = await pinger.request({ type: 'report' }, 'report', 10_000);
      report = await generator.request({ type: 'report' }, 'report', 10_000);
      for (const reason of report.dropReasons) dropReasons.add(reason);
      phases.push({
        name,
        seconds: elapsedS,
        tick: probes.intervals(),
        latency: probes.latencies.summary(),
        ...(ping.rtt !== undefined ? { countdown: ping.rtt } : {}),
        countdownLost: ping.lost,
        ...(cpuBefore !== undefined && cpuAfter !== undefined
          ? { cpuPercent: ((cpuAfter - cpuBefore) / elapsedS) * 100 }
          : {}),
        ...(readMemory(server.pid)?.rssKb !== undefined ? { rssKb: readMemory(server.pid)!.rssKb } : {}),
        fdsMax,
        clientsInTick: probes.lastTickSize,
        honestDropped: report.droppedInWindow + (probes.probesClosed - probesClosedBefore),
        ...(lag.samples.summary() !== undefined ? { probeLag: lag.samples.summary()! } : {}),
        ...(report.eventLoopLag !== undefined ? { generatorLag: report.eventLoopLag } : {}),
      });
    };

    await measure('baseline', Promise.resolve(), performance.now() + seconds * 1000);
    countersBefore = await server.counters();

    const entry = fileURLToPath(new URL('./attack.js', import.meta.url));
    const child = fork(entry, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      execArgv: [],
    });
    attacker = child;
    liveAttackers.add(child);
    const attackDone = new Promise<AttackReport>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the attacker did not report in time')), seconds * 1000 + 30_000);
      child.on('message', (message: AttackReport | { type: 'fatal'; message: string }) => {
        clearTimeout(timer);
        if (message.type === 'attack-report') resolve(message);
        else reject(new Error(`attacker failed: ${message.message}`));
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error('the attacker exited without a report'));
      });
    });
    attackDone.catch(() => undefined);
    const attackStart: AttackStart = {
      type: 'attack',
      host: SERVER_HOST,
      port: server.port,
      seconds,
      connectsPerSecond: options.connectsPerSecond,
      floodPerSecond: options.floodPerSecond,
      finishPerSecond: options.finishPerSecond,
      modelPerSecond: options.modelPerSecond,
      modelBytes: options.modelBytes,
      attacks: options.attacks,
      map: 'sp_a2_bench',
    };
    child.send(attackStart);
    await measure('attack', attackDone, performance.now() + seconds * 1000);
    attack = await attackDone;
    // At least 3 s, and until the probes get ticks again: a backlog the attack left in the
    // server's sockets can stall it well after the attacker has stopped.
    const caughtUp = () => performance.now() - probes.lastTickAt < 4 * options.tickMs;
    await measure('after', Promise.resolve(), performance.now() + 3000, caughtUp);
    countersAfter = await server.counters();
    probesClosed = probes.probesClosed;
  } catch (caught) {
    error = (caught as Error).message;
    log(`resilience: ${error}`);
  } finally {
    if (attacker?.pid !== undefined && attacker.exitCode === null && attacker.signalCode === null) {
      try {
        process.kill(attacker.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (attacker) liveAttackers.delete(attacker);
    // Counted once the server has exited: whatever it had acknowledged is on disk by then.
    await closeSession(parts, (server) => {
      if (wants('finish')) finishesStored = countRows(server.databasePath, 'finishes');
    });
  }

  const baseline = phases.find((phase) => phase.name === 'baseline');
  const attacked = phases.find((phase) => phase.name === 'attack');
  console.log('');
  console.log(
    table(
      [
        'phase',
        's',
        'clients in tick',
        'tick p50 ms',
        'tick p99 ms',
        'tick p99 vs baseline ms',
        'tick max ms',
        'latency p50 ms',
        'latency p99 ms',
        'countdown RTT p50/p99 ms',
        'honest dropped',
        'server CPU %',
        'server RSS MB',
        'server fds max',
        'probe/gen loop lag p99 ms',
      ],
      phases.map((phase) => [
        phase.name,
        fixed(phase.seconds),
        String(phase.clientsInTick),
        fixed(phase.tick?.p50),
        fixed(phase.tick?.p99),
        phase === baseline ? '' : signed((phase.tick?.p99 ?? NaN) - (baseline?.tick?.p99 ?? NaN)),
        fixed(phase.tick?.max),
        fixed(phase.latency?.p50),
        fixed(phase.latency?.p99),
        countdownCell(phase.countdown, phase.countdownLost),
        String(phase.honestDropped),
        fixed(phase.cpuPercent, 0),
        fixed((phase.rssKb ?? NaN) / 1024, 0),
        String(phase.fdsMax ?? '–'),
        `${fixed(phase.probeLag?.p99)}/${fixed(phase.generatorLag?.p99)}`,
      ]),
    ),
  );
  console.log('');
  if (attack !== undefined) {
    const fate = (c: { joined: boolean; closedAfterMs: number | undefined }) =>
      !c.joined
        ? 'could not join'
        : c.closedAfterMs === undefined
          ? 'still connected at the end'
          : `disconnected by the server after ${fixed(c.closedAfterMs / 1000)} s`;
    const floodLine = (target: FloodReport, perSecond: number) =>
      `${target.sent} sent (${rateText(perSecond)} asked, ${fixed(target.achievedPerSecond, 0)}/s written, ` +
      `${fixed(target.bytes / seconds / 1024 / 1024, 2)} MB/s; ${target.heldBack} held back because the server was not reading); ${fate(target)}`;
    if (wants('connections')) {
      const kinds = ['silent', 'garbage', 'oversized'] as const;
      console.log(
        `connection flood: ${attack.floodOpened} opened (${attack.floodConnectErrors} connect errors); closed by the server during the attack: ` +
          kinds
            .map(
              (kind) =>
                `${kind} ${attack!.floodClosedByServer[kind]} (median/max ${fixed(attack!.floodCloseMs[kind][0], 0)}/${fixed(attack!.floodCloseMs[kind][1], 0)} ms)`,
            )
            .join(', ') +
          `; still open at the end: ${kinds.map((kind) => `${kind} ${attack!.floodStillOpen[kind]}`).join(', ')}`,
      );
    }
    if (wants('slow-reader')) console.log(`client that stopped reading: ${fate(attack.slowReader)}`);
    if (wants('chat')) console.log(`chat flood: ${attack.chat.sent} messages sent; ${fate(attack.chat)}`);
    if (wants('locator')) console.log(`locator flood: ${attack.locator.sent} locators sent; ${fate(attack.locator)}`);
    if (wants('finish'))
      console.log(
        `finish flood: ${floodLine(attack.finish, options.finishPerSecond)}; finishes stored in the database: ${finishesStored ?? 'unknown'}`,
      );
    if (wants('model'))
      console.log(
        `model-change flood (${options.modelBytes + MODEL_CHANGE_OVERHEAD}-byte packets): ${floodLine(attack.model, options.modelPerSecond)}`,
      );
    if (attack.errors.length > 0) console.log(`attacker errors: ${attack.errors.join('; ')}`);
  }
  console.log(countersLine(countersBefore, countersAfter));
  const dropped = phases.reduce((total, phase) => total + phase.honestDropped, 0);
  console.log(
    `legitimate clients dropped: ${dropped}${dropReasons.size > 0 ? ` (${[...dropReasons].join(', ')})` : ''}` +
      (probesClosed > 0 ? `; ${probesClosed} of them probes` : ''),
  );
  console.log(serverLogLine(parts.server));
  if (error !== undefined) console.log(`error: ${error}`);
  const after = phases.find((phase) => phase.name === 'after');
  if (baseline?.tick !== undefined && attacked !== undefined && after !== undefined) {
    // An attack's effect can outlast it (a backlog the server is still working through), so the
    // few seconds after it count too. A phase in which no probe got two ticks has no interval.
    const deltas = [attacked, after].map((phase) => (phase.tick?.p99 ?? Infinity) - baseline.tick!.p99);
    const honestDropped = attacked.honestDropped + after.honestDropped;
    const met = deltas.every((delta) => delta <= RESILIENCE_MARGIN_MS) && honestDropped === 0;
    const p99Text = (phase: PhaseResult, delta: number) =>
      phase.tick === undefined ? 'no tick at all' : `${fixed(phase.tick.p99)} ms (${signed(delta)} ms)`;
    console.log('');
    console.log(
      `Honest players' tick p99: ${fixed(baseline.tick.p99)} ms without attacks, ${p99Text(attacked, deltas[0]!)} under attack, ` +
        `${p99Text(after, deltas[1]!)} in the ${fixed(after.seconds)} s after it; longest gap between ticks ${fixed(Math.max(attacked.tick?.max ?? 0, after.tick?.max ?? 0))} ms. ` +
        `Propagation p50/p99: ${fixed(baseline.latency?.p50)}/${fixed(baseline.latency?.p99)} ms without, ` +
        `${fixed(attacked.latency?.p50)}/${fixed(attacked.latency?.p99)} ms under attack. ${honestDropped} honest clients dropped.`,
    );
    console.log(
      `Resilience verdict (tick p99 during and after the attack within ${RESILIENCE_MARGIN_MS} ms of the baseline, no honest client dropped): ${met ? 'met' : 'NOT met'}.`,
    );
  }
  if (options.json !== undefined)
    writeFileSync(
      options.json,
      JSON.stringify(
        {
          mode: 'resilience',
          options,
          phases,
          attack,
          finishesStored,
          counters: {
            before: countersBefore && Object.fromEntries(countersBefore),
            after: countersAfter && Object.fromEntries(countersAfter),
          },
          report,
          error,
        },
        null,
        2,
      ),
    );
  return error === undefined ? 0 : 1;
}

// -------------------------------------------------------------------------------------------------
// Race: the same clients without a race, then as the entrants of a running race.

/**
 * Within this of the run without a race, the tick and the latency count as unaffected: the
 * run-to-run spread of the tick p99 at 500 clients on the 2-core machine of BENCHMARKS.md (the
 * same margin as the resilience verdict).
 */
const RACE_MARGIN_MS = 10;

/**
 * The cells the race and viewer tables share, for a phase against the table's baseline phase:
 * map changes/s, clients in the tick, tick p50/p99/change/max, latency p50/p99/change, countdown
 * round trip, server CPU.
 */
function comparedCells(phase: RacePhase, baseline: RacePhase | undefined): string[] {
  const change = (value: number | undefined, before: number | undefined) =>
    phase === baseline ? '' : signed((value ?? NaN) - (before ?? NaN));
  return [
    fixed(phase.mapChanges / phase.seconds),
    String(phase.clientsInTick),
    fixed(phase.tick?.p50),
    fixed(phase.tick?.p99),
    change(phase.tick?.p99, baseline?.tick?.p99),
    fixed(phase.tick?.max),
    fixed(phase.latency?.p50),
    fixed(phase.latency?.p99),
    change(phase.latency?.p99, baseline?.latency?.p99),
    countdownCell(phase.countdown, phase.countdownLost),
    fixed(phase.cpuPercent, 0),
  ];
}

interface RacePhase extends PhaseResult {
  /** The machine's 1-minute load average at the end of the window (everything else running counts). */
  loadAverage: number;
  /** The load generator's CPU: it reads every relayed map change on 500 sockets. */
  generatorCpuPercent: number;
  /** The server's largest RSS seen in the window (read every 0.5 s). */
  rssMaxKb?: number;
  mapChanges: number;
  finishes: number;
  runners: number;
  mapChangeLateness?: Summary;
}

interface RaceStepResult {
  clients: number;
  connected: number;
  error?: string;
  phases: RacePhase[];
  raceId?: number;
  /** Clients that said /ready, and those the server counted down (its entrants). */
  readied: number;
  entrants: number;
  /** From the /ready of every load client until the server listed them all as ready (polled every 0.2 s). */
  readyUpSeconds?: number;
  /** The race as the server's API showed it after the measurement. */
  serverState?: string;
  serverEntrants?: number;
  splitsRecorded?: number;
  /** Map changes the entrants sent from the go until the server's race was read. */
  mapChangesSent?: number;
  serverLog: Record<string, number>;
}

interface RaceEntrantJson {
  status: string;
  splits: unknown[];
}
interface RaceJson {
  id: number;
  state: string;
  entrants: RaceEntrantJson[];
}

/** The live race's id from `GET /api/races` (the newest open one). */
async function liveRaceId(server: ServerProcess): Promise<number> {
  const { status, body } = await server.api('GET', '/api/races');
  const races = (body as { races?: Array<{ id: number; state: string }> }).races;
  const open = status === 200 ? races?.find((race) => race.state === 'open') : undefined;
  if (open === undefined)
    throw new Error(`GET /api/races: no open race (status ${status}: ${JSON.stringify(body).slice(0, 200)})`);
  return open.id;
}

async function raceDetail(server: ServerProcess, id: number): Promise<RaceJson> {
  const { status, body } = await server.api('GET', `/api/races/${id}`, undefined, 30_000);
  const race = (body as { race?: RaceJson }).race;
  if (status !== 200 || race === undefined)
    throw new Error(`GET /api/races/${id}: status ${status}: ${JSON.stringify(body).slice(0, 200)}`);
  return race;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

/** One measurement window on a session (`--race`, `--viewers`): the probes' ticks and latency, the server's CPU and memory, the runners' map changes. */
async function measureRacePhase(session: Session, name: string, seconds: number): Promise<RacePhase> {
  const { server, probes, generator, pinger } = session;
  await generator.request({ type: 'mark' }, 'marked', 10_000);
  await pinger.request({ type: 'mark' }, 'marked', 10_000);
  probes.mark();
  const probesClosedBefore = probes.probesClosed;
  const lag = new LagMonitor(10);
  lag.start();
  const cpuBefore = readCpuSeconds(server.pid);
  const startedAt = performance.now();
  let fdsMax = 0;
  let rssMaxKb = 0;
  try {
    while (performance.now() - startedAt < seconds * 1000) {
      await sleep(Math.min(500, Math.max(0, seconds * 1000 - (performance.now() - startedAt))));
      fdsMax = Math.max(fdsMax, readFdCount(server.pid) ?? 0);
      rssMaxKb = Math.max(rssMaxKb, readMemory(server.pid)?.rssKb ?? 0);
      if (!server.running) throw new Error(`the server exited: ${server.log.last.join(' | ')}`);
    }
  } finally {
    lag.stop();
  }
  const cpuAfter = readCpuSeconds(server.pid);
  const elapsedS = (performance.now() - startedAt) / 1000;
  const ping = await pinger.request({ type: 'report' }, 'report', 10_000);
  const report = await generator.request({ type: 'report' }, 'report', 10_000);
  const rssKb = readMemory(server.pid)?.rssKb;
  return {
    name,
    seconds: elapsedS,
    loadAverage: loadavg()[0]!,
    ...(probes.intervals() !== undefined ? { tick: probes.intervals()! } : {}),
    ...(probes.latencies.summary() !== undefined ? { latency: probes.latencies.summary()! } : {}),
    ...(ping.rtt !== undefined ? { countdown: ping.rtt } : {}),
    countdownLost: ping.lost,
    ...(cpuBefore !== undefined && cpuAfter !== undefined
      ? { cpuPercent: ((cpuAfter - cpuBefore) / elapsedS) * 100 }
      : {}),
    ...(rssKb !== undefined ? { rssKb, rssMaxKb: Math.max(rssMaxKb, rssKb) } : {}),
    fdsMax,
    clientsInTick: probes.lastTickSize,
    honestDropped: report.droppedInWindow + (probes.probesClosed - probesClosedBefore),
    ...(lag.samples.summary() !== undefined ? { probeLag: lag.samples.summary()! } : {}),
    ...(report.eventLoopLag !== undefined ? { generatorLag: report.eventLoopLag } : {}),
    generatorCpuPercent: report.cpuPercent,
    mapChanges: report.race?.mapChanges ?? 0,
    finishes: report.race?.finishes ?? 0,
    runners: report.race?.runners ?? 0,
    ...(report.race?.mapChangeLateness !== undefined ? { mapChangeLateness: report.race.mapChangeLateness } : {}),
  };
}

async function runRaceStep(options: Options, clients: number): Promise<RaceStepResult> {
  const result: RaceStepResult = { clients, connected: 0, phases: [], readied: 0, entrants: 0, serverLog: {} };
  const parts: Partial<Session> = {};
  const lightCount = clients - options.probes - 1;
  const periodMs = options.mapChangeSeconds * 1000;
  try {
    // The console runs `race open` and `race start`; the HTTP API shows the race as JSON.
    const session = await openSession(options, clients, (options.seconds * 1000) / COUNTDOWN_SAMPLES, parts, {
      metrics: true,
      console: true,
    });
    result.connected = session.connected;
    const { server, generator } = session;
    await sleep(options.warmup * 1000);
    result.phases.push(await measureRacePhase(session, 'without a race', options.seconds));

    // The same stream of map changes with no race open: what relaying them costs any ghost
    // server, apart from what the race adds.
    await generator.request({ type: 'race-walk', action: 'start' }, 'race-status', 10_000);
    await sleep(2 * periodMs);
    result.phases.push(await measureRacePhase(session, 'map changes, no race', options.seconds));
    const walked = await generator.request({ type: 'race-walk', action: 'stop' }, 'race-status', 10_000);

    const opened = await server.command('race open bench race');
    log(`race: ${opened}`);
    if (opened.startsWith('error:')) throw new Error(`race open: ${opened}`);
    const id = await liveRaceId(server);
    result.raceId = id;
    const readyStart = performance.now();
    const readied = await generator.request({ type: 'race-ready' }, 'race-status', 10_000);
    result.readied = readied.readied;
    // Every /ready has been handled once the race lists every load client as ready.
    await until(`${lightCount} entrants ready`, 60_000, async () => {
      const race = await raceDetail(server, id);
      return race.entrants.filter((entrant) => entrant.status === 'ready').length >= lightCount;
    });
    result.readyUpSeconds = (performance.now() - readyStart) / 1000;
    const started = await server.command(`race start ${options.raceCountdown}`);
    log(`race: ${started}`);
    if (started.startsWith('error:')) throw new Error(`race start: ${started}`);
    await until(`the countdown at ${lightCount} entrants`, 30_000, async () => {
      const status = await generator.request({ type: 'race-status' }, 'race-status', 10_000);
      result.entrants = status.countdowns;
      return status.countdowns >= lightCount;
    });
    // From the go, each entrant's first map change comes within two periods; from then on the
    // stream of map changes is steady.
    await sleep(options.raceCountdown * 1000 + 2 * periodMs);
    result.phases.push(await measureRacePhase(session, 'race running', options.seconds));
    const status = await generator.request({ type: 'race-status' }, 'race-status', 10_000);
    const race = await raceDetail(server, id);
    result.mapChangesSent = status.mapChanges - walked.mapChanges;
    result.serverState = race.state;
    result.serverEntrants = race.entrants.length;
    result.splitsRecorded = race.entrants.reduce((total, entrant) => total + entrant.splits.length, 0);
  } catch (error) {
    result.error = (error as Error).message;
    log(`race, ${clients} clients: ${result.error}`);
  } finally {
    await closeSession(parts);
    result.serverLog = parts.server ? Object.fromEntries(parts.server.log.byMessage) : {};
  }
  return result;
}

async function runRace(options: Options): Promise<number> {
  const steps = options.clientsGiven ? options.clients : [500];
  log(
    `race: steps ${steps.join(', ')}; ${options.warmup} s warm-up, ${options.seconds} s without a race, then ${options.seconds} s ` +
      `with every load client racing (a map change every ${options.mapChangeSeconds} s each, countdown ${options.raceCountdown} s)`,
  );
  const results: RaceStepResult[] = [];
  for (const clients of steps) {
    results.push(await runRaceStep(options, clients));
    await sleep(1000);
  }
  console.log('');
  const rows: string[][] = [];
  for (const result of results) {
    const baseline = result.phases.find((phase) => phase.name === 'without a race');
    for (const phase of result.phases) {
      rows.push([
        String(result.clients),
        phase.name,
        phase.name === 'race running' ? String(result.entrants) : '–',
        ...comparedCells(phase, baseline),
        fixed(phase.generatorCpuPercent, 0),
        fixed((phase.rssKb ?? NaN) / 1024, 0),
        String(phase.honestDropped),
        `${fixed(phase.probeLag?.p99)}/${fixed(phase.generatorLag?.p99)}`,
        fixed(phase.loadAverage, 2),
      ]);
    }
  }
  console.log(
    table(
      [
        'clients',
        'phase',
        'entrants',
        'map changes/s',
        'clients in tick',
        'tick p50 ms',
        'tick p99 ms',
        'tick p99 vs without ms',
        'tick max ms',
        'latency p50 ms',
        'latency p99 ms',
        'latency p99 vs without ms',
        'countdown RTT p50/p99 ms',
        'server CPU %',
        'gen CPU %',
        'server RSS MB',
        'dropped',
        'probe/gen loop lag p99 ms',
        'load avg 1 min',
      ],
      rows,
    ),
  );
  console.log('');
  let failed = false;
  for (const result of results) {
    const baseline = result.phases.find((phase) => phase.name === 'without a race');
    const racing = result.phases.find((phase) => phase.name === 'race running');
    const relaying = result.phases.find((phase) => phase.name === 'map changes, no race');
    const notes: string[] = [];
    if (result.raceId !== undefined)
      notes.push(
        `race ${result.raceId}: ${result.readied} said /ready (all ready within ${fixed(result.readyUpSeconds)} s), ${result.entrants} counted down; after the window the server showed it ` +
          `${result.serverState ?? '?'} with ${result.serverEntrants ?? '?'} entrants and ${result.splitsRecorded ?? '?'} splits ` +
          `(${result.mapChangesSent ?? '?'} map changes sent)`,
      );
    if (racing?.mapChangeLateness !== undefined)
      notes.push(`map changes sent late p99 ${fixed(racing.mapChangeLateness.p99)} ms`);
    const serverLog = Object.entries(result.serverLog);
    if (serverLog.length > 0)
      notes.push(`server log: ${serverLog.map(([message, n]) => `${n}× ${message}`).join(', ')}`);
    if (result.error !== undefined) notes.push(`error: ${result.error}`);
    console.log(`  ${result.clients}: ${notes.join('; ')}`);
    if (result.error !== undefined) failed = true;
    if (baseline?.tick !== undefined && racing?.tick !== undefined) {
      const tickDelta = racing.tick.p99 - baseline.tick.p99;
      const latencyDelta = (racing.latency?.p99 ?? Infinity) - (baseline.latency?.p99 ?? 0);
      const dropped = result.phases.reduce((total, phase) => total + phase.honestDropped, 0);
      const met = tickDelta <= RACE_MARGIN_MS && latencyDelta <= RACE_MARGIN_MS && dropped === 0;
      console.log('');
      console.log(
        `Race of ${result.entrants} entrants among ${result.clients} clients, ${fixed(racing.mapChanges / racing.seconds)} map changes/s: ` +
          `tick p99 ${fixed(baseline.tick.p99)} ms without, ${fixed(racing.tick.p99)} ms with (${signed(tickDelta)}); ` +
          `latency p99 ${fixed(baseline.latency?.p99)} ms without, ${fixed(racing.latency?.p99)} ms with (${signed(latencyDelta)}); ` +
          `${dropped} dropped. Verdict (tick and latency p99 within ${RACE_MARGIN_MS} ms, nobody dropped): ${met ? 'met' : 'NOT met'}.`,
      );
      if (relaying?.tick !== undefined)
        console.log(
          `The race itself, against the same map changes with no race open: tick p99 ${signed(racing.tick.p99 - relaying.tick.p99)} ms, ` +
            `latency p99 ${signed((racing.latency?.p99 ?? NaN) - (relaying.latency?.p99 ?? NaN))} ms, ` +
            `server CPU ${signed((racing.cpuPercent ?? NaN) - (relaying.cpuPercent ?? NaN))} points.`,
        );
    }
  }
  if (options.json !== undefined)
    writeFileSync(
      options.json,
      JSON.stringify(
        {
          mode: 'race',
          machine: { cpus: cpus().length, model: cpuModel(), memoryBytes: totalmem(), node: process.version },
          options,
          results,
        },
        null,
        2,
      ),
    );
  return failed ? 1 : 0;
}

// -------------------------------------------------------------------------------------------------
// Viewers: what the public /live event stream costs the ghost tick.

/** Within this of the window without viewers, the tick and the latency count as untouched (as for --race). */
const VIEWERS_MARGIN_MS = 10;
/** Viewers connecting at once. */
const VIEWER_CONCURRENCY = 50;

interface ViewerPhase extends RacePhase {
  /** Reading viewers (and slow ones) connected during the window. */
  viewers: number;
  slowViewers: number;
  /** `say bench <time>` the bench ran at the console in the window, and how long the console took to answer (ms). */
  says: number;
  sayAnswered?: Summary;
  /** The viewer process's figures for the window (none in the window without viewers). */
  stream?: Omit<ViewersReport, 'type'>;
}

interface SlowViewersResult {
  connected: number;
  /** From the slow viewers connecting until /metrics counted them all dropped (undefined: not within the wait). */
  droppedAfterSeconds?: number;
  dropped: number;
  /** Server RSS when they connected, and the most it reached until they were dropped. */
  rssAtStartKb?: number;
  rssMaxKb?: number;
  /** The most the kernel held for one slow viewer: the server's send queue + the viewer's receive queue. */
  kernelQueuedMaxBytes: number;
  /** After the drop the slow viewers read: streams that ended, and the bytes each got in all. */
  endedByServer?: number;
  stillOpen?: number;
  bytesEach?: number[];
}

interface ViewersResult {
  clients: number;
  viewers: number;
  connected: number;
  error?: string;
  phases: ViewerPhase[];
  viewersConnected?: number;
  viewersFailed?: number;
  viewerFailures?: string[];
  viewerRampSeconds?: number;
  /** From all viewers connected until the players' updates propagated as fast as before (or 30 s). */
  viewerSettleSeconds?: number;
  /** The players' tick and the server's CPU while the viewers connected (from the viewer process's start). */
  viewerRamp?: { seconds: number; tick?: Summary; latency?: Summary; cpuPercent?: number };
  snapshotBytes?: number;
  snapshotPlayers?: number;
  /** Events older than a connection's snapshot that came after it (in the ramp), and on how many connections. */
  rampStaleIds?: number;
  rampStaleViewers?: number;
  slow?: SlowViewersResult;
  saysFailed: number;
  sayError?: string;
  /** /live figures from GET /metrics at the end. */
  liveMetrics?: Record<string, number>;
  serverLog: Record<string, number>;
}

/** The `ghosting_live_*` figures of GET /metrics (gauge and counters), or undefined if it did not answer. */
async function liveMetrics(server: ServerProcess): Promise<Record<string, number> | undefined> {
  try {
    const { status, body } = await server.api('GET', '/metrics', undefined, 5000);
    if (status !== 200 || typeof body !== 'string') return undefined;
    const values: Record<string, number> = {};
    for (const match of body.matchAll(/^(ghosting_live_\w+) (\S+)$/gm)) values[match[1]!] = Number(match[2]);
    return values;
  } catch {
    return undefined;
  }
}

/** Says `bench <time>` at the server's console every `intervalMs` (one command at a time) until stopped. */
function startSaying(server: ServerProcess, intervalMs: number) {
  let stopped = false;
  // `answered`: from writing the command to the server's answer line (its console's own delay).
  const state = { sent: 0, failed: 0, lastError: undefined as string | undefined, answered: new Samples(100_000) };
  const loop = (async () => {
    while (!stopped && server.running) {
      const started = performance.now();
      try {
        const answer = await server.command(
          `say bench ${(performance.timeOrigin + performance.now()).toFixed(3)}`,
          5000,
        );
        if (answer.startsWith('error:')) {
          state.failed++;
          state.lastError = answer;
        } else {
          state.sent++;
          state.answered.add(performance.now() - started);
        }
      } catch (error) {
        state.failed++;
        state.lastError = (error as Error).message;
      }
      await sleep(Math.max(0, intervalMs - (performance.now() - started)));
    }
  })();
  return {
    state,
    stop: async () => {
      stopped = true;
      await withTimeout(loop, 10_000, 'the console did not stop').catch(() => undefined);
    },
  };
}

async function runViewers(options: Options, viewerCount: number): Promise<number> {
  const clients = options.clientsGiven ? options.clients[0]! : 500;
  const slowCount = options.slowViewers;
  const result: ViewersResult = {
    clients,
    viewers: viewerCount,
    connected: 0,
    phases: [],
    saysFailed: 0,
    serverLog: {},
  };
  log(
    `viewers: ${clients} clients (a map change every ${options.mapChangeSeconds} s each), "say bench <time>" ${options.saysPerSecond} times a second; ` +
      `${options.seconds} s without viewers, then with ${viewerCount} on /live` +
      (slowCount > 0
        ? `, then with ${slowCount} more that never read (waiting at most ${options.slowViewerSeconds} s for their drop)`
        : ''),
  );
  const parts: Partial<Session> = {};
  let viewers: ViewersChild | undefined;
  let saying: ReturnType<typeof startSaying> | undefined;
  const periodMs = options.mapChangeSeconds * 1000;
  try {
    // The public pages on the HTTP endpoint (loopback, a free port), room for every viewer, and the
    // console for `say`; what is given with --server-config comes after, and wins.
    const sessionOptions: Options = {
      ...options,
      serverConfig: [
        'http.public_pages=true',
        `http.max_live_viewers=${Math.max(1000, viewerCount + slowCount + 10)}`,
        `http.max_connections=${Math.max(2000, viewerCount + slowCount + 100)}`,
        ...options.serverConfig,
      ],
    };
    const session = await openSession(sessionOptions, clients, (options.seconds * 1000) / COUNTDOWN_SAMPLES, parts, {
      metrics: true,
      console: true,
    });
    result.connected = session.connected;
    const { server, generator } = session;
    const httpPort = server.httpPort!;
    await sleep(options.warmup * 1000);
    // Every load client walks the route round and round: the stream's `map` events, a steady
    // clients / period a second, and the same in every window.
    await generator.request({ type: 'race-walk', action: 'start', loop: true }, 'race-status', 10_000);
    if (options.saysPerSecond > 0) saying = startSaying(server, 1000 / options.saysPerSecond);
    await sleep(2 * periodMs);
    const says = saying?.state ?? { sent: 0, failed: 0, lastError: undefined, answered: new Samples(1) };

    const measure = async (name: string, stream: ViewersChild | undefined, slow: number): Promise<ViewerPhase> => {
      await stream?.request({ type: 'mark' }, 'marked', 10_000);
      const saysBefore = says.sent;
      says.answered.reset();
      const phase = await measureRacePhase(session, name, options.seconds);
      const report = stream === undefined ? undefined : await stream.request({ type: 'report' }, 'report', 10_000);
      const viewersPhase: ViewerPhase = {
        ...phase,
        viewers: report?.open ?? 0,
        slowViewers: slow,
        says: says.sent - saysBefore,
        ...(says.answered.summary() !== undefined ? { sayAnswered: says.answered.summary()! } : {}),
      };
      if (report !== undefined) {
        const { type: _type, ...figures } = report;
        viewersPhase.stream = figures;
      }
      log(
        `${name}: tick p99 ${fixed(phase.tick?.p99)} ms, latency p99 ${fixed(phase.latency?.p99)} ms, server CPU ${fixed(phase.cpuPercent, 0)} %` +
          (report !== undefined
            ? `; ${report.open} viewers, ${fixed(report.events / Math.max(1, report.open) / (report.windowMs / 1000))} events/s each, delay p50/p99 ${fixed(report.delay?.p50)}/${fixed(report.delay?.p99)} ms`
            : ''),
      );
      return viewersPhase;
    };

    result.phases.push(await measure('no viewers', undefined, 0));

    viewers = startViewers();
    liveViewerProcesses.add(viewers);
    if (options.pin) pin(viewers.pid, 1);
    // The players' tick while every viewer connects at once (each gets a snapshot of every player).
    session.probes.mark();
    const rampCpuBefore = readCpuSeconds(server.pid);
    const rampStart = performance.now();
    const connectTimeoutMs = 30_000 + viewerCount * 50;
    const ready = await viewers.request(
      {
        type: 'start',
        host: SERVER_HOST,
        port: httpPort,
        count: viewerCount,
        concurrency: VIEWER_CONCURRENCY,
        connectTimeoutMs,
        parse: options.viewerParse,
      },
      'ready',
      connectTimeoutMs + 10_000,
    );
    const rampSeconds = (performance.now() - rampStart) / 1000;
    const rampCpuAfter = readCpuSeconds(server.pid);
    result.viewerRamp = {
      seconds: rampSeconds,
      ...(session.probes.intervals() !== undefined ? { tick: session.probes.intervals()! } : {}),
      ...(session.probes.latencies.summary() !== undefined ? { latency: session.probes.latencies.summary()! } : {}),
      ...(rampCpuBefore !== undefined && rampCpuAfter !== undefined
        ? { cpuPercent: ((rampCpuAfter - rampCpuBefore) / rampSeconds) * 100 }
        : {}),
    };
    result.viewersConnected = ready.connected;
    result.viewersFailed = ready.failed;
    result.viewerFailures = ready.failures;
    result.viewerRampSeconds = ready.rampMs / 1000;
    result.snapshotBytes = ready.snapshotBytes;
    result.snapshotPlayers = ready.snapshotPlayers;
    result.rampStaleIds = ready.staleIds;
    result.rampStaleViewers = ready.staleViewers;
    log(
      `viewers: ${ready.connected} of ${viewerCount} connected to /live in ${fixed(ready.rampMs / 1000)} s (${ready.failed} failed` +
        `${ready.failures.length > 0 ? `: ${ready.failures.slice(0, 3).join('; ')}` : ''}); snapshot ${fixed(ready.snapshotBytes / 1024)} KB with ${ready.snapshotPlayers} players`,
    );
    if (ready.connected === 0) throw new Error('no viewer could connect to /live');
    // The connections' first burst (a snapshot each) leaves the server behind on the players'
    // updates for a while: measure once it has caught up (at least 2 s, at most 30 s), that is
    // once no update in a second took more than 1.5 × the p99 without viewers + 10 ms.
    const caughtUp = (result.phases[0]?.latency?.p99 ?? 100) * 1.5 + 10;
    const settleStart = performance.now();
    for (;;) {
      session.probes.mark();
      await sleep(1000);
      const latency = session.probes.latencies.summary();
      const elapsed = performance.now() - settleStart;
      if ((latency !== undefined && latency.max <= caughtUp && elapsed >= 2000) || elapsed >= 30_000) break;
    }
    result.viewerSettleSeconds = (performance.now() - settleStart) / 1000;
    result.phases.push(await measure(`${viewerCount} viewers`, viewers, 0));

    if (slowCount > 0) {
      const metricsBefore = await liveMetrics(server);
      const droppedBefore = metricsBefore?.ghosting_live_viewers_dropped_total ?? 0;
      const slowReady = await viewers.request(
        { type: 'slow', count: slowCount, timeoutMs: 10_000 },
        'slow-ready',
        20_000,
      );
      const slowStart = performance.now();
      const slow: SlowViewersResult = {
        connected: slowReady.connected,
        dropped: 0,
        kernelQueuedMaxBytes: 0,
        ...(readMemory(server.pid)?.rssKb !== undefined ? { rssAtStartKb: readMemory(server.pid)!.rssKb } : {}),
      };
      result.slow = slow;
      if (slowReady.failures.length > 0) log(`slow viewers: ${slowReady.failures.join('; ')}`);
      const phase = await measure(
        `${viewerCount} viewers + ${slowReady.connected} not reading`,
        viewers,
        slowReady.connected,
      );
      result.phases.push(phase);
      slow.rssMaxKb = phase.rssMaxKb;

      // Until the server has dropped every slow viewer (its counter says so), at most --slow-viewer-seconds.
      const deadline = slowStart + options.slowViewerSeconds * 1000;
      let lastLog = 0;
      while (performance.now() < deadline) {
        const metrics = await liveMetrics(server);
        slow.dropped = (metrics?.ghosting_live_viewers_dropped_total ?? droppedBefore) - droppedBefore;
        slow.rssMaxKb = Math.max(slow.rssMaxKb ?? 0, readMemory(server.pid)?.rssKb ?? 0);
        const status = await viewers.request({ type: 'slow-status' }, 'slow-status', 10_000);
        const kernel = status.viewers.map((one) => (one.serverQueuedBytes ?? 0) + (one.viewerQueuedBytes ?? 0));
        slow.kernelQueuedMaxBytes = Math.max(slow.kernelQueuedMaxBytes, ...kernel);
        if (slow.dropped >= slowReady.connected) {
          slow.droppedAfterSeconds = (performance.now() - slowStart) / 1000;
          break;
        }
        if (!server.running) throw new Error(`the server exited: ${server.log.last.join(' | ')}`);
        if (performance.now() - lastLog >= 15_000) {
          lastLog = performance.now();
          log(
            `slow viewers after ${fixed((performance.now() - slowStart) / 1000, 0)} s: ${slow.dropped} of ${slowReady.connected} dropped; ` +
              `the kernel holds ${kernel.map((bytes) => fixed(bytes / 2 ** 20, 2)).join(', ')} MiB for them; server RSS ${fixed((readMemory(server.pid)?.rssKb ?? NaN) / 1024)} MB`,
          );
        }
        await sleep(1000);
      }
      const drained = await viewers.request({ type: 'slow-drain', timeoutMs: 15_000 }, 'slow-drained', 30_000);
      slow.endedByServer = drained.endedByServer;
      slow.stillOpen = drained.stillOpen;
      slow.bytesEach = drained.bytes;
    }
    result.liveMetrics = await liveMetrics(server);
    await saying?.stop();
    result.saysFailed = says.failed;
    if (says.lastError !== undefined) result.sayError = says.lastError;
    await generator.request({ type: 'race-walk', action: 'stop' }, 'race-status', 10_000);
  } catch (error) {
    result.error = (error as Error).message;
    log(`viewers: ${result.error}`);
  } finally {
    await saying?.stop();
    if (viewers !== undefined) {
      await viewers.stop();
      liveViewerProcesses.delete(viewers);
    }
    await closeSession(parts);
    result.serverLog = parts.server ? Object.fromEntries(parts.server.log.byMessage) : {};
  }
  printViewers(result, options);
  if (options.json !== undefined)
    writeFileSync(
      options.json,
      JSON.stringify(
        {
          mode: 'viewers',
          machine: { cpus: cpus().length, model: cpuModel(), memoryBytes: totalmem(), node: process.version },
          options,
          result,
        },
        null,
        2,
      ),
    );
  return result.error === undefined ? 0 : 1;
}

function printViewers(result: ViewersResult, options: Options): void {
  const baseline = result.phases.find((phase) => phase.viewers === 0);
  const watched = result.phases.find((phase) => phase.viewers > 0 && phase.slowViewers === 0);
  console.log('');
  console.log(
    table(
      [
        'phase',
        'viewers',
        'map changes/s',
        'clients in tick',
        'tick p50 ms',
        'tick p99 ms',
        'tick p99 vs none ms',
        'tick max ms',
        'latency p50 ms',
        'latency p99 ms',
        'latency p99 vs none ms',
        'countdown RTT p50/p99 ms',
        'server CPU %',
        'server RSS MB (end/max)',
        'gen CPU %',
        'viewers CPU %',
        'dropped',
        'probe/gen loop lag p99 ms',
        'load avg 1 min',
      ],
      result.phases.map((phase) => [
        phase.name,
        phase.slowViewers > 0 ? `${phase.viewers}+${phase.slowViewers}` : String(phase.viewers),
        ...comparedCells(phase, baseline),
        `${fixed((phase.rssKb ?? NaN) / 1024, 0)}/${fixed((phase.rssMaxKb ?? NaN) / 1024, 0)}`,
        fixed(phase.generatorCpuPercent, 0),
        fixed(phase.stream?.cpuPercent, 0),
        String(phase.honestDropped),
        `${fixed(phase.probeLag?.p99)}/${fixed(phase.generatorLag?.p99)}`,
        fixed(phase.loadAverage, 2),
      ]),
    ),
  );
  const streamed = result.phases.filter((phase) => phase.stream !== undefined);
  if (streamed.length > 0) {
    console.log('');
    console.log('The /live stream as the viewers got it (per viewer: over the viewers open at the end of the window):');
    console.log(
      table(
        [
          'phase',
          'open',
          'closed',
          'events/s per viewer',
          'events per viewer min/max',
          'reads/s per viewer',
          'KB/s per viewer',
          'MB/s all',
          'message delay p50/p99/max ms',
          'first viewer p50/p99 ms',
          'first → last viewer p50/p99 ms',
          'say answered p50/p99 ms',
          'kernel backlog max MB (server/viewers)',
          'bench messages per viewer min/max (says)',
          'stale ids',
          'parse errors',
          'viewers loop lag p99 ms',
        ],
        streamed.map((phase) => {
          const stream = phase.stream!;
          const seconds = stream.windowMs / 1000;
          const open = Math.max(1, stream.open);
          return [
            phase.name,
            String(stream.open),
            String(stream.closedInWindow),
            fixed(stream.events / open / seconds),
            `${stream.eventsPerViewerMin}/${stream.eventsPerViewerMax}`,
            fixed(stream.chunks / open / seconds),
            fixed(stream.bytes / open / seconds / 1024),
            fixed(stream.bytes / seconds / 2 ** 20, 2),
            stream.delay ? `${fixed(stream.delay.p50)}/${fixed(stream.delay.p99)}/${fixed(stream.delay.max)}` : '–',
            stream.firstDelay ? `${fixed(stream.firstDelay.p50)}/${fixed(stream.firstDelay.p99)}` : '–',
            stream.spread ? `${fixed(stream.spread.p50)}/${fixed(stream.spread.p99)}` : '–',
            phase.sayAnswered ? `${fixed(phase.sayAnswered.p50)}/${fixed(phase.sayAnswered.p99)}` : '–',
            `${fixed(stream.kernelQueuedMaxBytes.server / 2 ** 20, 2)}/${fixed(stream.kernelQueuedMaxBytes.viewers / 2 ** 20, 2)}`,
            `${stream.benchMessagesPerViewerMin}/${stream.benchMessagesPerViewerMax} (${phase.says})`,
            String(stream.staleIds),
            String(stream.parseErrors),
            fixed(stream.eventLoopLag?.p99),
          ];
        }),
      ),
    );
  }
  console.log('');
  const notes: string[] = [];
  if (result.viewersConnected !== undefined)
    notes.push(
      `${result.viewersConnected} of ${result.viewers} viewers connected in ${fixed(result.viewerRampSeconds)} s` +
        `${result.viewersFailed ? ` (${result.viewersFailed} failed: ${result.viewerFailures?.slice(0, 3).join('; ')})` : ''}; ` +
        `their snapshot: ${fixed((result.snapshotBytes ?? NaN) / 1024)} KB, ${result.snapshotPlayers} players; ` +
        `${result.rampStaleIds ?? 0} events with an id below the one before (older than the snapshot, sent after it) on ${result.rampStaleViewers ?? 0} connections`,
    );
  const ramp = result.viewerRamp;
  if (ramp !== undefined)
    notes.push(
      `while they connected (${fixed(ramp.seconds)} s from starting the viewer process): players' tick p99/max ${fixed(ramp.tick?.p99)}/${fixed(ramp.tick?.max)} ms, ` +
        `latency p99/max ${fixed(ramp.latency?.p99)}/${fixed(ramp.latency?.max)} ms, server CPU ${fixed(ramp.cpuPercent, 0)} %; ` +
        `updates propagated as before again ${fixed(result.viewerSettleSeconds)} s after the last viewer connected`,
    );
  if (watched?.stream !== undefined) {
    const byName = Object.entries(watched.stream.eventsByName)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    notes.push(
      `events in the "${watched.name}" window, all viewers: ${byName}; ${watched.stream.heartbeats} keep-alives`,
    );
    if (watched.stream.closeReasons.length > 0) notes.push(`viewers closed: ${watched.stream.closeReasons.join(', ')}`);
  }
  if (result.saysFailed > 0) notes.push(`${result.saysFailed} says failed (${result.sayError})`);
  if (result.liveMetrics !== undefined)
    notes.push(
      `/metrics at the end: ${Object.entries(result.liveMetrics)
        .map(([name, value]) => `${name} ${value}`)
        .join(', ')}`,
    );
  const serverLog = Object.entries(result.serverLog);
  if (serverLog.length > 0) notes.push(`server log: ${serverLog.map(([message, n]) => `${n}× ${message}`).join(', ')}`);
  if (result.error !== undefined) notes.push(`error: ${result.error}`);
  for (const note of notes) console.log(`  ${note}`);

  if (baseline?.tick !== undefined && watched?.tick !== undefined) {
    const tickDelta = watched.tick.p99 - baseline.tick.p99;
    const latencyDelta = (watched.latency?.p99 ?? Infinity) - (baseline.latency?.p99 ?? 0);
    const honestDropped = result.phases.reduce((total, phase) => total + phase.honestDropped, 0);
    const viewersLost = (result.viewersFailed ?? 0) + (watched.stream?.closedInWindow ?? 0);
    const met =
      tickDelta <= VIEWERS_MARGIN_MS && latencyDelta <= VIEWERS_MARGIN_MS && honestDropped === 0 && viewersLost === 0;
    const stream = watched.stream;
    console.log('');
    console.log(
      `${watched.viewers} viewers on /live with ${result.clients} clients playing: tick p99 ${fixed(baseline.tick.p99)} ms without, ${fixed(watched.tick.p99)} ms with (${signed(tickDelta)}); ` +
        `latency p99 ${fixed(baseline.latency?.p99)} ms without, ${fixed(watched.latency?.p99)} ms with (${signed(latencyDelta)}); ` +
        `server CPU ${signed((watched.cpuPercent ?? NaN) - (baseline.cpuPercent ?? NaN))} points` +
        (stream !== undefined
          ? `; each viewer got ${fixed(stream.events / Math.max(1, stream.open) / (stream.windowMs / 1000))} events/s, ` +
            `${fixed(stream.bytes / (stream.windowMs / 1000) / 2 ** 20, 2)} MB/s in all, message delay p50/p99 ${fixed(stream.delay?.p50)}/${fixed(stream.delay?.p99)} ms`
          : '') +
        `. Verdict (tick and latency p99 within ${VIEWERS_MARGIN_MS} ms, no player dropped, every viewer connected and kept): ${met ? 'met' : 'NOT met'}.`,
    );
  }
  const slow = result.slow;
  if (slow !== undefined) {
    const withSlow = result.phases.find((phase) => phase.slowViewers > 0);
    const growthMb = ((slow.rssMaxKb ?? NaN) - (slow.rssAtStartKb ?? NaN)) / 1024;
    const dropped = slow.droppedAfterSeconds !== undefined;
    console.log(
      `${slow.connected} viewers that never read: ` +
        (dropped
          ? `all dropped by the server after ${fixed(slow.droppedAfterSeconds, 0)} s`
          : `${slow.dropped} of ${slow.connected} dropped within ${options.slowViewerSeconds} s`) +
        `; the kernel held up to ${fixed(slow.kernelQueuedMaxBytes / 2 ** 20, 2)} MiB for one of them (server send queue + viewer receive queue); ` +
        `server RSS ${fixed((slow.rssAtStartKb ?? NaN) / 1024, 0)} MB when they connected, at most ${fixed((slow.rssMaxKb ?? NaN) / 1024, 0)} MB until dropped (${signed(growthMb)} MB); ` +
        (slow.endedByServer !== undefined
          ? `read afterwards, ${slow.endedByServer} streams had been ended by the server (${slow.stillOpen} still open), ${(slow.bytesEach ?? []).map((bytes) => fixed(bytes / 2 ** 20, 2)).join(', ')} MiB received each`
          : '') +
        (withSlow?.tick !== undefined && baseline?.tick !== undefined
          ? `; tick p99 with them ${fixed(withSlow.tick.p99)} ms (${signed(withSlow.tick.p99 - baseline.tick.p99)} against no viewers)`
          : '') +
        `. Verdict (every slow viewer dropped, server memory grew by less than ${slow.connected} MiB + 16 MB): ` +
        `${dropped && growthMb < slow.connected + 16 ? 'met' : 'NOT met'}.`,
    );
  }
}

// -------------------------------------------------------------------------------------------------

async function main(args: string[]): Promise<number> {
  let options: Options | undefined;
  try {
    options = readOptions(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`bench: ${error.message}\nRun with --help for usage.`);
      return 2;
    }
    throw error;
  }
  if (options === undefined) {
    console.log(USAGE);
    return 0;
  }
  if (!serverBuilt()) {
    console.error(
      `bench: the server is not built (${serverEntry()} is missing); run it with \`npm run bench\`, which builds first`,
    );
    return 1;
  }

  const largest =
    (options.soakMinutes !== undefined || options.resilience || options.race || options.viewers !== undefined) &&
    !options.clientsGiven
      ? options.soakMinutes !== undefined
        ? 300
        : 500
      : options.soakMinutes !== undefined || options.resilience || options.viewers !== undefined
        ? options.clients[0]!
        : Math.max(...options.clients);
  const limit = openFileLimit();
  // The generator holds a TCP and a UDP socket per client; the server a TCP socket per client
  // and one per /live viewer (`--viewers`).
  const viewerCount = options.viewers === undefined ? 0 : options.viewers + options.slowViewers;
  const serverDescriptors = largest + 32 + viewerCount;
  const descriptorsNeeded = Math.max(2 * largest + 64, serverDescriptors);
  log(
    `machine: ${cpus().length} CPUs (${cpuModel()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`,
  );
  log(
    `open-file limit ${limit ?? 'unknown'}; the largest step needs about ${2 * largest + 64} in the load generator and ${serverDescriptors} in the server`,
  );
  if (limit !== undefined && limit < descriptorsNeeded) {
    console.error(
      `bench: the open-file limit (${limit}) is too low for ${largest} clients; raise it (ulimit -n ${descriptorsNeeded}) or use fewer clients`,
    );
    return 1;
  }

  // A hard ceiling for the whole run: every step's own waits are bounded, this catches the rest.
  const setupMs = (n: number) => 10_000 + 30_000 + 30_000 + n * 40 + options.warmup * 1000 + 40_000;
  const budgetMs =
    options.soakMinutes !== undefined
      ? 60_000 + setupMs(largest) + options.soakMinutes * 60_000 + 30_000
      : options.resilience
        ? 60_000 + setupMs(largest) + 3 * options.attackSeconds * 1000 + 90_000
        : options.viewers !== undefined
          ? setupMs(largest) +
            3 * options.seconds * 1000 +
            4 * options.mapChangeSeconds * 1000 +
            60_000 +
            options.viewers * 100 +
            (options.slowViewers > 0 ? options.slowViewerSeconds * 1000 + 60_000 : 0) +
            150_000
          : options.race
            ? (options.clientsGiven ? options.clients : [500]).reduce(
                (total, n) =>
                  total +
                  setupMs(n) +
                  3 * options.seconds * 1000 +
                  options.raceCountdown * 1000 +
                  4 * options.mapChangeSeconds * 1000 +
                  150_000,
                60_000,
              )
            : options.clients.reduce((total, n) => total + setupMs(n) + options.seconds * 1000, 60_000);
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${Math.round(budgetMs / 1000)} s; stopping everything`);
    killEverythingNow();
    process.exit(1);
  }, budgetMs);
  watchdog.unref();

  if (options.soakMinutes !== undefined) {
    const code = await runSoak(options, options.soakMinutes);
    clearTimeout(watchdog);
    return code;
  }
  if (options.resilience) {
    const code = await runResilience(options);
    clearTimeout(watchdog);
    return code;
  }
  if (options.race) {
    const code = await runRace(options);
    clearTimeout(watchdog);
    return code;
  }
  if (options.viewers !== undefined) {
    const code = await runViewers(options, options.viewers);
    clearTimeout(watchdog);
    return code;
  }

  log(
    `steps ${options.clients.join(', ')}; ${options.warmup} s warm-up + ${options.seconds} s measured each; ` +
      `${options.rate} updates/s per client; server tick ${options.tickMs} ms` +
      (options.serverConfig.length > 0 ? `; server settings ${options.serverConfig.join(', ')}` : ''),
  );
  const results: StepResult[] = [];
  for (const clients of options.clients) {
    const result = await runStep(options, clients);
    results.push(result);
    log(
      `${clients} clients: tick p99 ${fixed(result.tickInterval?.p99)} ms, latency p99 ${fixed(result.latency?.p99)} ms, ` +
        `server CPU ${fixed(result.serverCpuPercent, 0)} %, dropped ${result.dropped} → ${result.held ? 'held' : 'did NOT hold'}`,
    );
    if (!result.held && options.stopAfterFail) break;
    await sleep(1000);
  }
  clearTimeout(watchdog);

  console.log('');
  console.log(resultsTable(results));
  console.log('');
  console.log('Load generator and measurement health:');
  console.log(healthTable(results));
  for (const result of results) {
    const notes: string[] = [];
    if (result.error) notes.push(`error: ${result.error}`);
    if (result.connectFailures > 0)
      notes.push(
        `${result.connectFailures} could not connect (${result.connectFailureSamples.slice(0, 3).join('; ')})`,
      );
    if (result.dropReasons.length > 0) notes.push(`drops seen by the generator: ${result.dropReasons.join(', ')}`);
    if (result.serverDisconnectBroadcasts > 0)
      notes.push(`server announced ${result.serverDisconnectBroadcasts} departures`);
    if (result.serverSawClients !== 0 && result.serverSawClients !== result.connected)
      notes.push(`last bulk update listed ${result.serverSawClients} clients`);
    const serverLog = Object.entries(result.serverLog);
    if (serverLog.length > 0)
      notes.push(`server log: ${serverLog.map(([message, n]) => `${n}× ${message}`).join(', ')}`);
    if (notes.length > 0) console.log(`  ${result.clients}: ${notes.join('; ')}`);
  }
  const held = results.filter((result) => result.held).map((result) => result.clients);
  const best = held.length > 0 ? Math.max(...held) : undefined;
  console.log('');
  console.log(
    `Largest N that held the target (tick interval p99 ≤ ${options.targetP99Ms} ms, no client dropped): ` +
      (best === undefined ? 'none of the steps' : String(best)),
  );
  const marginal = marginalKbPerClient(results);
  if (marginal !== undefined) console.log(marginal);
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      JSON.stringify(
        {
          machine: { cpus: cpus().length, model: cpuModel(), memoryBytes: totalmem(), node: process.version },
          options,
          results,
          largestHeld: best ?? null,
        },
        null,
        2,
      ),
    );
  }
  // A step that did not hold is a result; a step that could not run is a failure of the run.
  return results.some((result) => result.error !== undefined) ? 1 : 0;
}

process.on('exit', killEverythingNow);
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    log(`${name}: stopping the server and the load generator`);
    killEverythingNow();
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench: unexpected error:', error);
    killEverythingNow();
    process.exit(1);
  },
);
