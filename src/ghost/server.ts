/**
 * The ghost server: one TCP listener and one UDP socket on the same port, the registry of
 * joined clients, and the tick that sends bulk updates, heartbeats and UDP keep-alives.
 *
 * Life of a connection: TCP accept → (per-IP cap) → the first frame must be CONNECT within the
 * handshake timeout → admission checks → id assigned, confirm sent to the newcomer, CONNECT
 * broadcast to everyone else → packets handled by `handlers.ts` → removal, announced to the
 * others exactly once.
 *
 * Nothing here waits on a client: writes are buffered by the socket, and a client whose buffer
 * passes `max_send_buffer_bytes` is dropped rather than slowing anyone else down.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIP, createServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Config } from '../config.js';
import { EventBus, type ClientInfo } from '../events.js';
import { silentLogger, type Logger } from '../logger.js';
import { GhostClient, normaliseAddress } from './client.js';
import { GhostTable } from './ghost-table.js';
import { handlePacket, type HandlerContext } from './handlers.js';
import { FrameDecoder, frame, LENGTH_PREFIX_SIZE } from './protocol/framing.js';
import {
  decodeClientPacket,
  encodeConnectConfirm,
  encodeServerPacket,
  Header,
  HEADER_NAMES,
  UPDATE_GHOST_OFFSET,
  UPDATE_PACKET_SIZE,
  type ConnectRequest,
} from './protocol/packets.js';
import { outgoingName, ServerStats, type DropCode } from './stats.js';
import { Ticker } from './ticker.js';
import { FanoutBindError, UdpFanout } from './udp-fanout.js';
import { literalAddressLookup } from './udp-lookup.js';
import { WriteBatcher } from './write-batcher.js';

/** Decides whether a connect request may join; returns a refusal reason, or undefined to allow. */
export type AdmissionCheck = (
  request: Readonly<ConnectRequest>,
  address: string,
) => string | undefined | Promise<string | undefined>;

/** What a chat filter decides: relay as is, relay other text, or drop (e.g. a chat command). */
export type ChatVerdict = { action: 'allow' } | { action: 'rewrite'; text: string } | { action: 'drop' };

/**
 * Looks at a chat message before it is relayed. Filters run in the order they were added; the
 * first that rewrites changes the text the later ones see, the first that drops ends it.
 */
export type ChatFilter = (client: ClientInfo, text: string) => ChatVerdict | Promise<ChatVerdict>;

/** Decides whether a countdown may start; returns a refusal reason, or undefined to allow. */
export type CountdownCheck = (countdown: {
  duration: number;
  preCommands: string;
  postCommands: string;
}) => string | undefined | Promise<string | undefined>;

export interface CountdownOptions {
  duration?: number;
  preCommands?: string;
  postCommands?: string;
}

export interface GhostServerOptions {
  config: Pick<Config, 'server' | 'timing' | 'limits' | 'countdown'>;
  logger?: Logger;
  bus?: EventBus;
}

export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
}

/** Only UPDATE, HEART_BEAT and VOICE travel by UDP; anything else arriving there is dropped. */
const UDP_HEADERS = new Set<number>([Header.Update, Header.HeartBeat, Header.Voice]);
/** How many packets a client may send while its CONNECT is still being admitted. */
const MAX_FRAMES_BEFORE_JOIN = 64;
/** A TCP-only client this far behind skips bulk updates until it catches up: stale positions are worthless. */
const BULK_BACKLOG_SKIP_BYTES = 64 * 1024;
const SHUTDOWN_MESSAGE = 'The server is shutting down.';

const DROP_TEXT: Record<DropCode, string> = {
  left: 'disconnected',
  closed: 'connection closed',
  heartbeat: 'missed two heartbeats',
  slow_reader: 'not reading: send buffer full',
  protocol: 'protocol error',
  kicked: 'kicked',
  shutdown: 'server shutting down',
};

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export class GhostServer implements HandlerContext {
  readonly bus: EventBus;
  readonly log: Logger;
  readonly stats = new ServerStats();
  readonly voiceGraceMs: number;

  private readonly config: GhostServerOptions['config'];
  private readonly clients = new Map<number, GhostClient>();
  private readonly sockets = new Set<Socket>();
  private readonly connectionsPerAddress = new Map<string, number>();
  private readonly table = new GhostTable();
  private readonly admissionChecks: AdmissionCheck[] = [];
  private readonly chatFilters: ChatFilter[] = [];
  private readonly countdownChecks: CountdownCheck[] = [];
  private countdownGoTimer: NodeJS.Timeout | undefined;
  private readonly writes = new WriteBatcher<GhostClient>((client) => this.checkBacklog(client));
  private readonly ticker: Ticker;
  private tcp: TcpServer | undefined;
  private udp: UdpSocket | undefined;
  /** Send threads for the bulk updates; undefined when `send_threads` is 0. */
  private fanout: UdpFanout | undefined;
  private boundPort = 0;
  private nextId = 1;
  private state: State = 'idle';
  private stopped: Promise<void> | undefined;
  private onSocketsClosed: (() => void) | undefined;

  acceptingPlayers: boolean;
  acceptingSpectators: boolean;

  constructor(options: GhostServerOptions) {
    this.config = options.config;
    this.log = (options.logger ?? silentLogger()).child({ module: 'ghost' });
    this.bus =
      options.bus ?? new EventBus((event, error) => this.log.error({ err: error, event }, 'event listener failed'));
    this.acceptingPlayers = this.config.server.accept_players;
    this.acceptingSpectators = this.config.server.accept_spectators;
    this.voiceGraceMs = this.config.timing.voice_grace_ms;
    const timing = this.config.timing;
    this.ticker = new Ticker(timing.tick_interval_ms, () => this.tick());
    this.admissionChecks.push((request) => this.checkBuiltInAdmission(request));
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Binds TCP and UDP on the configured port (port 0: any free port, the same for both). */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new ServerStartError('the server was already started');
    this.state = 'starting';
    const { hostname, port } = this.config.server;
    const attempts = port === 0 ? 20 : 1;
    for (let attempt = 1; ; attempt++) {
      const tcp = createServer({ noDelay: true }, (socket) => this.onConnection(socket));
      await listenTcp(tcp, port, hostname);
      const tcpPort = (tcp.address() as { port: number }).port;
      try {
        // The send threads bind first, so that incoming datagrams go to the main socket.
        this.fanout = await this.startFanout(tcpPort, hostname);
        this.udp = await this.bindUdp(tcpPort, hostname);
      } catch (error) {
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        await this.fanout?.close();
        this.fanout = undefined;
        const code = error instanceof FanoutBindError ? error.code : (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && attempt < attempts) continue;
        this.state = 'stopped';
        throw new ServerStartError(`cannot bind UDP ${hostname}:${tcpPort}: ${describeSocketError(error)}`);
      }
      this.tcp = tcp;
      this.boundPort = tcpPort;
      break;
    }
    this.tcp.on('error', (error) => this.log.error({ err: error }, 'TCP listener error'));
    this.ticker.start();
    this.state = 'running';
    this.log.info({ hostname, port: this.boundPort }, 'ghost server listening (TCP and UDP)');
    this.bus.emit('serverStarted', { hostname, port: this.boundPort });
  }

  /** Tells clients, closes every socket (waiting at most `shutdown_timeout_ms`), and resolves. */
  stop(reason = 'shutdown'): Promise<void> {
    this.stopped ??= this.shutDown(reason);
    return this.stopped;
  }

  private async shutDown(reason: string): Promise<void> {
    if (this.state === 'idle' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.log.info({ reason, clients: this.clients.size }, 'ghost server stopping');
    this.bus.emit('serverStopping', { reason });
    this.ticker.stop();
    clearTimeout(this.countdownGoTimer);
    const listenerClosed = new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));

    const notice = frame(encodeServerPacket({ type: 'message', id: 0, text: SHUTDOWN_MESSAGE }));
    for (const client of this.clients.values()) {
      this.sendFramed(client, notice);
      client.leaving ??= DROP_TEXT.shutdown;
      client.socket.end();
    }
    const clientSockets = new Set([...this.clients.values()].map((client) => client.socket));
    for (const socket of this.sockets) if (!clientSockets.has(socket)) socket.destroy();

    const allClosed = new Promise<void>((resolve) => {
      if (this.sockets.size === 0) resolve();
      else this.onSocketsClosed = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.timing.shutdown_timeout_ms);
    });
    await Promise.race([allClosed, timedOut]);
    clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await listenerClosed;
    await new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve()));
    await this.fanout?.close();
    this.state = 'stopped';
    this.log.info({ reason }, 'ghost server stopped');
    this.bus.emit('serverStopped', { reason });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The port actually bound (differs from the configured one when that was 0). */
  get port(): number {
    return this.boundPort;
  }

  get hostname(): string {
    return this.config.server.hostname;
  }

  // ---------------------------------------------------------------------------------------------
  // Public operations (the admin console, Discord and plugins build on these)

  listClients(): ClientInfo[] {
    return [...this.clients.values()].map((client) => client.info());
  }

  getClient(id: number): ClientInfo | undefined {
    return this.clients.get(id)?.info();
  }

  /** The last DataGhost a client reported (25 bytes), e.g. for a status display. */
  getGhost(id: number): Buffer | undefined {
    return this.table.get(id);
  }

  addAdmissionCheck(check: AdmissionCheck): void {
    this.admissionChecks.push(check);
  }

  addChatFilter(filter: ChatFilter): void {
    this.chatFilters.push(filter);
  }

  addCountdownCheck(check: CountdownCheck): void {
    this.countdownChecks.push(check);
  }

  /**
   * Runs the countdown checks, then starts the countdown. Resolves with the refusal reason if a
   * check refused (the commands use this; `startCountdown` skips the checks).
   */
  async requestCountdown(
    options: CountdownOptions = {},
  ): Promise<{ started: ReturnType<GhostServer['startCountdown']> } | { refused: string }> {
    const countdown = {
      duration: options.duration ?? this.config.countdown.delay,
      preCommands: options.preCommands ?? this.config.countdown.pre_commands,
      postCommands: options.postCommands ?? this.config.countdown.post_commands,
    };
    for (const check of this.countdownChecks) {
      const reason = await check(countdown);
      if (reason !== undefined) {
        this.log.info({ reason }, 'countdown refused');
        return { refused: reason };
      }
    }
    return { started: this.startCountdown(countdown) };
  }

  setAcceptingPlayers(accept: boolean): void {
    this.acceptingPlayers = accept;
    this.log.info({ accept }, accept ? 'accepting players' : 'refusing new players');
  }

  setAcceptingSpectators(accept: boolean): void {
    this.acceptingSpectators = accept;
    this.log.info({ accept }, accept ? 'accepting spectators' : 'refusing new spectators');
  }

  /** Disconnects a client; returns false if no client has that id. */
  kick(id: number, reason?: string): boolean {
    const client = this.clients.get(id);
    if (client === undefined) return false;
    this.removeClient(client, 'kicked', reason);
    return true;
  }

  /** A MESSAGE from id 0 to every client; SAR shows it as coming from the server. */
  broadcastServerMessage(text: string): void {
    const framed = frame(encodeServerPacket({ type: 'message', id: 0, text }));
    for (const client of this.clients.values()) this.sendFramed(client, framed);
    this.log.info({ text }, 'server message');
    this.bus.emit('serverMessage', { text });
  }

  /** A server MESSAGE to one client only; returns false if no client has that id. */
  sendServerMessage(id: number, text: string): boolean {
    const client = this.clients.get(id);
    if (client === undefined) return false;
    this.sendFramed(client, frame(encodeServerPacket({ type: 'message', id: 0, text })));
    return true;
  }

  /**
   * Sends the countdown setup to every client. Each client confirms and gets "go" back at once;
   * SAR counts down locally. As with GhostServer, new players are refused from now on unless
   * `[countdown] refuse_new_players` is false.
   */
  startCountdown(options: CountdownOptions = {}): { duration: number; preCommands: string; postCommands: string } {
    const duration = options.duration ?? this.config.countdown.delay;
    if (!Number.isInteger(duration) || duration < 0 || duration > 0xffffffff) {
      throw new RangeError(`countdown duration must be a whole number of seconds, got ${duration}`);
    }
    const preCommands = options.preCommands ?? this.config.countdown.pre_commands;
    const postCommands = options.postCommands ?? this.config.countdown.post_commands;
    if (this.config.countdown.refuse_new_players && this.acceptingPlayers) {
      this.acceptingPlayers = false;
      this.log.info('refusing new players: a countdown started');
    }
    const framed = frame(encodeServerPacket({ type: 'countdown_setup', id: 0, duration, preCommands, postCommands }));
    for (const client of this.clients.values()) this.sendFramed(client, framed);
    this.log.info({ duration, preCommands, postCommands, clients: this.clients.size }, 'countdown started');
    const started = { duration, preCommands, postCommands };
    this.bus.emit('countdownStarted', started);
    // SAR counts down locally; "go" is when every client's countdown reaches zero.
    clearTimeout(this.countdownGoTimer);
    this.countdownGoTimer = setTimeout(() => this.bus.emit('countdownGo', started), duration * 1000);
    this.countdownGoTimer.unref();
    return started;
  }

  // ---------------------------------------------------------------------------------------------
  // Connections and the handshake

  private onConnection(socket: Socket): void {
    const address = normaliseAddress(socket.remoteAddress);
    if (this.state !== 'running') {
      socket.destroy();
      return;
    }
    const open = this.connectionsPerAddress.get(address) ?? 0;
    if (open >= this.config.limits.max_connections_per_ip) {
      this.refuse(
        socket,
        address,
        undefined,
        'too_many_connections',
        `more than ${open} connections from this address`,
      );
      return;
    }
    this.connectionsPerAddress.set(address, open + 1);
    this.sockets.add(socket);

    let client: GhostClient | undefined;
    let phase: 'handshake' | 'admitting' | 'joined' = 'handshake';
    const earlyFrames: Buffer[] = [];
    const decoder = new FrameDecoder(this.config.limits.max_frame_bytes);
    const handshakeMs = this.config.timing.handshake_timeout_ms;
    const handshakeTimer = setTimeout(
      () => this.refuse(socket, address, undefined, 'handshake_timeout', `no CONNECT within ${handshakeMs} ms`),
      handshakeMs,
    );

    const onFrame = (payload: Buffer) => {
      if (socket.destroyed) return;
      if (phase === 'joined') {
        this.onTcpPacket(client!, payload);
      } else if (phase === 'admitting') {
        if (earlyFrames.length >= MAX_FRAMES_BEFORE_JOIN) {
          this.refuse(socket, address, undefined, 'flood', 'too many packets before the connect confirm');
        } else {
          earlyFrames.push(Buffer.from(payload));
        }
      } else {
        clearTimeout(handshakeTimer);
        phase = 'admitting';
        this.admit(socket, address, payload).then(
          (joined) => {
            if (joined === undefined) return;
            client = joined;
            phase = 'joined';
            for (const early of earlyFrames.splice(0)) if (!socket.destroyed) this.onTcpPacket(joined, early);
          },
          (error: unknown) => {
            this.log.error({ err: error, address }, 'admission failed');
            this.refuse(socket, address, undefined, 'admission_error', 'admission check failed');
          },
        );
      }
    };

    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length;
      const error = decoder.push(chunk, onFrame);
      if (error === undefined || socket.destroyed) return;
      const detail = `frame of ${error.declared} bytes is over max_frame_bytes (${error.limit})`;
      if (client !== undefined) this.removeClient(client, 'protocol', detail);
      else this.refuse(socket, address, undefined, 'oversized_frame', detail);
    });
    socket.on('error', (error) => this.log.debug({ err: error, address, id: client?.id }, 'socket error'));
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      this.sockets.delete(socket);
      const remaining = (this.connectionsPerAddress.get(address) ?? 1) - 1;
      if (remaining > 0) this.connectionsPerAddress.set(address, remaining);
      else this.connectionsPerAddress.delete(address);
      if (client !== undefined) this.removeClient(client, 'closed');
      if (this.sockets.size === 0) this.onSocketsClosed?.();
    });
  }

  /** Closes a connection that never joined, logging why. SAR just sees a time-out. */
  private refuse(
    socket: Socket,
    address: string,
    request: ConnectRequest | undefined,
    code: string,
    detail: string,
  ): void {
    if (socket.destroyed) return;
    socket.destroy();
    this.stats.countRefusal(code);
    const fields = { address, player: request?.name, spectator: request?.spectator, reason: detail };
    if (request === undefined) {
      this.log.warn(fields, 'connection refused');
    } else {
      this.log.info(fields, 'client refused');
      this.bus.emit('clientRefused', { name: request.name, address, spectator: request.spectator, reason: detail });
    }
  }

  private async admit(socket: Socket, address: string, payload: Buffer): Promise<GhostClient | undefined> {
    this.stats.countPacketIn(payload[0] ?? -1, payload.length + 4);
    const decoded = decodeClientPacket(payload);
    if (!decoded.ok) {
      this.refuse(socket, address, undefined, 'bad_connect', `bad first packet: ${decoded.message}`);
      return undefined;
    }
    const request = decoded.packet;
    if (request.type !== 'connect') {
      const name = HEADER_NAMES[payload[0]!] ?? String(payload[0]);
      this.refuse(socket, address, undefined, 'not_connect', `first packet was ${name}, not CONNECT`);
      return undefined;
    }
    for (const check of this.admissionChecks) {
      const reason = await check(request, address);
      if (socket.destroyed || this.state !== 'running') return undefined;
      if (reason !== undefined) {
        this.refuse(socket, address, request, 'refused', reason);
        return undefined;
      }
    }
    // Other joins may have finished while asynchronous checks ran: the server may be full now.
    const late = this.checkBuiltInAdmission(request);
    if (late !== undefined) {
      this.refuse(socket, address, request, 'refused', late);
      return undefined;
    }
    return this.join(socket, address, request);
  }

  private checkBuiltInAdmission(request: ConnectRequest): string | undefined {
    if (request.spectator && !this.acceptingSpectators) return 'not accepting spectators';
    if (!request.spectator && !this.acceptingPlayers) return 'not accepting players';
    const max = this.config.limits.max_clients;
    if (max > 0 && this.clients.size >= max) return `server full (${max} clients)`;
    return undefined;
  }

  /** Assigns an id, sends the confirm, and tells everyone else, in that order. */
  private join(socket: Socket, address: string, request: ConnectRequest): GhostClient {
    const id = this.nextId++;
    const client = new GhostClient(
      id,
      request,
      address,
      socket,
      request.udpPort,
      this.config.limits.locator_per_second,
      this.config.limits.chat_per_second,
    );
    const others = [...this.clients.values()].map((other) => other.entity(this.table.get(other.id)!));
    this.sendFramed(client, frame(encodeConnectConfirm({ id, ghosts: others })), true);

    const announcement = frame(encodeServerPacket({ type: 'connect', entity: client.entity(request.ghost) }));
    for (const other of this.clients.values()) this.sendFramed(other, announcement);
    this.clients.set(id, client);
    this.table.add(id, request.ghost);
    if (!client.tcpOnly && client.udpPortKnown) this.fanout?.setEndpoint(id, client.udpAddress, client.udpPort);
    const now = performance.now();
    client.announcedAt = now;
    client.nextHeartbeatAt = now + this.config.timing.heartbeat_interval_ms;
    client.nextKeepAliveAt = now + this.config.timing.udp_keepalive_interval_ms;

    this.log.info(
      { id, player: client.name, address, spectator: client.spectator, tcpOnly: client.tcpOnly, map: client.map },
      'client connected',
    );
    this.bus.emit('clientConnected', { client: client.info() });
    return client;
  }

  /** Removes a client and tells the others, exactly once however many paths lead here. */
  removeClient(client: GhostClient, code: DropCode, detail?: string): void {
    if (this.clients.get(client.id) !== client) return;
    this.clients.delete(client.id);
    this.table.remove(client.id);
    if (!client.tcpOnly) this.fanout?.forget(client.id);
    const reason = detail ?? client.leaving ?? DROP_TEXT[code];
    client.leaving ??= reason;
    if (code === 'left' || code === 'kicked' || code === 'shutdown') {
      // A polite close lets queued packets out; the timer stops a non-reader from keeping it open.
      client.socket.end();
      setTimeout(() => client.socket.destroy(), 1000).unref();
    } else {
      client.socket.destroy();
    }

    if (this.state === 'running') {
      const departure = frame(encodeServerPacket({ type: 'disconnect', id: client.id }));
      for (const other of this.clients.values()) this.sendFramed(other, departure);
    }
    this.stats.countDroppedClient(code);
    const fields = { id: client.id, player: client.name, address: client.address, reason };
    if (code === 'left' || code === 'closed' || code === 'shutdown') this.log.info(fields, 'client disconnected');
    else this.log.warn(fields, 'client dropped');
    this.bus.emit('clientDisconnected', { client: client.info(), reason });
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming packets

  private onTcpPacket(client: GhostClient, payload: Buffer): void {
    if (client.leaving !== undefined) return;
    this.stats.countPacketIn(payload[0] ?? -1, payload.length + 4);
    const decoded = decodeClientPacket(payload);
    if (!decoded.ok) {
      if (decoded.error.kind === 'unknown_header') {
        // Possibly a newer SAR: ignore rather than cut the player off.
        this.reportViolation(client, 'unknown_header', decoded.message);
      } else {
        this.removeClient(client, 'protocol', decoded.message);
      }
      return;
    }
    const packet = decoded.packet;
    if ('id' in packet && packet.id !== client.id) {
      this.reportViolation(client, 'spoofed_id', `${packet.type} packet carries id ${packet.id}`);
      return;
    }
    handlePacket(this, client, packet, payload, 'tcp');
  }

  private onDatagram(datagram: Buffer, source: RemoteInfo): void {
    this.stats.countPacketIn(datagram[0] ?? -1, datagram.length);
    if (datagram.length < 5 || datagram.length > this.config.limits.max_frame_bytes) {
      this.stats.countDroppedPacket('udp_size');
      return;
    }
    const header = datagram[0]!;
    if (!UDP_HEADERS.has(header)) {
      this.stats.countDroppedPacket('udp_unexpected_type');
      return;
    }
    // Identity: the id must belong to a client whose TCP connection comes from this IP.
    const client = this.clients.get(datagram.readUInt32BE(1));
    if (client === undefined || client.address !== normaliseAddress(source.address)) {
      this.stats.countDroppedPacket('udp_unknown_sender');
      return;
    }
    if (client.leaving !== undefined) return;
    // NAT may rewrite the source port, so the latest valid datagram says where to send.
    if (client.udpPort !== source.port || client.udpAddress !== source.address) {
      client.udpAddress = source.address;
      client.udpPort = source.port;
      if (!client.tcpOnly) this.fanout?.setEndpoint(client.id, source.address, source.port);
    }
    if (header === Header.Update && datagram.length >= UPDATE_PACKET_SIZE) {
      // The hot path (20 a second from every player): the position is copied straight from
      // the datagram, with nothing decoded or allocated. Shorter ones take the path below.
      this.table.update(client.id, datagram, UPDATE_GHOST_OFFSET);
      return;
    }
    const decoded = decodeClientPacket(datagram);
    if (!decoded.ok) {
      // Not grounds to drop the client: anyone can forge a datagram from a shared address.
      this.stats.countDroppedPacket('udp_malformed');
      return;
    }
    handlePacket(this, client, decoded.packet, datagram, 'udp');
  }

  // ---------------------------------------------------------------------------------------------
  // HandlerContext: what packet handlers may do

  relayToOthers(sender: GhostClient, payload: Buffer): void {
    const framed = frame(payload);
    for (const other of this.clients.values()) if (other !== sender) this.sendFramed(other, framed);
  }

  relayToSameMap(sender: GhostClient, payload: Buffer, viaUdp: boolean): void {
    let framed: Buffer | undefined;
    for (const other of this.clients.values()) {
      if (other === sender || other.map !== sender.map) continue;
      if (viaUdp && !other.tcpOnly) {
        this.sendDatagram(other, payload);
      } else {
        framed ??= frame(payload);
        this.sendFramed(other, framed);
      }
    }
  }

  handleChat(client: GhostClient, text: string, payload: Buffer): void {
    if (client.chatLimiter !== undefined && !client.chatLimiter.tryAcquire(performance.now())) {
      this.reportViolation(client, 'chat_rate', 'sent more chat than [limits] chat_per_second; extra messages dropped');
      return;
    }
    if (this.chatFilters.length === 0) {
      this.relayChat(client, text, payload);
      return;
    }
    // One client's messages are filtered one after another, so they stay in order.
    client.chatQueue = client.chatQueue.then(async () => {
      let current = text;
      for (const filter of this.chatFilters) {
        let verdict: ChatVerdict;
        try {
          verdict = await filter(client.info(), current);
        } catch (error) {
          this.log.error({ err: error }, 'chat filter failed; message relayed unfiltered by it');
          continue;
        }
        if (verdict.action === 'drop') return;
        if (verdict.action === 'rewrite') current = verdict.text;
      }
      if (client.leaving !== undefined || this.clients.get(client.id) !== client) return;
      const relayed =
        current === text ? payload : encodeServerPacket({ type: 'message', id: client.id, text: current });
      this.relayChat(client, current, relayed);
    });
  }

  private relayChat(client: GhostClient, text: string, payload: Buffer): void {
    this.log.info({ id: client.id, player: client.name, text }, 'chat');
    this.relayToOthers(client, payload);
    this.bus.emit('clientMessage', { client: client.info(), text });
  }

  storeGhost(client: GhostClient, source: Buffer, offset: number): void {
    this.table.update(client.id, source, offset);
  }

  reply(client: GhostClient, payload: Buffer): void {
    this.sendFramed(client, frame(payload));
  }

  /** Logs a client's protocol violation at warn level the first time, at debug afterwards. */
  reportViolation(client: GhostClient, kind: string, detail: string): void {
    this.stats.countDroppedPacket(kind);
    const fields = { id: client.id, player: client.name, address: client.address, violation: kind };
    if (client.reportedViolations.has(kind)) {
      this.log.debug(fields, detail);
    } else {
      client.reportedViolations.add(kind);
      this.log.warn(fields, `${detail} (further ones logged at debug level)`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sending and timers

  private sendFramed(client: GhostClient, framed: Buffer, isConfirm = false): void {
    if (client.leaving !== undefined) return;
    this.writes.write(client, framed);
    this.stats.countPacketOut(outgoingName(framed, LENGTH_PREFIX_SIZE, isConfirm), framed.length);
  }

  /** After a batch of writes went out: a client that left too much unsent is not reading. */
  private checkBacklog(client: GhostClient): void {
    const limit = this.config.limits.max_send_buffer_bytes;
    if (client.leaving !== undefined || client.sendBacklog <= limit) return;
    this.removeClient(client, 'slow_reader', `${DROP_TEXT.slow_reader} (over ${limit} bytes)`);
  }

  private sendDatagram(client: GhostClient, payload: Buffer): void {
    if (!client.udpPortKnown || this.udp === undefined) return;
    try {
      this.udp.send(payload, client.udpPort, client.udpAddress);
    } catch (error) {
      // dgram throws at once for arguments it rejects; one client's bad endpoint stops nothing.
      this.log.debug({ err: error, id: client.id }, 'UDP send refused');
      return;
    }
    this.stats.datagramsOut++;
    this.stats.countPacketOut(outgoingName(payload), payload.length);
  }

  private tick(): void {
    const started = performance.now();
    this.sendBulkUpdates();
    this.sendDueKeepAlives(started);
    this.stats.onTick?.(performance.now() - started);
  }

  private sendBulkUpdates(): void {
    this.stats.ticks++;
    if (this.clients.size === 0) return;
    if (this.fanout?.available) this.fanout.beginTick();
    if (!this.config.server.interest_management) {
      this.sendBulk(this.clients.values(), (maxSize) => this.table.buildBulkPackets(maxSize));
      return;
    }
    // Each player gets only the ghosts on its own map; spectators get everyone.
    const byMap = new Map<string, GhostClient[]>();
    const spectators: GhostClient[] = [];
    for (const client of this.clients.values()) {
      if (client.spectator) {
        spectators.push(client);
        continue;
      }
      const players = byMap.get(client.map);
      if (players === undefined) byMap.set(client.map, [client]);
      else players.push(client);
    }
    for (const players of byMap.values()) {
      const ids = players.map((client) => client.id);
      this.sendBulk(players, (maxSize) => this.table.buildBulkPackets(maxSize, ids));
    }
    if (spectators.length > 0) this.sendBulk(spectators, (maxSize) => this.table.buildBulkPackets(maxSize));
  }

  /** Sends one set of bulk packets to some clients: datagrams by UDP, one frame by TCP. */
  private sendBulk(receivers: Iterable<GhostClient>, build: (maxPacketSize: number) => Buffer[]): void {
    let datagrams: Buffer[] | undefined;
    let framed: Buffer | undefined;
    const fanout = this.fanout?.available ? this.fanout : undefined;
    const viaThreads: number[] = [];
    for (const client of receivers) {
      if (client.leaving !== undefined) continue;
      if (!client.tcpOnly) {
        datagrams ??= build(this.config.limits.max_datagram_bytes);
        if (fanout === undefined) for (const datagram of datagrams) this.sendDatagram(client, datagram);
        else if (client.udpPortKnown) viaThreads.push(client.id);
      } else if (client.sendBacklog > BULK_BACKLOG_SKIP_BYTES) {
        this.stats.skippedBulkUpdates++;
      } else {
        // TCP has no datagram limit: one packet with every entry.
        framed ??= frame(build(Number.MAX_SAFE_INTEGER)[0]!);
        this.sendFramed(client, framed);
      }
    }
    if (fanout === undefined || viaThreads.length === 0) return;
    const skipped = fanout.send(datagrams!, viaThreads);
    const sent = viaThreads.length - skipped;
    this.stats.skippedBulkUpdates += skipped;
    this.stats.datagramsOut += sent * datagrams!.length;
    for (const datagram of datagrams!) this.stats.countPacketOut('Update', datagram.length, sent);
  }

  private async startFanout(port: number, hostname: string): Promise<UdpFanout | undefined> {
    const threads = this.config.server.send_threads;
    if (threads === 0) return undefined;
    return UdpFanout.start({
      threads,
      type: udpType(hostname),
      hostname,
      port,
      sendBufferSize: this.config.limits.udp_send_buffer_bytes,
      log: this.log,
      onDatagram: (datagram, source) => this.onDatagram(datagram, source),
    });
  }

  /**
   * Heartbeats and UDP keep-alives follow each client's own schedule, counted from when it
   * joined, and are checked after every tick's bulk updates. One round for everybody at once
   * would land on a tick deadline and delay that tick by the time it takes to write to
   * every client; spread out, each tick carries a small share of them.
   */
  private sendDueKeepAlives(now: number): void {
    const { heartbeat_interval_ms: heartbeatMs, udp_keepalive_interval_ms: keepAliveMs } = this.config.timing;
    for (const client of this.clients.values()) {
      if (client.leaving !== undefined) continue;
      if (now >= client.nextHeartbeatAt) {
        client.nextHeartbeatAt = nextDeadline(client.nextHeartbeatAt, heartbeatMs, now);
        if (!this.sendHeartbeat(client)) continue;
      }
      if (!client.tcpOnly && now >= client.nextKeepAliveAt) {
        client.nextKeepAliveAt = nextDeadline(client.nextKeepAliveAt, keepAliveMs, now);
        this.sendDatagram(client, encodeServerPacket({ type: 'heartbeat', id: client.id, token: 0 }));
      }
    }
  }

  /** Sends a fresh token, or drops the client if the last two went unanswered. */
  private sendHeartbeat(client: GhostClient): boolean {
    if (client.heartbeatAnswered) {
      client.missedHeartbeats = 0;
    } else if (++client.missedHeartbeats >= 2) {
      this.removeClient(client, 'heartbeat');
      return false;
    }
    client.heartbeatToken = randomInt(1, 0x1_0000_0000);
    client.heartbeatAnswered = false;
    this.sendFramed(
      client,
      frame(encodeServerPacket({ type: 'heartbeat', id: client.id, token: client.heartbeatToken })),
    );
    return true;
  }

  private bindUdp(port: number, hostname: string): Promise<UdpSocket> {
    const limits = this.config.limits;
    const socket = createSocket({
      type: udpType(hostname),
      // The send threads share the port (see udp-fanout.ts).
      reuseAddr: this.fanout !== undefined,
      lookup: literalAddressLookup,
      ...(limits.udp_receive_buffer_bytes > 0 ? { recvBufferSize: limits.udp_receive_buffer_bytes } : {}),
      ...(limits.udp_send_buffer_bytes > 0 ? { sendBufferSize: limits.udp_send_buffer_bytes } : {}),
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, hostname, () => {
        socket.off('error', reject);
        socket.on('error', (error) => this.log.debug({ err: error }, 'UDP send error'));
        socket.on('message', (datagram, source) => this.onDatagram(datagram, source));
        resolve(socket);
      });
    });
  }
}

function udpType(hostname: string): 'udp4' | 'udp6' {
  return isIP(hostname) === 6 || hostname === '::' ? 'udp6' : 'udp4';
}

/** The deadline after `previous`, or one interval from now if the schedule fell behind. */
function nextDeadline(previous: number, intervalMs: number, now: number): number {
  const next = previous + intervalMs;
  return next > now ? next : now + intervalMs;
}

function listenTcp(server: TcpServer, port: number, hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(new ServerStartError(`cannot listen on TCP ${hostname}:${port}: ${describeSocketError(error)}`));
    server.once('error', onError);
    server.listen({ port, host: hostname, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function describeSocketError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'the port is already in use';
  if (code === 'EACCES') return 'permission denied (ports below 1024 need privileges)';
  if (code === 'EADDRNOTAVAIL') return 'that address is not on this machine';
  return (error as Error).message ?? String(error);
}
