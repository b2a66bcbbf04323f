/**
 * One TCP connection, from accept to close. Before it joins it is a small state machine:
 *
 *   handshake ──first frame──▶ admitting ──admitted──▶ joined
 *       │                          │
 *       └─ timeout, oversized ─────┴─ refused, flood ──▶ closed
 *
 * In `handshake` only a CONNECT within `handshake_timeout_ms` is accepted (a partial frame does
 * not stop the clock). While `admitting` (admission checks may be asynchronous) a few early
 * packets are kept and replayed in order once the client has joined. Once `joined`, every frame
 * goes to the packet path (inbound.ts).
 *
 * `Connections` accepts sockets, enforces the per-address cap, and closes them all at shutdown.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { EventBus } from '../events.js';
import type { Admission } from './admission.js';
import { normaliseAddress, type GhostClient } from './client.js';
import type { Inbound } from './inbound.js';
import { FrameDecoder } from './protocol/framing.js';
import { decodeClientPacket, HEADER_NAMES, type ConnectRequest } from './protocol/packets.js';
import type { Refusal, RefusalCode } from './refusals.js';
import type { Roster } from './roster.js';
import type { ServerStats } from './stats.js';

/** How many packets a client may send while its CONNECT is still being admitted. */
export const MAX_FRAMES_BEFORE_JOIN = 64;
/** The receive budget is spent in windows this long (a tenth of `max_receive_bytes_per_second` each). */
const RECEIVE_WINDOWS_PER_SECOND = 10;
const RECEIVE_WINDOW_MS = 1000 / RECEIVE_WINDOWS_PER_SECOND;

export interface ConnectionSettings {
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  maxConnectionsPerAddress: number;
  /** Bytes a connection may send per second (spent a tenth at a time) before the server pauses reading it; 0 = no limit. */
  maxReceiveBytesPerSecond: number;
}

export interface ConnectionDeps {
  settings: ConnectionSettings;
  admission: Admission;
  roster: Roster;
  inbound: Inbound;
  stats: ServerStats;
  log: Logger;
  bus: EventBus;
  /** Whether the server still takes connections (false once it is stopping). */
  isOpen(): boolean;
}

type Phase = 'handshake' | 'admitting' | 'joined';

class Connection {
  private phase: Phase = 'handshake';
  private client: GhostClient | undefined;
  private readonly earlyFrames: Buffer[] = [];
  private readonly decoder: FrameDecoder;
  private readonly handshakeTimer: NodeJS.Timeout;
  /** The current one-second window of the receive budget. */
  private windowStartedAt = 0;
  private windowBytes = 0;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly address: string,
    private readonly deps: ConnectionDeps,
    private readonly refuse: (socket: Socket, address: string, refusal: Refusal, request?: ConnectRequest) => void,
  ) {
    const { handshakeTimeoutMs, maxFrameBytes } = deps.settings;
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.handshakeTimer = setTimeout(
      () => this.refuseWith('handshake_timeout', `no CONNECT within ${handshakeTimeoutMs} ms`),
      handshakeTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => deps.log.debug({ err: error, address, id: this.client?.id }, 'socket error'));
  }

  /** The socket closed, whatever closed it. */
  onClose(): void {
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.resumeTimer);
    if (this.client !== undefined) this.deps.roster.remove(this.client, 'closed');
  }

  private onData(chunk: Buffer): void {
    this.deps.stats.bytesIn += chunk.length;
    const error = this.decoder.push(chunk, (payload) => this.onFrame(payload));
    if (error !== undefined && !this.socket.destroyed) {
      const detail = `frame of ${error.declared} bytes is over max_frame_bytes (${error.limit})`;
      if (this.client !== undefined) this.deps.roster.remove(this.client, 'protocol', detail);
      else this.refuseWith('oversized_frame', detail);
      return;
    }
    this.spendReceiveBudget(chunk.length);
  }

  /**
   * Per-packet rate limits drop what a flood carries, but reading and framing it still costs the
   * main thread. Past its byte budget, a connection is simply not read until its window is over:
   * TCP's flow control then holds the sender back in its own kernel. The budget is counted in
   * tenths of a second, so that a flood is read in small bites rather than one large one each
   * second, which would hold everyone else's tick up while it is framed.
   */
  private spendReceiveBudget(bytes: number): void {
    const perSecond = this.deps.settings.maxReceiveBytesPerSecond;
    if (perSecond === 0 || this.socket.destroyed) return;
    const now = performance.now();
    if (now - this.windowStartedAt >= RECEIVE_WINDOW_MS) {
      this.windowStartedAt = now;
      this.windowBytes = 0;
    }
    this.windowBytes += bytes;
    if (this.windowBytes <= perSecond / RECEIVE_WINDOWS_PER_SECOND || this.resumeTimer !== undefined) return;
    this.socket.pause();
    this.deps.stats.throttledReads++;
    if (this.client !== undefined) {
      this.deps.roster.reportViolation(
        this.client,
        'receive_throttled',
        `sent more than [limits] max_receive_bytes_per_second (${perSecond}); not read for a moment`,
      );
    }
    const resume = () => {
      this.resumeTimer = undefined;
      if (!this.socket.destroyed) this.socket.resume();
    };
    this.resumeTimer = setTimeout(resume, this.windowStartedAt + RECEIVE_WINDOW_MS - now);
  }

  private onFrame(payload: Buffer): void {
    if (this.socket.destroyed) return;
    switch (this.phase) {
      case 'joined':
        this.deps.inbound.onFrame(this.client!, payload);
        return;
      case 'admitting':
        if (this.earlyFrames.length >= MAX_FRAMES_BEFORE_JOIN) {
          this.refuseWith('flood', 'too many packets before the connect confirm');
        } else {
          // The decoder's buffer is reused: keep a copy.
          this.earlyFrames.push(Buffer.from(payload));
        }
        return;
      case 'handshake':
        clearTimeout(this.handshakeTimer);
        this.phase = 'admitting';
        this.admit(payload).catch((error: unknown) => {
          this.deps.log.error({ err: error, address: this.address }, 'admission failed');
          this.refuseWith('admission_error', 'admission failed');
        });
    }
  }

  private async admit(payload: Buffer): Promise<void> {
    this.deps.stats.countPacketIn(payload[0] ?? -1, payload.length + 4);
    const decoded = decodeClientPacket(payload);
    if (!decoded.ok) return this.refuseWith('bad_connect', `bad first packet: ${decoded.message}`);
    const request = decoded.packet;
    if (request.type !== 'connect') {
      const name = HEADER_NAMES[payload[0]!] ?? String(payload[0]);
      return this.refuseWith('not_connect', `first packet was ${name}, not CONNECT`);
    }
    const outcome = await this.deps.admission.decide(
      request,
      this.address,
      () => !this.socket.destroyed && this.deps.isOpen(),
    );
    if (outcome.admitted === 'abandoned') return;
    if (outcome.admitted === false) return this.refuse(this.socket, this.address, outcome.refusal, request);
    const client = this.deps.roster.join(this.socket, this.address, request);
    this.client = client;
    this.phase = 'joined';
    for (const early of this.earlyFrames.splice(0)) {
      if (this.socket.destroyed) break;
      this.deps.inbound.onFrame(client, early);
    }
  }

  private refuseWith(code: RefusalCode, reason: string): void {
    this.refuse(this.socket, this.address, { code, reason });
  }
}

export class Connections {
  private readonly open = new Map<Socket, Connection>();
  private readonly perAddress = new Map<string, number>();
  private onAllClosed: (() => void) | undefined;

  constructor(private readonly deps: ConnectionDeps) {}

  get count(): number {
    return this.open.size;
  }

  /** A socket the TCP listener accepted. */
  accept(socket: Socket): void {
    const address = normaliseAddress(socket.remoteAddress);
    if (!this.deps.isOpen()) {
      socket.destroy();
      return;
    }
    const count = this.perAddress.get(address) ?? 0;
    if (count >= this.deps.settings.maxConnectionsPerAddress) {
      this.refuse(socket, address, {
        code: 'too_many_connections',
        reason: `more than ${count} connections from this address`,
      });
      return;
    }
    this.perAddress.set(address, count + 1);
    const connection = new Connection(socket, address, this.deps, (...args) => this.refuse(...args));
    this.open.set(socket, connection);
    socket.on('close', () => {
      this.open.delete(socket);
      const remaining = (this.perAddress.get(address) ?? 1) - 1;
      if (remaining > 0) this.perAddress.set(address, remaining);
      else this.perAddress.delete(address);
      connection.onClose();
      if (this.open.size === 0) this.onAllClosed?.();
    });
  }

  /** Destroys every socket that has not joined (joined ones are closed through the roster). */
  destroyUnjoined(joined: ReadonlySet<Socket>): void {
    for (const socket of this.open.keys()) if (!joined.has(socket)) socket.destroy();
  }

  destroyAll(): void {
    for (const socket of this.open.keys()) socket.destroy();
  }

  /** Resolves once every socket has closed. */
  allClosed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.open.size === 0) resolve();
      else this.onAllClosed = resolve;
    });
  }

  /** Closes a connection that never joined, logging why. SAR just sees a time-out. */
  private refuse(socket: Socket, address: string, refusal: Refusal, request?: ConnectRequest): void {
    if (socket.destroyed) return;
    socket.destroy();
    this.deps.stats.countRefusal(refusal.code);
    const fields = {
      address,
      player: request?.name,
      spectator: request?.spectator,
      code: refusal.code,
      reason: refusal.reason,
    };
    if (request === undefined) {
      this.deps.log.warn(fields, 'connection refused');
    } else {
      this.deps.log.info(fields, 'client refused');
      this.deps.bus.emit('clientRefused', {
        name: request.name,
        address,
        spectator: request.spectator,
        code: refusal.code,
        reason: refusal.reason,
      });
    }
  }
}
