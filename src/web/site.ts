/**
 * The public, read-only pages on the HTTP endpoint (`[http] public_pages`): `/`, `/live`,
 * `/races/:id`, `/overlay` and their `/assets/`. Anyone may read them, so they answer any Host
 * and Origin; they only ever read, take GET and HEAD alone, and show only what
 * src/web/public-view.ts lets through (no addresses, nothing the management API guards).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../logger.js';
import type { OperationsTarget } from '../http/target.js';
import { HttpError } from '../http/errors.js';
import { loadAssets, type Asset } from './assets.js';
import { LiveFeed } from './live-feed.js';
import { homePage, notFoundPage, overlayPage, racePage } from './pages.js';
import { publicRace } from './public-view.js';

const READ_METHODS = new Set(['GET', 'HEAD']);
/**
 * A page is rendered at most this often (per Host and query): a flood of requests for `/` costs
 * a lookup, not a render, so it cannot take the ghost tick's time. Pages update live anyway.
 */
const LIVE_PAGE_TTL_MS = 1000;
/** A finished race never changes: its page is kept longer. */
const FINISHED_PAGE_TTL_MS = 60_000;
const MAX_CACHED_PAGES = 64;
const MAX_OVERLAY_ROWS = 50;
const DEFAULT_OVERLAY_ROWS = 8;

/** Scripts and styles only from this server, no inline script, no plugins, no forms. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'";

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export class PublicSite {
  readonly feed: LiveFeed;
  private readonly assets: Map<string, Asset>;
  private readonly rendered = new Map<string, { until: number; status: number; body: Buffer }>();

  constructor(
    private readonly app: OperationsTarget,
    private readonly settings: HttpSettings,
    logger: Logger,
  ) {
    const log = logger.child({ module: 'pages' });
    this.feed = new LiveFeed({ bus: app.server.bus, app, settings, logger });
    this.assets = loadAssets(log);
  }

  start(): void {
    this.feed.start();
  }

  stop(): void {
    this.feed.stop();
  }

  /** Whether `path` is one of the pages' (everything else is the endpoint's own). */
  owns(path: string): boolean {
    return (
      path === '/' ||
      path === '/live' ||
      path === '/overlay' ||
      path.startsWith('/races/') ||
      path === '/races' ||
      path.startsWith('/assets/')
    );
  }

  /** Answers a request for one of the pages (`owns(path)` is true). */
  serve(request: IncomingMessage, response: ServerResponse, path: string, query: URLSearchParams): void {
    const method = request.method ?? 'GET';
    if (!READ_METHODS.has(method)) {
      throw new HttpError('method_not_allowed', `${method} is not allowed on ${path}: the pages only read`, {
        allow: 'GET, HEAD',
      });
    }
    if (path === '/') {
      const host = request.headers.host;
      return this.cached(response, `home ${host}`, LIVE_PAGE_TTL_MS, () => ({
        status: 200,
        html: homePage(this.feed.snapshot(host)),
      }));
    }
    if (path === '/live') {
      if (method === 'HEAD') {
        response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
        response.end();
        return;
      }
      return this.feed.connect(request, response);
    }
    if (path === '/overlay') return this.overlay(response, query);
    if (path.startsWith('/assets/')) return this.asset(request, response, path.slice('/assets/'.length));
    return this.race(response, path);
  }

  /** Answers from a page rendered less than `ttlMs` ago under `key`, or renders it now. */
  private cached(
    response: ServerResponse,
    key: string,
    ttlMs: number,
    render: () => { status: number; html: string; ttlMs?: number },
    headers: Record<string, string> = {},
  ): void {
    const now = Date.now();
    let entry = this.rendered.get(key);
    if (entry === undefined || entry.until <= now) {
      const page = render();
      entry = { until: now + (page.ttlMs ?? ttlMs), status: page.status, body: Buffer.from(page.html, 'utf8') };
      this.rendered.delete(key);
      this.rendered.set(key, entry);
      // Oldest first in a Map: whatever Host headers a client invents, the cache stays this small.
      while (this.rendered.size > MAX_CACHED_PAGES) this.rendered.delete(this.rendered.keys().next().value!);
    }
    this.send(response, entry.status, entry.body, headers);
  }

  private page(response: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
    this.send(response, status, Buffer.from(html, 'utf8'), headers);
  }

  private send(response: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): void {
    response.writeHead(status, {
      ...PAGE_HEADERS,
      'content-security-policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`,
      'content-length': body.length,
      ...headers,
    });
    response.end(body);
  }

  private notFound(response: ServerResponse, text: string): void {
    this.page(response, 404, notFoundPage(this.settings.page_title, text));
  }

  private race(response: ServerResponse, path: string): void {
    const id = /^\/races\/(\d{1,12})$/.exec(path)?.[1];
    if (id === undefined) {
      if (/^\/races\/[^/]+$/.test(path)) {
        return this.page(
          response,
          400,
          notFoundPage(this.settings.page_title, 'A race is named by its number, as in /races/12.'),
        );
      }
      return this.notFound(response, 'There is no page here.');
    }
    const number = Number(id);
    // Keyed by the race version too: a race page is never older than the race it shows.
    this.cached(response, `race ${number} ${this.feed.raceVersion}`, LIVE_PAGE_TTL_MS, () => {
      const live = this.app.races.current();
      const race = live?.id === number ? live : this.app.store.races.get(number);
      if (race === undefined) {
        return { status: 404, html: notFoundPage(this.settings.page_title, `There is no race ${number}.`) };
      }
      const over = race.state === 'finished' || race.state === 'cancelled';
      return {
        status: 200,
        html: racePage(publicRace(race, true), this.settings.page_title),
        ...(over ? { ttlMs: FINISHED_PAGE_TTL_MS } : {}),
      };
    });
  }

  private overlay(response: ServerResponse, query: URLSearchParams): void {
    // OBS users type these by hand: anything unreadable falls back to the default, never an error page on stream.
    const rowsText = query.get('rows') ?? '';
    const rows = /^\d{1,3}$/.test(rowsText)
      ? Math.min(MAX_OVERLAY_ROWS, Math.max(1, Number(rowsText)))
      : DEFAULT_OVERLAY_ROWS;
    const theme = query.get('theme') === 'light' ? 'light' : 'dark';
    const showTitle = !['0', 'false', 'no', 'off'].includes((query.get('title') ?? '').toLowerCase());
    // A browser source may be embedded in other streaming tools' frames.
    const frameable = { 'content-security-policy': CONTENT_SECURITY_POLICY };
    this.cached(
      response,
      `overlay ${rows} ${theme} ${showTitle}`,
      LIVE_PAGE_TTL_MS,
      () => {
        const current = this.feed.currentRace();
        const race = current === undefined ? null : publicRace(current, false);
        return { status: 200, html: overlayPage(race, { rows, showTitle, theme }) };
      },
      frameable,
    );
  }

  private asset(request: IncomingMessage, response: ServerResponse, name: string): void {
    const asset = this.assets.get(name);
    if (asset === undefined) return this.notFound(response, 'There is no such file.');
    const headers = {
      'content-type': asset.type,
      etag: asset.etag,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (request.headers['if-none-match'] === asset.etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, { ...headers, 'content-length': asset.body.length });
    response.end(asset.body);
  }
}
