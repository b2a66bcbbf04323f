/**
 * The operations endpoint on node's own http module (off by default, `[http]`):
 * GET /healthz for health checks, GET /metrics for Prometheus, and the management API under
 * /api/ behind `Authorization: Bearer <token>`. Without a token it only runs on a loopback
 * address (config.ts refuses anything else), and guard.ts keeps web pages on this machine out.
 * Every refusal is a JSON error with a code (errors.ts), counted in /metrics and logged once per
 * code; the endpoint keeps serving. Routes (api.ts) are keyed "METHOD /path", where a `:name`
 * segment is a path parameter (paths.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { OperationsTarget } from './target.js';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../logger.js';
import { routes } from './api.js';
import { checkRoute, runCommandRoute } from './command-route.js';
import { HttpError, REFUSAL_STATUS, type HttpErrorCode } from './errors.js';
import { checkBodyType, checkCaller } from './guard.js';
import { createMetrics } from './metrics.js';
import { RouteTable } from './paths.js';
import { ServerStartError } from '../ghost/transport.js';
import { PublicSite } from '../web/site.js';

/** The largest request body accepted, in bytes: exactly this many is fine, one more is a 413. */
export const MAX_BODY_BYTES = 64 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const table = new RouteTable(routes);

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

const TOO_LARGE = () =>
  new HttpError('body_too_large', `the body is over ${MAX_BODY_BYTES} bytes`, { connection: 'close' });

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw TOO_LARGE();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw TOO_LARGE();
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
  } catch {
    throw new HttpError('bad_json', 'the body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new HttpError('bad_json', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export class OperationsServer {
  private server: Server | undefined;
  private readonly log: Logger;
  /** Error responses by code, for /metrics. */
  readonly errors = new Map<HttpErrorCode, number>();
  /** Refusal codes already logged at warn level (each is logged once). */
  private readonly logged = new Set<HttpErrorCode>();
  /** Routes whose declaration does not match the registry (see start). */
  private readonly broken = new Set<string>();
  /** Connections closed on arrival because `[http] max_connections` were open, for /metrics. */
  droppedConnections = 0;
  /** The public pages and /live (`[http] public_pages`), while running. */
  private site: PublicSite | undefined;

  constructor(
    private readonly app: OperationsTarget,
    private readonly settings: HttpSettings,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'http' });
  }

  /** Connections to `/live` now (0 without the public pages). */
  get liveViewers(): number {
    return this.site?.feed.viewerCount ?? 0;
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async start(): Promise<void> {
    if (!this.settings.enabled) return;
    for (const [route, definition] of Object.entries(routes)) {
      try {
        const missing = checkRoute(definition, this.app);
        if (missing.length > 0)
          this.log.warn({ route, commands: missing }, 'HTTP route unavailable: its command is not registered');
      } catch (error) {
        // A route that does not match its command's arguments is a bug: that route answers 500.
        this.broken.add(route);
        this.log.error({ route, err: error }, `HTTP route disabled: ${(error as Error).message}`);
      }
    }
    const site = this.settings.public_pages ? new PublicSite(this.app, this.settings, this.log) : undefined;
    const metrics = createMetrics(this.app, this.errors, site?.feed, this);
    const server = createServer((request, response) => {
      this.handle(request, response, () => metrics.metrics(), metrics.contentType).catch((error: unknown) => {
        // Only if answering itself failed (the socket is gone): never an unhandled rejection.
        this.log.error({ err: error }, 'HTTP response failed');
        response.destroy();
      });
    });
    // A client that trickles its request in (slowloris) holds a descriptor the game also needs:
    // it gets this long for the headers and for the whole request, then it is cut off.
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    // Each socket is a descriptor the game needs too: past the cap, Node closes new ones at once.
    server.maxConnections = this.settings.max_connections;
    server.on('drop', () => {
      // Logged once: a flood would otherwise write a line per connection it tried.
      if (this.droppedConnections++ === 0)
        this.log.warn(`HTTP connection dropped: [http] max_connections (${this.settings.max_connections}) are open`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const { hostname, port } = this.settings;
        const why = error.code === 'EADDRINUSE' ? 'the port is already in use' : error.message;
        reject(new ServerStartError(`cannot listen on HTTP ${hostname}:${port}: ${why}`));
      });
      server.listen(this.settings.port, this.settings.hostname, () => {
        server.removeAllListeners('error');
        server.on('error', (error) => this.log.error({ err: error }, 'HTTP server error'));
        resolve();
      });
    });
    this.server = server;
    this.site = site;
    site?.start();
    this.log.info(
      {
        hostname: this.settings.hostname,
        port: this.port,
        api: this.settings.token !== '' ? 'token' : 'loopback only',
        pages: site !== undefined,
      },
      'HTTP endpoint listening',
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    this.site?.stop();
    this.site = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(
    request: IncomingMessage,
    response: ServerResponse,
    metrics: () => Promise<string>,
    metricsType: string,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    let path = request.url ?? '/';
    let query = new URLSearchParams();
    try {
      try {
        const url = new URL(path, 'http://localhost');
        path = url.pathname.replace(/\/+$/, '') || '/';
        query = url.searchParams;
      } catch {
        throw new HttpError('no_route', `no such route: ${method} ${JSON.stringify(path)}`);
      }
      if (path === '/healthz' && method === 'GET') {
        const running = this.app.server.running;
        sendJson(response, running ? 200 : 503, {
          status: running ? 'ok' : 'stopped',
          clients: this.app.server.listClients().length,
          discord: this.app.discord.state,
        });
        return;
      }
      if (path === '/metrics' && method === 'GET') {
        const text = await metrics();
        response.writeHead(200, { 'content-type': metricsType });
        response.end(text);
        return;
      }
      if (this.site?.owns(path)) {
        this.site.serve(request, response, path, query);
        return;
      }
      if (!path.startsWith('/api/')) throw new HttpError('no_route', `no such route: ${method} ${path}`);
      checkCaller(request.headers, this.settings);
      const match = table.match(method, path);
      if (!match.found) {
        if (match.allow.length > 0) {
          const allow = match.allow.join(', ');
          throw new HttpError('method_not_allowed', `${method} is not allowed on ${path}`, { allow });
        }
        throw new HttpError('no_route', `no such route: ${method} ${path}`);
      }
      if (this.broken.has(match.key))
        throw new HttpError('internal', `${match.key} is disabled: it does not match its command (see the log)`);
      checkBodyType(method, request.headers);
      const body = await readJson(request);
      const result = await runCommandRoute(match.value, this.app, body, { params: match.params, query });
      sendJson(response, result.status, result.body);
    } catch (error) {
      if (error instanceof HttpError) {
        this.refused(error, method, path, request);
        sendJson(response, error.status, { error: error.message, code: error.code }, error.headers);
        return;
      }
      if (request.destroyed) return; // the client went away mid-body: nobody to answer
      this.count('internal');
      this.log.error({ err: error, method, path }, 'HTTP request failed');
      sendJson(response, 500, { error: 'internal error', code: 'internal' });
    }
  }

  private count(code: HttpErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Counts an error response; the endpoint's own refusals are logged once per code. */
  private refused(error: HttpError, method: string, path: string, request: IncomingMessage): void {
    this.count(error.code);
    const details = { code: error.code, status: error.status, method, path, reason: error.message };
    if (!(error.code in REFUSAL_STATUS) || this.logged.has(error.code)) {
      this.log.debug(details, 'HTTP request refused');
      return;
    }
    this.logged.add(error.code);
    this.log.warn(
      { ...details, from: request.socket.remoteAddress, userAgent: request.headers['user-agent'] },
      `HTTP request refused: ${error.message} (further "${error.code}" refusals are only counted, in ghosting_http_errors_total)`,
    );
  }
}
