/**
 * A headless client that speaks to a ghost server the way SAR does: TCP for the handshake and
 * reliable packets, a UDP socket for updates, heartbeats answered automatically, countdowns
 * confirmed. The `npm run client` command, the tests and the benchmark all use it.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { encodeDataGhost, NO_PLAYER_GHOST, type GhostPose, type Vec3 } from '../ghost/protocol/data-ghost.js';
import { FrameDecoder, frame } from '../ghost/protocol/framing.js';
import {
  decodeConnectConfirm,
  decodeServerPacket,
  encodeClientPacket,
  type ClientPacket,
  type Color,
  type GhostEntity,
  type ServerPacket,
} from '../ghost/protocol/packets.js';

export interface SimClientOptions {
  host: string;
  port: number;
  name: string;
  spectator?: boolean;
  tcpOnly?: boolean;
  model?: string;
  map?: string;
  color?: Color;
  ghost?: Buffer;
  /** Local address for both sockets, e.g. 127.0.0.7, so many clients can have distinct IPs. */
  localAddress?: string;
  /** UDP port to announce in the connect request (default: the one actually bound). */
  announcedUdpPort?: number;
  /** Answer TCP and UDP heartbeats (default true). */
  answerHeartbeats?: boolean;
  /** Confirm countdown setups like SAR does (default true). */
  confirmCountdowns?: boolean;
  /** Keep received packets for `waitFor`/`received` (default true; off for load generation). */
  keepHistory?: boolean;
  connectTimeoutMs?: number;
}

export interface ReceivedPacket {
  packet: ServerPacket;
  transport: 'tcp' | 'udp';
  at: number;
}

const HISTORY_LIMIT = 5000;

export declare interface SimClient {
  on(event: 'packet', listener: (received: ReceivedPacket) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'problem', listener: (description: string) => void): this;
}

export class SimClient extends EventEmitter {
  id = 0;
  /** Every other client this one knows about, as SAR would track them. */
  readonly ghosts = new Map<number, GhostEntity>();
  readonly received: ReceivedPacket[] = [];
  /** Things the server sent that a SAR client could not have understood. */
  readonly problems: string[] = [];
  closed = false;
  map: string;

  private constructor(
    readonly options: SimClientOptions,
    private readonly tcp: Socket,
    readonly udp: UdpSocket | undefined,
  ) {
    super();
    this.map = options.map ?? '';
  }

  /** Connects and resolves once the server's confirm has arrived (rejects on refusal/time-out). */
  static async connect(options: SimClientOptions): Promise<SimClient> {
    const udp = options.tcpOnly ? undefined : await bindUdp(options.localAddress);
    const tcp = connectTcp({
      host: options.host,
      port: options.port,
      noDelay: true,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    const client = new SimClient(options, tcp, udp);
    try {
      await client.handshake();
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  private handshake(): Promise<void> {
    const options = this.options;
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    return new Promise((resolve, reject) => {
      let confirmed = false;
      const timer = setTimeout(() => reject(new Error(`no connect confirm within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (!confirmed) reject(error);
        else if (!this.closed) this.reportError(error.message);
      };
      this.tcp.on('error', (error) => {
        if (!confirmed) fail(error);
      });
      this.tcp.on('close', () => {
        this.closed = true;
        this.closeUdp();
        fail(new Error('connection closed by the server'));
        this.emit('close');
      });
      this.tcp.on('connect', () => {
        this.sendTcp({
          type: 'connect',
          udpPort: options.announcedUdpPort ?? this.udp?.address().port ?? 0,
          name: options.name,
          ghost: options.ghost ?? NO_PLAYER_GHOST,
          model: options.model ?? 'models/props/food_can/food_can_open.mdl',
          map: this.map,
          tcpOnly: options.tcpOnly ?? false,
          color: options.color ?? { r: 255, g: 128, b: 0 },
          spectator: options.spectator ?? false,
        });
      });
      this.tcp.on('data', (chunk: Buffer) => {
        const error = decoder.push(chunk, (payload) => {
          if (confirmed) {
            this.onPacket(payload, 'tcp');
            return;
          }
          const decoded = decodeConnectConfirm(payload);
          if (!decoded.ok) return fail(new Error(`bad connect confirm: ${decoded.message}`));
          confirmed = true;
          clearTimeout(timer);
          this.id = decoded.packet.id;
          for (const ghost of decoded.packet.ghosts) this.ghosts.set(ghost.id, ghost);
          resolve();
        });
        if (error !== undefined) fail(new Error(`oversized frame from server (${error.declared} bytes)`));
      });
      this.udp?.on('message', (datagram) => this.onPacket(datagram, 'udp'));
    });
  }

  private reportError(description: string): void {
    if (this.problems.length < 100) this.problems.push(description);
    this.emit('problem', description);
  }

  private onPacket(payload: Buffer, transport: 'tcp' | 'udp'): void {
    const decoded = decodeServerPacket(payload);
    if (!decoded.ok) {
      this.reportError(`bad packet from server over ${transport}: ${decoded.message}`);
      return;
    }
    const packet = decoded.packet;
    this.track(packet, transport);
    const received = { packet, transport, at: performance.now() };
    if (this.options.keepHistory ?? true) {
      this.received.push(received);
      if (this.received.length > HISTORY_LIMIT) this.received.splice(0, this.received.length - HISTORY_LIMIT);
    }
    this.emit('packet', received);
  }

  /** Keeps the ghost list current and answers what SAR answers automatically. */
  private track(packet: ServerPacket, transport: 'tcp' | 'udp'): void {
    switch (packet.type) {
      case 'connect':
        this.ghosts.set(packet.entity.id, packet.entity);
        break;
      case 'disconnect':
        this.ghosts.delete(packet.id);
        break;
      case 'map_change': {
        const ghost = this.ghosts.get(packet.id);
        if (ghost) ghost.map = packet.map;
        break;
      }
      case 'model_change': {
        const ghost = this.ghosts.get(packet.id);
        if (ghost) ghost.model = packet.model;
        break;
      }
      case 'color_change': {
        const ghost = this.ghosts.get(packet.id);
        if (ghost) ghost.color = packet.color;
        break;
      }
      case 'bulk_update':
        for (const entry of packet.entries) {
          const ghost = this.ghosts.get(entry.id);
          if (ghost) ghost.ghost = entry.ghost;
        }
        break;
      case 'heartbeat':
        if (this.options.answerHeartbeats ?? true) {
          const answer: ClientPacket = { type: 'heartbeat', id: this.id, token: packet.token };
          if (transport === 'udp') this.sendUdp(answer);
          else this.sendTcp(answer);
        }
        break;
      case 'countdown_setup':
        if (this.options.confirmCountdowns ?? true) this.sendTcp({ type: 'countdown_confirm', id: this.id, step: 1 });
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Waiting for packets (tests)

  /**
   * Resolves with the first packet matching `predicate`, looking at history from index `since`
   * (default: everything kept so far) and then at what arrives, for at most `timeoutMs`.
   */
  waitFor<T extends ServerPacket>(
    predicate: (packet: ServerPacket, transport: 'tcp' | 'udp') => packet is T,
    timeoutMs?: number,
    since?: number,
  ): Promise<T>;
  waitFor(
    predicate: (packet: ServerPacket, transport: 'tcp' | 'udp') => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<ServerPacket>;
  waitFor(
    predicate: (packet: ServerPacket, transport: 'tcp' | 'udp') => boolean,
    timeoutMs = 2000,
    since = 0,
  ): Promise<ServerPacket> {
    for (const received of this.received.slice(since)) {
      if (predicate(received.packet, received.transport)) return Promise.resolve(received.packet);
    }
    return new Promise((resolve, reject) => {
      const onPacket = (received: ReceivedPacket) => {
        if (!predicate(received.packet, received.transport)) return;
        cleanup();
        resolve(received.packet);
      };
      const onClose = () => {
        cleanup();
        reject(new Error(`connection of ${this.options.name} closed while waiting for a packet`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.options.name}: no matching packet within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('packet', onPacket);
        this.off('close', onClose);
      };
      this.on('packet', onPacket);
      this.on('close', onClose);
    });
  }

  /** Resolves once the server has closed this client's connection. */
  waitForClose(timeoutMs = 2000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.options.name}: still connected after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Index to pass as `since` to only consider packets received after this call. */
  mark(): number {
    return this.received.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Sending, as SAR does

  sendTcp(packet: ClientPacket): void {
    this.sendTcpPayload(encodeClientPacket(packet));
  }

  sendTcpPayload(payload: Buffer): void {
    if (!this.tcp.destroyed) this.tcp.write(frame(payload));
  }

  /** Raw bytes on the TCP stream, no framing added (for malformed-input tests). */
  sendTcpBytes(bytes: Buffer): void {
    if (!this.tcp.destroyed) this.tcp.write(bytes);
  }

  sendUdp(packet: ClientPacket): void {
    this.sendUdpPayload(encodeClientPacket(packet));
  }

  sendUdpPayload(payload: Buffer): void {
    if (this.udp === undefined || this.closed) return;
    this.udp.send(payload, this.options.port, this.options.host);
  }

  /** UPDATE by UDP, or by TCP when this client is TCP-only (as SAR does). */
  sendUpdate(ghost: Buffer | GhostPose): void {
    const packet: ClientPacket = {
      type: 'update',
      id: this.id,
      ghost: Buffer.isBuffer(ghost) ? ghost : encodeDataGhost(ghost),
    };
    if (this.options.tcpOnly) this.sendTcp(packet);
    else this.sendUdp(packet);
  }

  sendMessage(text: string): void {
    this.sendTcp({ type: 'message', id: this.id, text });
  }

  changeMap(map: string, ticks = 0xffffffff, ticksTotal = 0xffffffff): void {
    this.map = map;
    this.sendTcp({ type: 'map_change', id: this.id, map, ticks, ticksTotal });
  }

  changeModel(model: string): void {
    this.sendTcp({ type: 'model_change', id: this.id, model });
  }

  changeColor(color: Color): void {
    this.sendTcp({ type: 'color_change', id: this.id, color });
  }

  finishSpeedrun(time: string): void {
    this.sendTcp({ type: 'speedrun_finish', id: this.id, time });
  }

  taunt(animation: string): void {
    this.sendTcp({ type: 'taunt', id: this.id, animation });
  }

  locator(position: Vec3, normal: Vec3): void {
    this.sendTcp({ type: 'locator', id: this.id, position, normal });
  }

  /** VOICE goes by UDP like SAR's, or TCP for a TCP-only client. */
  voice(data: Buffer): void {
    const packet: ClientPacket = { type: 'voice', id: this.id, data };
    if (this.options.tcpOnly) this.sendTcp(packet);
    else this.sendUdp(packet);
  }

  ping(): void {
    this.sendTcp({ type: 'ping', id: this.id });
  }

  /**
   * Sends a PING and resolves when its answer arrives. TCP keeps order both ways, so by then the
   * server has handled everything this client sent before, and everything the server sent this
   * client before answering has arrived: a barrier, instead of sleeping and hoping.
   */
  async roundTrip(timeoutMs = 2000): Promise<void> {
    const since = this.mark();
    this.ping();
    await this.waitFor((packet) => packet.type === 'ping', timeoutMs, since);
  }

  /** Says goodbye like SAR's ghost_disconnect, then closes. */
  disconnect(): void {
    this.sendTcp({ type: 'disconnect', id: this.id });
    this.tcp.end();
  }

  /** Closes both sockets without a DISCONNECT (like a crash or a lost connection). */
  close(): void {
    if (!this.tcp.destroyed) this.tcp.destroy();
    this.closed = true;
    this.closeUdp();
  }

  private udpClosed = false;

  private closeUdp(): void {
    if (this.udpClosed || this.udp === undefined) return;
    this.udpClosed = true;
    this.udp.close();
  }
}

function bindUdp(localAddress: string | undefined): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: 0, ...(localAddress !== undefined ? { address: localAddress } : {}) }, () => {
      socket.off('error', reject);
      socket.on('error', () => {
        // A send to a closed server port; the TCP side reports the real state.
      });
      resolve(socket);
    });
  });
}

// -------------------------------------------------------------------------------------------------
// SAR's speedrun timer as the ghost protocol reports it (`npm run client`, the benchmark's races)

/** MAP_CHANGE's `ticks` and `ticksTotal` until SAR's timer has made a split (−1 as signed). */
export const NO_SPLIT = 0xffffffff;
/** Portal 2's game ticks per second: the unit of MAP_CHANGE's split fields. */
export const TICKS_PER_SECOND = 60;

/**
 * A time as SAR prints a run's time, which SPEEDRUN_FINISH carries: "7.250" under a minute,
 * "1:02.345" under an hour, "1:02:03.456" beyond.
 */
export function formatSarTime(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0;
  const millis = String(total % 1000).padStart(3, '0');
  const seconds = Math.floor(total / 1000) % 60;
  const minutes = Math.floor(total / 60_000) % 60;
  const hours = Math.floor(total / 3_600_000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (hours > 0) return `${hours}:${two(minutes)}:${two(seconds)}.${millis}`;
  if (minutes > 0) return `${minutes}:${two(seconds)}.${millis}`;
  return `${seconds}.${millis}`;
}

/** What a MAP_CHANGE says of the run: the split of the map left, and the run so far, in ticks. */
export interface SplitTicks {
  ticks: number;
  ticksTotal: number;
}

/**
 * SAR's split timer, simplified: it runs from `start` (a countdown's go, or a new game), splits
 * on every map the run has not visited yet (SAR's smart split: a reload, or a map visited
 * before, sends the previous values again), and stops at the finish. Times are
 * `performance.now()` milliseconds; splits are whole ticks whose sum is always the total.
 */
export class SplitTimer {
  private startedAt: number | undefined;
  private stoppedAt: number | undefined;
  private readonly visited = new Set<string>();
  /** The values the last MAP_CHANGE carried ({@link NO_SPLIT} until the first split). */
  last: SplitTicks = { ticks: NO_SPLIT, ticksTotal: NO_SPLIT };

  get running(): boolean {
    return this.startedAt !== undefined && this.stoppedAt === undefined;
  }

  /** Starts a new run on `map` (forgetting the previous one). */
  start(now: number, map: string): void {
    this.startedAt = now;
    this.stoppedAt = undefined;
    this.visited.clear();
    if (map !== '') this.visited.add(map);
    this.last = { ticks: NO_SPLIT, ticksTotal: NO_SPLIT };
  }

  /** The run's time so far in ticks (0 before it started). */
  elapsedTicks(now: number): number {
    if (this.startedAt === undefined) return 0;
    return Math.max(0, Math.round((((this.stoppedAt ?? now) - this.startedAt) * TICKS_PER_SECOND) / 1000));
  }

  /** What a MAP_CHANGE to `map` carries at `now`; splits if the run is going and `map` is new to it. */
  enter(map: string, now: number): SplitTicks {
    if (!this.running || this.visited.has(map)) return this.last;
    this.visited.add(map);
    const ticksTotal = this.elapsedTicks(now);
    const before = this.last.ticksTotal === NO_SPLIT ? 0 : this.last.ticksTotal;
    this.last = { ticks: Math.max(0, ticksTotal - before), ticksTotal };
    return this.last;
  }

  /** Records values given by hand for a MAP_CHANGE to `map`. */
  record(map: string, split: SplitTicks): void {
    this.visited.add(map);
    this.last = split;
  }

  /** Stops the run; its time as SAR formats it, or undefined if it was not running. */
  finish(now: number): string | undefined {
    if (!this.running) return undefined;
    const ticks = this.elapsedTicks(now);
    this.stoppedAt = now;
    return formatSarTime((ticks * 1000) / TICKS_PER_SECOND);
  }
}
