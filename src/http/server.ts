/**
 * The operations endpoint on node's own http module (off by default, `[http]`):
 * GET /healthz for health checks, GET /metrics for Prometheus, and the management API under
 * /api/ behind `Authorization: Bearer <token>`. Without a token it only runs on a loopback
 * address (config.ts refuses anything else), where only this machine can reach it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { OperationsTarget } from './target.js';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../logger.js';
import { HttpError, routes } from './api.js';
import { createMetrics } from './metrics.js';

const MAX_BODY_BYTES = 64 * 1024;

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new HttpError(400, 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export class OperationsServer {
  private server: Server | undefined;
  private readonly log: Logger;

  constructor(
    private readonly app: OperationsTarget,
    private readonly settings: HttpSettings,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'http' });
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async start(): Promise<void> {
    if (!this.settings.enabled) return;
    const metrics = createMetrics(this.app);
    const server = createServer((request, response) => {
      void this.handle(request, response, () => metrics.metrics(), metrics.contentType);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.settings.port, this.settings.hostname, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.log.info(
      {
        hostname: this.settings.hostname,
        port: this.port,
        api: this.settings.token !== '' ? 'token' : 'loopback only',
      },
      'HTTP endpoint listening',
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(
    request: IncomingMessage,
    response: ServerResponse,
    metrics: () => Promise<string>,
    metricsType: string,
  ): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const method = request.method ?? 'GET';
    try {
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
      if (!path.startsWith('/api/')) throw new HttpError(404, `no such route: ${method} ${path}`);
      if (this.settings.token !== '' && !tokenMatches(request.headers.authorization, this.settings.token)) {
        response.setHeader('www-authenticate', 'Bearer');
        throw new HttpError(401, 'missing or wrong bearer token');
      }
      const handler = routes[`${method} ${path}`];
      if (handler === undefined) {
        const allowed = Object.keys(routes).filter((key) => key.endsWith(` ${path}`));
        if (allowed.length > 0) {
          response.setHeader('allow', allowed.map((key) => key.split(' ')[0]).join(', '));
          throw new HttpError(405, `${method} is not allowed on ${path}`);
        }
        throw new HttpError(404, `no such route: ${method} ${path}`);
      }
      const result = await handler(this.app, { body: await readJson(request) });
      sendJson(response, result.status, result.body);
    } catch (error) {
      if (error instanceof HttpError) {
        sendJson(response, error.status, { error: error.message });
        return;
      }
      this.log.error({ err: error, method, path }, 'HTTP request failed');
      sendJson(response, 500, { error: 'internal error' });
    }
  }
}
