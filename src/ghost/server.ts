/**
 * The ghost server: what the rest of the program (commands, Discord, plugins, HTTP) holds on to.
 * It owns the pieces and their lifecycle; each job lives in a module of its own:
 *
 * - transport.ts    the sockets on the one port, bound so that nothing listens before it can serve
 * - connection.ts   a connection before it joins: handshake, admission, early packets
 * - admission.ts    who may join: built-in checks, bans and whitelist, plugins (fail closed)
 * - roster.ts       the joined clients: joining and leaving, exactly once each
 * - inbound.ts      a joined client's packets: rate limit, identity, decode → handlers.ts
 * - broadcaster.ts  everything sent: relays, replies, and each tick's bulk updates and heartbeats
 * - chat.ts         chat through the chat filters (chat commands, plugins), bounded per sender
 * - countdown.ts    the synchronised start
 *
 * One packet's path: socket → Connection → Inbound → handler → Broadcaster.
 */
import type { Socket } from 'node:net';
import type { Config } from '../config.js';
import { EventBus, type ClientInfo } from '../events.js';
import { silentLogger, type Logger } from '../logger.js';
import { Admission, type AdmissionCheck } from './admission.js';
import { Broadcaster } from './broadcaster.js';
import { ChatPipeline, type ChatFilter } from './chat.js';
import { Connections } from './connection.js';
import {
  Countdown,
  type CountdownCheck,
  type CountdownOptions,
  type CountdownRequest,
  type StartedCountdown,
} from './countdown.js';
import { Inbound } from './inbound.js';
import { PacketRatePolicy } from './packet-limits.js';
import { frame } from './protocol/framing.js';
import { encodeServerPacket } from './protocol/packets.js';
import type { RefusalCode } from './refusals.js';
import { DROP_TEXT, Roster } from './roster.js';
import { ServerStats } from './stats.js';
import { Ticker } from './ticker.js';
import { openTransport, ServerStartError, type Transport } from './transport.js';

export { ServerStartError } from './transport.js';
export type { AdmissionCheck } from './admission.js';
export type { ChatFilter, ChatVerdict } from './chat.js';
export type { CountdownCheck, CountdownOptions } from './countdown.js';
export type { Refusal, RefusalCode } from './refusals.js';

export interface GhostServerOptions {
  config: Pick<Config, 'server' | 'timing' | 'limits' | 'countdown'>;
  logger?: Logger;
  bus?: EventBus;
}

const SHUTDOWN_MESSAGE = 'The server is shutting down.';

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export class GhostServer {
  readonly bus: EventBus;
  readonly log: Logger;
  readonly stats = new ServerStats();

  private readonly config: GhostServerOptions['config'];
  private readonly admission: Admission;
  private readonly roster: Roster;
  private linkedAccount: ((name: string, address: string) => string | undefined) | undefined;
  private readonly broadcaster: Broadcaster;
  private readonly chat: ChatPipeline;
  private readonly countdown: Countdown;
  private readonly connections: Connections;
  private readonly inbound: Inbound;
  private readonly ticker: Ticker;
  private transport: Transport | undefined;
  private state: State = 'idle';
  private stopped: Promise<void> | undefined;

  constructor(options: GhostServerOptions) {
    const config = options.config;
    this.config = config;
    const log = (options.logger ?? silentLogger()).child({ module: 'ghost' });
    this.log = log;
    const bus =
      options.bus ?? new EventBus((event, error) => log.error({ err: error, event }, 'event listener failed'));
    this.bus = bus;
    const stats = this.stats;
    const rates = new PacketRatePolicy(config.limits);

    this.roster = new Roster({
      config,
      rates,
      stats,
      log,
      bus,
      linkedAccount: (name, address) => this.linkedAccount?.(name, address),
    });
    const roster = this.roster;
    this.broadcaster = new Broadcaster({
      config,
      clients: roster.clients,
      table: roster.table,
      stats,
      log,
      drop: (client, code, detail) => roster.remove(client, code, detail),
    });
    roster.useBroadcaster(this.broadcaster);
    this.admission = new Admission(
      {
        acceptPlayers: config.server.accept_players,
        acceptSpectators: config.server.accept_spectators,
        maxClients: config.limits.max_clients,
      },
      () => roster.size,
    );
    this.chat = new ChatPipeline({
      broadcaster: this.broadcaster,
      isJoined: (client) => client.leaving === undefined && roster.get(client.id) === client,
      reportViolation: (client, kind, detail) => roster.reportViolation(client, kind, detail),
      log,
      bus,
    });
    this.countdown = new Countdown({
      config,
      broadcaster: this.broadcaster,
      admission: this.admission,
      clientIds: () => [...roster.clients.keys()],
      log,
      bus,
    });
    const inbound = new Inbound({
      context: {
        log,
        bus,
        voiceGraceMs: config.timing.voice_grace_ms,
        send: this.broadcaster,
        roster,
        chat: this.chat,
      },
      rates,
      stats,
      maxFrameBytes: config.limits.max_frame_bytes,
      udpRebindSilenceMs: config.timing.udp_rebind_silence_ms,
    });
    this.connections = new Connections({
      settings: {
        handshakeTimeoutMs: config.timing.handshake_timeout_ms,
        maxFrameBytes: config.limits.max_frame_bytes,
        maxConnectionsPerAddress: config.limits.max_connections_per_ip,
        maxReceiveBytesPerSecond: config.limits.max_receive_bytes_per_second,
      },
      admission: this.admission,
      roster,
      inbound,
      stats,
      log,
      bus,
      isOpen: () => this.state === 'starting' || this.state === 'running',
    });
    this.inbound = inbound;
    this.ticker = new Ticker(config.timing.tick_interval_ms, () => this.broadcaster.tick());
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Binds UDP (send threads first, then the main socket) and only then listens for TCP, on the
   * configured port (0: any free port, the same for both). Resolves once SAR can be served.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new ServerStartError('the server was already started');
    this.state = 'starting';
    const { hostname, port, send_threads: sendThreads } = this.config.server;
    try {
      this.transport = await openTransport({
        hostname,
        port,
        limits: this.config.limits,
        sendThreads,
        log: this.log,
        onConnection: (socket) => this.connections.accept(socket),
        onDatagram: (datagram, source) => this.inbound.onDatagram(datagram, source),
        beforeListen: (udp, fanout) => {
          this.broadcaster.attach(udp, fanout);
          this.ticker.start();
          this.state = 'running';
        },
      });
    } catch (error) {
      this.ticker.stop();
      this.state = 'stopped';
      throw error;
    }
    this.log.info({ hostname, port: this.transport.port }, 'ghost server listening (TCP and UDP)');
    this.bus.emit('serverStarted', { hostname, port: this.transport.port });
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
    this.roster.closing = true;
    this.log.info({ reason, clients: this.roster.size }, 'ghost server stopping');
    this.bus.emit('serverStopping', { reason });
    this.ticker.stop();
    this.countdown.stop();
    const transport = this.transport;
    const listenerClosed = transport?.stopListening() ?? Promise.resolve();

    const notice = frame(encodeServerPacket({ type: 'message', id: 0, text: SHUTDOWN_MESSAGE }));
    const joined = new Set<Socket>();
    for (const client of this.roster.clients.values()) {
      this.broadcaster.sendFramed(client, notice);
      client.leaving ??= DROP_TEXT.shutdown;
      client.socket.end();
      joined.add(client.socket);
    }
    this.connections.destroyUnjoined(joined);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.timing.shutdown_timeout_ms);
    });
    await Promise.race([this.connections.allClosed(), timedOut]);
    clearTimeout(timer);
    this.connections.destroyAll();
    await listenerClosed;
    await transport?.closeDatagrams();
    this.state = 'stopped';
    this.log.info({ reason }, 'ghost server stopped');
    this.bus.emit('serverStopped', { reason });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The port actually bound (differs from the configured one when that was 0). */
  get port(): number {
    return this.transport?.port ?? 0;
  }

  get hostname(): string {
    return this.config.server.hostname;
  }

  // ---------------------------------------------------------------------------------------------
  // Public operations (the admin console, Discord and plugins build on these)

  /**
   * How a client's `discordId` is found (src/identity): asked once when it joins, and again for a
   * name by `refreshLinkedAccounts` when its link changes.
   */
  setLinkedAccounts(resolve: ((name: string, address: string) => string | undefined) | undefined): void {
    this.linkedAccount = resolve;
  }

  /** Recomputes `discordId` for the clients called `name` (after a link, an unlink, a confirmation). */
  refreshLinkedAccounts(name: string): void {
    for (const client of this.roster.clients.values()) {
      if (client.name === name) client.discordId = this.linkedAccount?.(client.name, client.address) ?? null;
    }
  }

  listClients(): ClientInfo[] {
    return [...this.roster.clients.values()].map((client) => client.info());
  }

  getClient(id: number): ClientInfo | undefined {
    return this.roster.get(id)?.info();
  }

  /** The last DataGhost a client reported (25 bytes), e.g. for a status display. */
  getGhost(id: number): Buffer | undefined {
    return this.roster.table.get(id);
  }

  /**
   * Adds an admission check after the built-in ones and those already added; a reason it
   * returns is a refusal with `code` (see refusals.ts).
   */
  addAdmissionCheck(check: AdmissionCheck, code: RefusalCode = 'refused'): void {
    this.admission.add(check, code);
  }

  addChatFilter(filter: ChatFilter): void {
    this.chat.addFilter(filter);
  }

  addCountdownCheck(check: CountdownCheck): void {
    this.countdown.addCheck(check);
  }

  /**
   * Runs the countdown checks, then starts the countdown. Resolves with the refusal reason if a
   * check refused (the commands use this; `startCountdown` skips the checks).
   */
  requestCountdown(options: CountdownOptions = {}): Promise<CountdownRequest> {
    return this.countdown.request(options);
  }

  /**
   * Sends the countdown setup to every client. Each client confirms and gets "go" back at once;
   * SAR counts down locally. As with GhostServer, new players are refused from now on unless
   * `[countdown] refuse_new_players` is false.
   */
  startCountdown(options: CountdownOptions = {}): StartedCountdown {
    return this.countdown.start(options);
  }

  get acceptingPlayers(): boolean {
    return this.admission.acceptingPlayers;
  }

  get acceptingSpectators(): boolean {
    return this.admission.acceptingSpectators;
  }

  setAcceptingPlayers(accept: boolean): void {
    this.admission.acceptingPlayers = accept;
    this.log.info({ accept }, accept ? 'accepting players' : 'refusing new players');
  }

  /** Why new players are refused now (undefined while they are accepted): for `status` and logs. */
  get playersRefusedBecause(): string | undefined {
    return this.admission.playersRefusedBecause;
  }

  /**
   * Reopens to players if a plain countdown closed the door (the race it began has ended); an
   * operator's `refuse players` stands. Returns whether it reopened.
   */
  reopenAfterCountdown(): boolean {
    const reopened = this.admission.reopenAfterCountdown();
    if (reopened) this.log.info('accepting players again: the countdown race ended');
    return reopened;
  }

  setAcceptingSpectators(accept: boolean): void {
    this.admission.acceptingSpectators = accept;
    this.log.info({ accept }, accept ? 'accepting spectators' : 'refusing new spectators');
  }

  /** Disconnects a client; returns false if no client has that id. */
  kick(id: number, reason?: string): boolean {
    const client = this.roster.get(id);
    if (client === undefined) return false;
    this.roster.remove(client, 'kicked', reason);
    return true;
  }

  /** A MESSAGE from id 0 to every client; SAR shows it as coming from the server. */
  broadcastServerMessage(text: string): void {
    this.broadcaster.toEveryone(frame(encodeServerPacket({ type: 'message', id: 0, text })));
    this.log.info({ text }, 'server message');
    this.bus.emit('serverMessage', { text });
  }

  /** A server MESSAGE to one client only; returns false if no client has that id. */
  sendServerMessage(id: number, text: string): boolean {
    const client = this.roster.get(id);
    if (client === undefined) return false;
    this.broadcaster.reply(client, encodeServerPacket({ type: 'message', id: 0, text }));
    return true;
  }
}
