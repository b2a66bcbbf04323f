/**
 * The emulated gateway: JSON text frames over WebSocket (no compression, no ETF), sharing the REST
 * server's port. HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeats, sequence numbers, and
 * sessions that outlive their connection so a RESUME replays what was missed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { JsonObject } from './state.js';

export const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildMessages: 1 << 9,
  DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;

export interface GatewayLogEntry {
  direction: 'in' | 'out';
  op: number;
  /** The dispatch event name (READY, MESSAGE_CREATE, RESUMED, …), null for other opcodes. */
  t: string | null;
  s: number | null;
  sessionId: string | null;
  /** For 'in' IDENTIFY/RESUME frames and closes: a short note (e.g. "close 4000"). */
  note?: string;
  at: number;
}

interface DispatchFrame {
  op: 0;
  t: string;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  intents: number;
  seq: number;
  history: DispatchFrame[];
  connection: Connection | null;
}

interface Connection {
  socket: WebSocket;
  session: Session | null;
  /** Set when the emulator closed it on purpose, so the session stays resumable. */
  droppedByServer: boolean;
}

export interface GatewayHooks {
  token(): string;
  /** READY's `d`, without session_id / resume_gateway_url (the gateway adds those). */
  ready(): JsonObject;
  guildCreates(): JsonObject[];
  members(): JsonObject[];
  changed(): void;
}

export interface DispatchOptions {
  /** Only sessions that identified with this intent bit get the event. */
  intent?: number;
  /** Per-session reshaping (e.g. blanking message content without the MessageContent intent). */
  shape?: (d: JsonObject, intents: number) => JsonObject;
}

export class Gateway {
  readonly log: GatewayLogEntry[] = [];
  url = '';
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Session>();
  private sessionCounter = 0;
  /** Close codes for the next IDENTIFYs, one each, whatever their token (see `refuseIdentify`). */
  private readonly identifyRefusals: number[] = [];

  constructor(
    private readonly hooks: GatewayHooks,
    private readonly heartbeatIntervalMs: number,
  ) {}

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws));
  }

  /** Sessions that have identified and are not invalidated (connected or waiting for a RESUME). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  get openConnections(): number {
    return [...this.connections].filter((c) => c.socket.readyState === WebSocket.OPEN).length;
  }

  /** Sends a dispatch to every session (buffered for disconnected ones, replayed on RESUME). */
  dispatch(t: string, d: JsonObject, options: DispatchOptions = {}): void {
    for (const session of this.sessions.values()) {
      if (options.intent !== undefined && (session.intents & options.intent) === 0) continue;
      this.sendDispatch(session, t, options.shape ? options.shape(d, session.intents) : d);
    }
  }

  /**
   * Closes every gateway connection. Code 4000 (default) is resumable; `abrupt` drops the TCP
   * connection without a close frame (the client sees 1006). Sessions stay resumable either way.
   */
  drop(code = 4000, abrupt = false): number {
    let count = 0;
    for (const connection of this.connections) {
      if (connection.socket.readyState !== WebSocket.OPEN) continue;
      connection.droppedByServer = true;
      this.record('out', -1, null, null, connection.session, abrupt ? 'terminate' : `close ${code}`);
      if (abrupt) connection.socket.terminate();
      else connection.socket.close(code, 'Discord emulator dropped the connection');
      count++;
    }
    return count;
  }

  /**
   * Closes the next `times` IDENTIFYs with `code` instead of READY: 4004 (authentication failed)
   * as for a token reset while REST still accepted the old one, 4014 (disallowed intents) as for
   * a bot whose Message Content intent is off in the developer portal.
   */
  refuseIdentify(code: number, times = 1): void {
    for (let i = 0; i < times; i++) this.identifyRefusals.push(code);
  }

  /** Tells every connected client to reconnect (op 7), as Discord does before maintenance. */
  requestReconnect(): void {
    for (const connection of this.connections) {
      if (connection.socket.readyState === WebSocket.OPEN) this.send(connection, { op: Op.Reconnect, d: null });
    }
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.terminate();
    this.connections.clear();
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(socket: WebSocket): void {
    const connection: Connection = { socket, session: null, droppedByServer: false };
    this.connections.add(connection);
    socket.on('message', (data, isBinary) => this.onFrame(connection, data, isBinary));
    socket.on('error', () => undefined);
    socket.on('close', (code) => {
      this.connections.delete(connection);
      const session = connection.session;
      this.record('in', -1, null, null, session, `closed ${code}`);
      if (session !== null && session.connection === connection) {
        session.connection = null;
        // A client closing with 1000/1001 ends its session; anything else may be resumed.
        if (!connection.droppedByServer && (code === 1000 || code === 1001)) this.sessions.delete(session.id);
      }
      this.hooks.changed();
    });
    this.send(connection, { op: Op.Hello, d: { heartbeat_interval: this.heartbeatIntervalMs } });
  }

  private onFrame(connection: Connection, data: RawData, isBinary: boolean): void {
    let payload: { op?: unknown; d?: unknown };
    try {
      if (isBinary) throw new Error('binary frame');
      payload = JSON.parse(data.toString()) as { op?: unknown; d?: unknown };
    } catch {
      connection.socket.close(4002, 'Error while decoding payload.');
      return;
    }
    const op = typeof payload.op === 'number' ? payload.op : -1;
    const d = (payload.d ?? null) as JsonObject | number | null;
    this.record('in', op, null, null, connection.session);
    switch (op) {
      case Op.Heartbeat:
        this.send(connection, { op: Op.HeartbeatAck });
        return;
      case Op.Identify:
        this.identify(connection, d as JsonObject | null);
        return;
      case Op.Resume:
        this.resume(connection, d as JsonObject | null);
        return;
      case Op.PresenceUpdate:
      case Op.VoiceStateUpdate:
        if (connection.session === null) connection.socket.close(4003, 'Not authenticated.');
        return;
      case Op.RequestGuildMembers: {
        const session = connection.session;
        if (session === null) {
          connection.socket.close(4003, 'Not authenticated.');
          return;
        }
        const request = (d ?? {}) as JsonObject;
        this.sendDispatch(session, 'GUILD_MEMBERS_CHUNK', {
          guild_id: request.guild_id,
          members: this.hooks.members(),
          chunk_index: 0,
          chunk_count: 1,
          not_found: [],
          ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
        });
        return;
      }
      default:
        connection.socket.close(4001, 'Unknown opcode.');
    }
  }

  private identify(connection: Connection, d: JsonObject | null): void {
    if (connection.session !== null) {
      connection.socket.close(4005, 'Already authenticated.');
      return;
    }
    if (d === null || d.token !== this.hooks.token()) {
      connection.socket.close(4004, 'Authentication failed.');
      return;
    }
    const refusal = this.identifyRefusals.shift();
    if (refusal !== undefined) {
      connection.socket.close(refusal, 'Refused by the emulator.');
      return;
    }
    const session: Session = {
      id: `emulated-session-${++this.sessionCounter}`,
      intents: typeof d.intents === 'number' ? d.intents : 0,
      seq: 0,
      history: [],
      connection,
    };
    this.sessions.set(session.id, session);
    connection.session = session;
    this.sendDispatch(session, 'READY', {
      ...this.hooks.ready(),
      session_id: session.id,
      resume_gateway_url: this.url,
      shard: Array.isArray(d.shard) ? d.shard : [0, 1],
    });
    for (const guild of this.hooks.guildCreates()) this.sendDispatch(session, 'GUILD_CREATE', guild);
  }

  private resume(connection: Connection, d: JsonObject | null): void {
    if (d === null || d.token !== this.hooks.token()) {
      connection.socket.close(4004, 'Authentication failed.');
      return;
    }
    const session = typeof d.session_id === 'string' ? this.sessions.get(d.session_id) : undefined;
    if (session === undefined) {
      this.send(connection, { op: Op.InvalidSession, d: false });
      return;
    }
    const old = session.connection;
    if (old !== null && old !== connection && old.socket.readyState === WebSocket.OPEN) {
      old.droppedByServer = true;
      old.socket.close(4000, 'Session resumed elsewhere');
    }
    session.connection = connection;
    connection.session = session;
    const seq = typeof d.seq === 'number' ? d.seq : 0;
    for (const frame of session.history) if (frame.s > seq) this.sendFrame(connection, frame, session);
    this.sendDispatch(session, 'RESUMED', {});
  }

  private sendDispatch(session: Session, t: string, d: unknown): void {
    const frame: DispatchFrame = { op: 0, t, s: ++session.seq, d };
    session.history.push(frame);
    const connection = session.connection;
    if (connection !== null && connection.socket.readyState === WebSocket.OPEN)
      this.sendFrame(connection, frame, session);
    else this.hooks.changed();
  }

  private sendFrame(connection: Connection, frame: DispatchFrame, session: Session): void {
    connection.socket.send(JSON.stringify(frame));
    this.record('out', frame.op, frame.t, frame.s, session);
  }

  private send(connection: Connection, payload: { op: number; d?: unknown }): void {
    connection.socket.send(JSON.stringify({ s: null, t: null, d: null, ...payload }));
    this.record('out', payload.op, null, null, connection.session);
  }

  private record(
    direction: 'in' | 'out',
    op: number,
    t: string | null,
    s: number | null,
    session: Session | null,
    note?: string,
  ): void {
    this.log.push({
      direction,
      op,
      t,
      s,
      sessionId: session?.id ?? null,
      ...(note !== undefined ? { note } : {}),
      at: Date.now(),
    });
    this.hooks.changed();
  }
}
