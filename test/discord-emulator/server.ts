/**
 * The emulated REST API: an HTTP server on 127.0.0.1 that records every request, applies injected
 * faults, checks the bot token, and routes `/api/v<N>/...` to the handlers in routes.ts. The
 * gateway's WebSocket upgrades arrive on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { JsonObject } from './state.js';

export interface UploadedFile {
  field: string;
  name: string;
  size: number;
  contentType: string;
}

export interface RecordedRequest {
  method: string;
  /** Without the `/api/v10` prefix, each segment URL-decoded (so `@original`, not `%40original`). */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON (or `payload_json` of a multipart upload); undefined when there was no body. */
  body: unknown;
  files: UploadedFile[];
  /** The `X-Audit-Log-Reason` header, decoded. */
  reason?: string;
  /** The answer's status; 0 until answered, -1 when an outage cut the connection instead. */
  status: number;
  /** True when an injected fault or an outage answered it. */
  faulted: boolean;
  /** True when no route matched (the emulator answered 404). */
  unhandled: boolean;
  at: number;
}

export interface RouteRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  files: UploadedFile[];
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  /** e.g. `/channels/:channelId/messages`; `:name` matches one segment. */
  path: string;
  /** Whether `Authorization: Bot <token>` is required (false for webhook-token and interaction routes). */
  auth: boolean;
  handle(request: RouteRequest): Reply | Promise<Reply>;
}

/** A Discord-style error answer: `{ code, message, errors? }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: JsonObject,
  ) {
    super(message);
  }
}

export interface FailureOptions {
  /** HTTP status to answer with; 429 by default. */
  status?: number;
  /** Seconds, for 429s: sent as the `Retry-After` header and `retry_after` in the body. Default 0.2. */
  retryAfter?: number;
  /** Whether the 429 is global (`X-RateLimit-Global` header, `global: true`). */
  global?: boolean;
  /** How many matching requests fail; 1 by default. */
  times?: number;
  /** Discord error code for non-429 failures (e.g. 50013); 0 by default. */
  code?: number;
  message?: string;
}

/** What every request gets while the emulated API is down (see `RestServer.outage`). */
export interface OutageOptions {
  /** HTTP status to answer every request with; 503 by default. */
  status?: number;
  /**
   * Cut each connection without an answer instead (the client sees a network error, as when the
   * API host is unreachable); new gateway connections are cut too.
   */
  unreachable?: boolean;
}

/**
 * `'POST /channels/:id/messages'`, `'/webhooks/:id/:token'`, … (method optional; `:x` and `*`
 * match one segment), or a RegExp tested against `'METHOD /path'`.
 */
export type RoutePattern = string | RegExp;

interface Fault {
  matches(method: string, path: string): boolean;
  options: FailureOptions;
  remaining: number;
}

export function compilePattern(pattern: RoutePattern): (method: string, path: string) => boolean {
  if (pattern instanceof RegExp) return (method, path) => pattern.test(`${method} ${path}`);
  const match = /^(?:([A-Za-z]+)\s+)?(\S+)$/.exec(pattern.trim());
  if (match === null) throw new Error(`Discord emulator: bad route pattern ${JSON.stringify(pattern)}`);
  const wantMethod = match[1]?.toUpperCase();
  const wanted = splitPath(match[2]!.replace(/^\/api\/v\d+/, ''));
  return (method, path) => {
    if (wantMethod !== undefined && wantMethod !== method) return false;
    const segments = splitPath(path);
    return (
      segments.length === wanted.length && wanted.every((w, i) => w === '*' || w.startsWith(':') || w === segments[i])
    );
  };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

export interface RestServerHooks {
  token(): string;
  changed(): void;
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

const MAX_BODY_BYTES = 26 * 1024 * 1024;

export class RestServer {
  readonly requests: RecordedRequest[] = [];
  private readonly faults: Fault[] = [];
  /** While set, every request fails this way (before injected faults and routes). */
  outage: OutageOptions | undefined;
  private readonly server: Server;
  private readonly routes: Array<Route & { segments: string[] }>;

  constructor(
    routes: Route[],
    private readonly hooks: RestServerHooks,
  ) {
    this.routes = routes.map((route) => ({ ...route, segments: splitPath(route.path) }));
    this.server = createServer((request, response) => {
      this.onRequest(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          this.reply(response, undefined, { status: 500, body: { message: String(error), code: 0 } });
        else response.destroy();
      });
    });
    this.server.on('upgrade', (request, socket, head) => {
      if (this.outage?.unreachable === true) socket.destroy();
      else hooks.upgrade(request, socket, head);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  failNext(pattern: RoutePattern, options: FailureOptions = {}): void {
    this.faults.push({ matches: compilePattern(pattern), options, remaining: options.times ?? 1 });
  }

  /** Injected faults that have not fired yet. */
  get pendingFaults(): number {
    return this.faults.reduce((sum, fault) => sum + fault.remaining, 0);
  }

  private async onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = (request.method ?? 'GET').toUpperCase();
    const prefix = /^\/api(?:\/v\d+)?(?=\/)/.exec(url.pathname);
    const segments = splitPath(prefix === null ? url.pathname : url.pathname.slice(prefix[0].length)).map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
    const path = `/${segments.join('/')}`;
    const raw = await readBody(request);
    const record: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      files: [],
      status: 0,
      faulted: false,
      unhandled: false,
      at: Date.now(),
    };
    const reasonHeader = request.headers['x-audit-log-reason'];
    if (typeof reasonHeader === 'string') record.reason = decodeURIComponent(reasonHeader);
    this.requests.push(record);

    try {
      if (raw === 'too large') throw new ApiError(413, 40005, 'Request entity too large');
      const parsed = await parseBody(raw, request.headers['content-type'] ?? '');
      record.body = parsed.body;
      record.files = parsed.files;

      if (this.outage !== undefined) {
        record.faulted = true;
        if (this.outage.unreachable === true) {
          record.status = -1;
          request.socket.destroy();
          this.hooks.changed();
        } else {
          const status = this.outage.status ?? 503;
          this.reply(response, record, { status, body: { message: `${status}: emulated outage`, code: 0 } });
        }
        return;
      }

      const fault = this.faults.find((f) => f.remaining > 0 && f.matches(method, path));
      if (fault !== undefined) {
        fault.remaining--;
        if (fault.remaining === 0) this.faults.splice(this.faults.indexOf(fault), 1);
        record.faulted = true;
        this.reply(response, record, faultReply(fault.options));
        return;
      }

      if (prefix === null) throw new ApiError(404, 0, '404: Not Found');
      const route = this.routes.find(
        (r) =>
          r.method === method &&
          r.segments.length === segments.length &&
          r.segments.every((s, i) => s.startsWith(':') || s === segments[i]),
      );
      if (route === undefined) {
        record.unhandled = true;
        throw new ApiError(404, 0, '404: Not Found');
      }
      if (route.auth && request.headers.authorization !== `Bot ${this.hooks.token()}`) {
        throw new ApiError(401, 0, '401: Unauthorized');
      }
      const params: Record<string, string> = {};
      route.segments.forEach((s, i) => {
        if (s.startsWith(':')) params[s.slice(1)] = segments[i]!;
      });
      const reply = await route.handle({
        method,
        path,
        params,
        query: url.searchParams,
        body: parsed.body,
        files: parsed.files,
      });
      this.reply(response, record, reply);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.reply(response, record, {
        status: error.status,
        body: { message: error.message, code: error.code, ...(error.errors ? { errors: error.errors } : {}) },
      });
    }
  }

  private reply(response: ServerResponse, record: RecordedRequest | undefined, reply: Reply): void {
    if (record !== undefined) record.status = reply.status;
    if (reply.status === 204 || reply.body === undefined) {
      response.writeHead(reply.status, reply.headers ?? {});
      response.end();
    } else {
      response.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
      response.end(JSON.stringify(reply.body));
    }
    this.hooks.changed();
  }
}

function faultReply(options: FailureOptions): Reply {
  const status = options.status ?? 429;
  if (status === 429) {
    const retryAfter = options.retryAfter ?? 0.2;
    const global = options.global ?? false;
    return {
      status,
      headers: {
        'Retry-After': String(retryAfter),
        'X-RateLimit-Scope': global ? 'global' : 'user',
        ...(global ? { 'X-RateLimit-Global': 'true' } : {}),
      },
      body: { message: options.message ?? 'You are being rate limited.', retry_after: retryAfter, global },
    };
  }
  return { status, body: { message: options.message ?? `${status}: emulated failure`, code: options.code ?? 0 } };
}

function readBody(request: IncomingMessage): Promise<Buffer | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? 'too large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

async function parseBody(raw: Buffer, contentType: string): Promise<{ body: unknown; files: UploadedFile[] }> {
  if (raw.length === 0) return { body: undefined, files: [] };
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
    let body: unknown;
    const files: UploadedFile[] = [];
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') body = parseJson(value);
      } else {
        files.push({ field, name: value.name, size: value.size, contentType: value.type });
      }
    }
    return { body, files };
  }
  return { body: parseJson(raw.toString('utf8')), files: [] };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 50109, 'The request body contains invalid JSON.');
  }
}
