/**
 * /healthz, /metrics and the management API with real HTTP requests, against the real app and
 * SAR-like clients.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { pino } from 'pino';
import Database from 'better-sqlite3';
import type { App } from '../src/app.js';
import { fail } from '../src/commands/registry.js';
import { ConfigError, parseConfig } from '../src/config.js';
import { HttpError } from '../src/http/errors.js';
import { integerValue, RouteTable } from '../src/http/paths.js';
import { Plugin, type PluginHooks } from '../src/plugins/plugin.js';
import type { SimClient } from '../src/sim/client.js';
import { joinApp, startApp as startTestApp } from './helpers.js';

const TOKEN = 's3cret-token';

const startApp = (token = TOKEN): Promise<App> =>
  startTestApp({ overrides: { http: { enabled: true, hostname: '127.0.0.1', port: 0, token } } });

const join = (app: App, name: string, localAddress = '127.0.0.1'): Promise<SimClient> =>
  joinApp(app, name, { localAddress });

async function call(app: App, method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const response = await fetch(`http://127.0.0.1:${app.http.port}${path}`, {
    method,
    headers: {
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    text,
  };
}

describe('operations endpoint', () => {
  it('is off by default', async () => {
    const app = await startTestApp();
    expect(app.http.port).toBe(0);
  });

  it('refuses a config that exposes the API beyond loopback without a token', () => {
    expect(() => parseConfig({ http: { enabled: true, hostname: '0.0.0.0' } }, 'config.toml')).toThrow(
      new ConfigError('config.toml: [http] token: expected a token when hostname is "0.0.0.0" (not loopback), got ""'),
    );
    expect(() => parseConfig({ http: { enabled: true, hostname: '0.0.0.0', token: 'x' } })).not.toThrow();
    // A name that only looks like a loopback address can resolve to any machine.
    expect(() => parseConfig({ http: { enabled: true, hostname: '127.0.0.1.attacker.example' } })).toThrow(ConfigError);
    expect(() => parseConfig({ http: { enabled: true, hostname: '127.0.0.2' } })).not.toThrow();
  });

  it('answers /healthz and /metrics', async () => {
    const app = await startApp();
    await join(app, 'Alice');
    await join(app, 'Watcher').then((client) => client);
    const health = await call(app, 'GET', '/healthz', undefined, null);
    expect(health).toMatchObject({ status: 200, json: { status: 'ok', clients: 2, discord: 'off' } });

    await new Promise((resolve) => setTimeout(resolve, 60)); // a few ticks
    const metrics = await call(app, 'GET', '/metrics', undefined, null);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain/);
    expect(metrics.text).toContain('ghosting_clients{kind="player"} 2');
    expect(metrics.text).toContain('ghosting_packets_in_total{type="Connect"} 2');
    expect(metrics.text).toMatch(/ghosting_packets_out_total\{type="Update"\} [1-9]/);
    expect(metrics.text).toMatch(/ghosting_bytes_out_total\{type="ConnectConfirm"\} [1-9]/);
    expect(metrics.text).toMatch(/ghosting_tick_duration_seconds_count [1-9]/);
    // Its value depends on how busy the machine is (a send thread still on the last tick skips one);
    // test/udp-fanout.test.ts pins when it counts.
    expect(metrics.text).toMatch(/^ghosting_skipped_bulk_updates_total \d+$/m);
    expect(metrics.text).toContain('ghosting_discord_queue_depth 0');
  });

  it('refuses API calls without the right bearer token, with JSON errors', async () => {
    const app = await startApp();
    expect(await call(app, 'GET', '/api/players', undefined, null)).toMatchObject({
      status: 401,
      json: { error: 'missing or wrong bearer token' },
    });
    expect((await call(app, 'GET', '/api/players', undefined, 'wrong')).status).toBe(401);
    expect(await call(app, 'GET', '/api/nothing')).toMatchObject({
      status: 404,
      json: { error: 'no such route: GET /api/nothing' },
    });
    expect(await call(app, 'DELETE', '/api/players')).toMatchObject({ status: 405 });
    expect(await call(app, 'POST', '/api/message', '{not json')).toMatchObject({
      status: 400,
      json: { error: 'the body is not valid JSON' },
    });
    expect(await call(app, 'POST', '/api/message', {})).toMatchObject({
      status: 400,
      json: { error: 'missing "text"' },
    });
  });

  it('lists players, reads and updates settings, starts a countdown and sends a message', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice');
    const players = await call(app, 'GET', '/api/players');
    expect(players.json?.players).toEqual([expect.objectContaining({ id: 1, name: 'Alice', map: 'sp_a1_intro1' })]);

    expect((await call(app, 'GET', '/api/settings')).json).toEqual({
      countdown: { duration: 3, preCommands: '', postCommands: '' },
      acceptingPlayers: true,
      acceptingSpectators: true,
      whitelistEnabled: false,
    });
    const patched = await call(app, 'PATCH', '/api/settings', {
      countdown: { duration: 7, preCommands: 'sv_cheats 0', postCommands: 'say go' },
      acceptingSpectators: false,
    });
    expect(patched.json).toMatchObject({
      countdown: { duration: 7, preCommands: 'sv_cheats 0' },
      acceptingSpectators: false,
    });
    expect(await call(app, 'PATCH', '/api/settings', { countdown: { duration: 99 } })).toMatchObject({ status: 400 });

    expect((await call(app, 'POST', '/api/countdown', {})).status).toBe(200);
    expect(await alice.waitFor((p) => p.type === 'countdown_setup')).toMatchObject({
      duration: 7,
      preCommands: 'sv_cheats 0',
      postCommands: 'say go',
    });
    expect((await call(app, 'POST', '/api/message', { text: 'from the panel' })).status).toBe(200);
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({ text: 'from the panel' });
    expect(app.store.audit.recent(1)[0]).toMatchObject({ source: 'http', action: 'say message="from the panel"' });
  });

  it('disconnects and bans by id, name or ip, and manages bans and the whitelist', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice', '127.0.0.61');
    const bob = await join(app, 'Bob', '127.0.0.62');
    expect(await call(app, 'POST', '/api/disconnect', { id: alice.id, name: 'x' })).toMatchObject({ status: 400 });
    expect((await call(app, 'POST', '/api/disconnect', { id: alice.id })).status).toBe(200);
    await alice.waitForClose();
    expect(await call(app, 'POST', '/api/disconnect', { name: 'Nobody' })).toMatchObject({
      status: 404,
      json: { error: 'no client named "Nobody"', code: 'not_found' },
    });

    expect((await call(app, 'POST', '/api/ban', { ip: '127.0.0.62', reason: 'cheating' })).status).toBe(200);
    await bob.waitForClose();
    await expect(join(app, 'Bob', '127.0.0.62')).rejects.toThrow(/closed/);
    expect((await call(app, 'GET', '/api/bans')).json?.bans).toEqual([
      expect.objectContaining({ ip: '127.0.0.62', reason: 'cheating' }),
    ]);
    expect((await call(app, 'DELETE', '/api/bans', { ip: '127.0.0.62' })).status).toBe(200);
    expect((await join(app, 'Bob', '127.0.0.62')).id).toBeGreaterThan(0);

    expect((await call(app, 'POST', '/api/whitelist', { kind: 'name', value: 'Carol' })).status).toBe(201);
    expect((await call(app, 'PUT', '/api/whitelist/enabled', { enabled: true })).json).toEqual({ enabled: true });
    await expect(join(app, 'Dave', '127.0.0.63')).rejects.toThrow(/closed/);
    expect((await join(app, 'Carol', '127.0.0.63')).id).toBeGreaterThan(0);
    expect((await call(app, 'GET', '/api/whitelist')).json).toMatchObject({
      enabled: true,
      entries: [expect.objectContaining({ kind: 'name', value: 'Carol' })],
    });
    expect((await call(app, 'DELETE', '/api/whitelist', { kind: 'name', value: 'Carol' })).status).toBe(200);
    expect(await call(app, 'DELETE', '/api/whitelist', { kind: 'name', value: 'Carol' })).toMatchObject({
      status: 404,
      json: { code: 'not_found' },
    });
  });

  it('serves the API without a token when bound to loopback with no token set', async () => {
    const app = await startApp('');
    expect((await call(app, 'GET', '/api/players', undefined, null)).status).toBe(200);
  });
});

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  json: Record<string, unknown> | undefined;
  text: string;
}

/**
 * A request with exactly the headers given (node's http, so that Host can be set), as a web page
 * or a DNS-rebinding page would send it. `chunked` sends the body without a Content-Length.
 */
function raw(
  app: App,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; chunked?: boolean } = {},
): Promise<RawResponse> {
  const { headers = {}, body, chunked = false } = options;
  const length = body !== undefined && !chunked ? { 'content-length': String(Buffer.byteLength(body)) } : {};
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: app.http.port, method, path, agent: false, headers: { ...length, ...headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : undefined,
            text,
          });
        });
      },
    );
    request.on('error', reject);
    if (chunked && body !== undefined) request.write(body);
    request.end(chunked ? undefined : body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Everything a socket receives until the server closes it. */
function text(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** Log lines as objects, from a real pino logger given to the app. */
function captureLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('the tokenless API and web pages', () => {
  it('refuses cross-origin forms and text/plain posts, foreign Hosts (DNS rebinding) and cross-site fetches; logs each kind once', async () => {
    const { logger, lines } = captureLogs();
    const app = await startTestApp({
      logger,
      overrides: { http: { enabled: true, hostname: '127.0.0.1', port: 0, token: '' } },
    });
    const alice = await join(app, 'Alice', '127.0.0.61');
    const port = app.http.port;
    const page = { origin: 'http://attacker.example' };

    // What any web page may send without asking first: text/plain and form posts.
    expect(
      await raw(app, 'POST', '/api/ban', {
        headers: { ...page, 'content-type': 'text/plain' },
        body: '{"name":"Alice"}',
      }),
    ).toMatchObject({ status: 403, json: { code: 'cross_origin' } });
    expect(
      await raw(app, 'POST', '/api/ban', { headers: { 'content-type': 'text/plain' }, body: '{"name":"Alice"}' }),
    ).toMatchObject({ status: 415, json: { code: 'unsupported_media_type' } });
    for (const body of ['name=Alice', '']) {
      expect(
        await raw(app, 'POST', '/api/disconnect', {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        }),
      ).toMatchObject({ status: 415, json: { code: 'unsupported_media_type' } });
    }
    expect(await raw(app, 'POST', '/api/countdown')).toMatchObject({ status: 415 }); // no Content-Type at all
    expect(
      await raw(app, 'POST', '/api/message', {
        headers: { 'content-type': 'application/json; charset=latin1' },
        body: '{}',
      }),
    ).toMatchObject({ status: 415 });
    expect(
      await raw(app, 'GET', '/api/players', { headers: { 'content-type': 'text/plain' }, body: 'x' }),
    ).toMatchObject({ status: 415 });

    // JSON from a page (after a preflight nobody answers, or from a page's own origin on this machine).
    for (const origin of [
      'http://attacker.example',
      'null',
      `http://localhost:${port + 1}`,
      `https://127.0.0.1:${port}`,
    ]) {
      expect(
        await raw(app, 'POST', '/api/message', { headers: { ...JSON_TYPE, origin }, body: '{"text":"pwned"}' }),
      ).toMatchObject({ status: 403, json: { code: 'cross_origin' } });
    }
    for (const site of ['cross-site', 'same-site']) {
      expect(
        await raw(app, 'POST', '/api/whitelist', {
          headers: { ...JSON_TYPE, 'sec-fetch-site': site },
          body: '{"kind":"name","value":"Mallory"}',
        }),
      ).toMatchObject({ status: 403, json: { code: 'cross_origin' } });
    }

    // DNS rebinding: a name that resolves to 127.0.0.1 reads nothing.
    for (const host of [
      `attacker.example:${port}`,
      'attacker.example',
      `127.0.0.1.attacker.example:${port}`,
      `localhost.attacker.example:${port}`,
      '127.0.0.1:x',
    ]) {
      const response = await raw(app, 'GET', '/api/players', { headers: { host } });
      expect(response, host).toMatchObject({ status: 421, json: { code: 'wrong_host' } });
      expect(response.text).not.toContain('127.0.0.61');
    }

    // This machine's own names, with or without the port; the same origin; a typed-in address.
    for (const host of [`localhost:${port}`, 'LOCALHOST', '127.0.0.1', `127.1.2.3:${port}`, `[::1]:${port}`, '[::1]']) {
      expect((await raw(app, 'GET', '/api/players', { headers: { host } })).status, host).toBe(200);
    }
    const own = { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' };
    expect((await raw(app, 'GET', '/api/players', { headers: own })).json?.players).toEqual([
      expect.objectContaining({ name: 'Alice', address: '127.0.0.61' }),
    ]);
    expect((await raw(app, 'GET', '/api/settings', { headers: { 'sec-fetch-site': 'none' } })).status).toBe(200);
    expect(
      (await raw(app, 'POST', '/api/message', { headers: { ...own, ...JSON_TYPE }, body: '{"text":"from here"}' }))
        .status,
    ).toBe(200);
    await alice.waitFor((p) => p.type === 'message' && p.text === 'from here');

    // Nothing a page sent changed anything, and the endpoint keeps serving.
    expect(await raw(app, 'GET', '/api/bans')).toMatchObject({ status: 200, json: { bans: [] } });
    expect(await raw(app, 'GET', '/api/whitelist')).toMatchObject({ status: 200, json: { entries: [] } });
    expect(app.server.listClients().map((client) => client.name)).toEqual(['Alice']);
    expect(alice.received.some(({ packet }) => packet.type === 'message' && packet.text === 'pwned')).toBe(false);

    // Every route matches its commands' arguments (a mismatch disables the route, with an error).
    expect(lines.filter((line) => line.msg?.toString().startsWith('HTTP route disabled'))).toEqual([]);

    // One warning per kind of refusal, however many came; every one counted.
    const refusals = lines.filter((line) => line.msg?.toString().startsWith('HTTP request refused'));
    expect(refusals.map((line) => line.code).sort()).toEqual(['cross_origin', 'unsupported_media_type', 'wrong_host']);
    expect(refusals.every((line) => line.level === 40)).toBe(true);
    const metrics = await raw(app, 'GET', '/metrics');
    expect(metrics.text).toContain('ghosting_http_errors_total{code="cross_origin"} 7');
    expect(metrics.text).toContain('ghosting_http_errors_total{code="wrong_host"} 5');
    expect(metrics.text).toContain('ghosting_http_errors_total{code="unsupported_media_type"} 6');
  });
});

describe('routes built from the commands', () => {
  it('types every field by its command argument, and refuses unknown fields, naming them', async () => {
    const app = await startApp();
    const bob = await join(app, 'Bob', '127.0.0.62');
    const refused = async (method: string, path: string, body: unknown, error: string) =>
      expect(await call(app, method, path, body), JSON.stringify(body)).toMatchObject({
        status: 400,
        json: { error, code: 'bad_arguments' },
      });

    await refused('POST', '/api/ban', { name: 123 }, '"name" must be a string, got an integer');
    await refused('POST', '/api/ban', { id: String(bob.id) }, '"id" must be a whole number, got a string');
    await refused('POST', '/api/ban', { id: 1.5 }, '"id" must be a whole number, got a number');
    await refused('POST', '/api/ban', { id: 0 }, '"id" must be at least 1');
    await refused('POST', '/api/ban', { ip: '127.0.0.62', reason: ['x'] }, '"reason" must be a string, got an array');
    await refused('POST', '/api/ban', { name: 'Bob', duration: 5 }, 'unknown field "duration"');
    await refused('POST', '/api/ban', { name: 'Bob', ip: '127.0.0.62' }, 'give exactly one of "id", "name" or "ip"');
    await refused('POST', '/api/ban', {}, 'give exactly one of "id", "name" or "ip"');
    await refused('POST', '/api/disconnect', { name: 'Bob', kick: true }, 'unknown field "kick"');
    await refused('DELETE', '/api/bans', { name: null }, '"name" must be a string, got null');
    await refused(
      'POST',
      '/api/whitelist',
      { kind: 'nick', value: 'Bob' },
      '"kind" must be one of name, ip, got "nick"',
    );
    await refused('POST', '/api/whitelist', { kind: 'name', value: 7 }, '"value" must be a string, got an integer');
    await refused('POST', '/api/whitelist', { kind: 'name' }, 'missing "value"');
    await refused(
      'PUT',
      '/api/whitelist/enabled',
      { enabled: 'true' },
      '"enabled" must be true or false, got a string',
    );
    await refused('PUT', '/api/whitelist/enabled', {}, 'missing "enabled"');
    await refused(
      'PATCH',
      '/api/settings',
      { countdown: { duration: '5' } },
      '"countdown.duration" must be a whole number, got a string',
    );
    await refused('PATCH', '/api/settings', { countdown: { durration: 5 } }, 'unknown field "countdown.durration"');
    await refused('PATCH', '/api/settings', { countdown: 5 }, '"countdown" must be an object, got an integer');
    await refused(
      'PATCH',
      '/api/settings',
      { acceptingPlayers: 1 },
      '"acceptingPlayers" must be true or false, got an integer',
    );
    await refused('POST', '/api/countdown', { duration: '5' }, '"duration" must be a whole number, got a string');
    await refused('POST', '/api/countdown', { duration: 0 }, '"duration" must be at least 1');
    await refused(
      'POST',
      '/api/countdown',
      { duration: 5, preset: 'race' },
      'give at most one of "duration" or "preset"',
    );
    await refused('POST', '/api/message', { text: '' }, '"text" must not be empty');
    await refused('POST', '/api/message', { text: 'hi', to: 'Bob' }, 'unknown field "to"');
    expect(
      await raw(app, 'GET', '/api/players', {
        headers: { authorization: `Bearer ${TOKEN}`, ...JSON_TYPE },
        body: '{"all":true}',
      }),
    ).toMatchObject({ status: 400, json: { error: 'unknown field "all"' } });
    expect(await call(app, 'POST', '/api/message', '[1]')).toMatchObject({ status: 400, json: { code: 'bad_json' } });

    // None of that changed anything.
    expect((await call(app, 'GET', '/api/bans')).json).toEqual({ bans: [] });
    expect((await call(app, 'GET', '/api/whitelist')).json).toEqual({ enabled: false, entries: [] });
    expect((await call(app, 'GET', '/api/settings')).json).toMatchObject({
      countdown: { duration: 3 },
      acceptingPlayers: true,
    });
    expect(app.server.listClients().map((client) => client.name)).toEqual(['Bob']);

    // The same fields, well typed, run the command the field picks.
    expect(await call(app, 'POST', '/api/ban', { id: bob.id, reason: 'spam' })).toMatchObject({
      status: 200,
      json: { ban: { name: 'Bob', ip: null, reason: 'spam' } },
    });
    await bob.waitForClose();
    expect(await call(app, 'PATCH', '/api/settings', { countdown: { preCommands: 'sv_cheats 0' } })).toMatchObject({
      status: 200,
      json: { countdown: { duration: 3, preCommands: 'sv_cheats 0', postCommands: '' } },
    });
  });

  it('backs the database up with the backup command, into [database] backup_directory', async () => {
    const directory = mkdtempSync(joinPath(tmpdir(), 'ghosting-http-backup-'));
    const app = await startTestApp({
      overrides: {
        http: { enabled: true, hostname: '127.0.0.1', port: 0, token: TOKEN },
        database: { backup_directory: directory },
      },
    });
    expect((await call(app, 'POST', '/api/whitelist', { kind: 'name', value: 'Carol' })).status).toBe(201);
    const destination = joinPath(directory, 'copy.db');
    const response = await call(app, 'POST', '/api/backup', { path: 'copy.db' });
    expect(response, response.text).toMatchObject({
      status: 200,
      json: { message: expect.any(String), path: destination, bytes: expect.any(Number) },
    });
    expect(existsSync(destination) && statSync(destination).size).toBeGreaterThan(0);
    const copy = new Database(destination, { readonly: true });
    expect(copy.prepare('SELECT kind, value FROM whitelist_entries').all()).toEqual([{ kind: 'name', value: 'Carol' }]);
    copy.close();
    expect(await call(app, 'POST', '/api/backup', { path: 'copy.db' })).toMatchObject({
      status: 409,
      json: { code: 'conflict' },
    });
    expect(await call(app, 'POST', '/api/backup', { path: joinPath(directory, 'abs.db') })).toMatchObject({
      status: 400,
      json: { code: 'bad_arguments' },
    });
    expect(existsSync(joinPath(directory, 'abs.db'))).toBe(false);
    expect(await call(app, 'POST', '/api/backup', { path: 5 })).toMatchObject({
      status: 400,
      json: { error: '"path" must be a string, got an integer' },
    });
    expect(await call(app, 'POST', '/api/backup', { path: 'other.db', gzip: true })).toMatchObject({
      status: 400,
      json: { error: 'unknown field "gzip"' },
    });
  });
});

describe('statuses', () => {
  /** The contract: docs/errors.md and README say the same. */
  const STATUS = {
    bad_arguments: 400,
    forbidden: 403,
    not_found: 404,
    unknown_command: 404,
    conflict: 409,
    refused: 422,
    internal: 500,
    unavailable: 503,
  } as const;

  it('maps every command failure code to one status, with {"error", "code"} bodies', async () => {
    const app = await startApp();
    await app.plugins.add(
      new (class extends Plugin implements PluginHooks {
        override name = 'Veto';
        beforeCountdown(countdown: { duration: number }) {
          return countdown.duration > 10 ? { allow: false as const, reason: 'too long' } : undefined;
        }
      })(),
    );
    // Failures the built-in commands give, and a plugin's veto.
    expect(await call(app, 'POST', '/api/countdown', { duration: 11 })).toMatchObject({
      status: STATUS.refused,
      json: { error: 'countdown refused: too long', code: 'refused' },
    });
    expect(await call(app, 'POST', '/api/disconnect', { name: 'Nobody' })).toMatchObject({
      status: STATUS.not_found,
      json: { error: 'no client named "Nobody"', code: 'not_found' },
    });
    expect(await call(app, 'POST', '/api/ban', { ip: 'not-an-address' })).toMatchObject({
      status: STATUS.bad_arguments,
      json: { error: '"not-an-address" is not an IP address', code: 'bad_arguments' },
    });
    expect((await call(app, 'POST', '/api/whitelist', { kind: 'ip', value: '127.0.0.9' })).status).toBe(201);
    expect(await call(app, 'POST', '/api/whitelist', { kind: 'ip', value: '127.0.0.9' })).toMatchObject({
      status: STATUS.conflict,
      json: { code: 'conflict' },
    });

    // Every code, from a `say` that fails with the code it is given (or throws, for internal).
    app.commands.unregister('say');
    expect(await call(app, 'POST', '/api/message', { text: 'hello' })).toMatchObject({
      status: STATUS.unknown_command,
      json: { code: 'unknown_command' },
    });
    app.commands.register({
      name: 'say',
      summary: 'fails on purpose',
      arguments: [{ name: 'message', type: 'rest' }],
      permission: 'moderator',
      run(_context, args) {
        const code = String(args.message) as keyof typeof STATUS;
        if (code === 'internal') throw new Error('broken on purpose');
        return fail(code, `failed with ${code}`);
      },
    });
    for (const code of Object.keys(STATUS) as Array<keyof typeof STATUS>) {
      if (code === 'unknown_command') continue;
      const response = await call(app, 'POST', '/api/message', { text: code });
      expect(response.status, code).toBe(STATUS[code]);
      expect(response.json, code).toEqual({ error: expect.any(String), code });
    }
  });
});

describe('limits', () => {
  it('refuses a bearer token of the right length with one character wrong, a foreign Origin, a body one byte over 64 KiB and a bad request target', async () => {
    const app = await startApp();
    const wrong = `${TOKEN.slice(0, -1)}${TOKEN.at(-1) === 'n' ? 'm' : 'n'}`;
    expect(wrong).toHaveLength(TOKEN.length);
    for (const token of [wrong, TOKEN.toUpperCase(), TOKEN.slice(0, -1), `${TOKEN}x`, ` ${TOKEN}`]) {
      expect(await call(app, 'GET', '/api/players', undefined, token), token).toMatchObject({
        status: 401,
        json: { code: 'unauthorized' },
      });
    }
    expect((await raw(app, 'GET', '/api/players', { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);

    // With a token the Host rule is off (a panel may use any name), the Origin rule is not.
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await raw(app, 'GET', '/api/players', { headers: { ...auth, host: 'panel.example:8080' } })).status).toBe(
      200,
    );
    expect(
      await raw(app, 'GET', '/api/players', { headers: { ...auth, origin: 'http://attacker.example' } }),
    ).toMatchObject({ status: 403, json: { code: 'cross_origin' } });

    // A body of exactly 64 KiB is accepted, one byte more is not, with or without a Content-Length.
    const LIMIT = 64 * 1024;
    const json = '{"text":"at the limit"}';
    const atLimit = json + ' '.repeat(LIMIT - json.length);
    const headers = { authorization: `Bearer ${TOKEN}`, ...JSON_TYPE };
    for (const chunked of [false, true]) {
      expect((await raw(app, 'POST', '/api/message', { headers, body: atLimit, chunked })).status).toBe(200);
      expect(await raw(app, 'POST', '/api/message', { headers, body: `${atLimit} `, chunked })).toMatchObject({
        status: 413,
        json: { code: 'body_too_large' },
      });
    }
    expect((await call(app, 'GET', '/api/players')).status).toBe(200);

    // A request target the URL parser refuses is a 404, and the endpoint goes on.
    const socket = connectTcp({ host: '127.0.0.1', port: app.http.port });
    socket.end(`GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const [answer] = (await text(socket)).split('\r\n');
    expect(answer).toBe('HTTP/1.1 404 Not Found');
    expect((await call(app, 'GET', '/healthz', undefined, null)).status).toBe(200);
  });
});

describe('the route table', () => {
  const table = new RouteTable({
    'GET /api/races': 'list',
    'GET /api/races/:id': 'one',
    'GET /api/races/live': 'live',
    'DELETE /api/races/:id': 'delete',
    'GET /api/races/:id/entrants/:name': 'entrant',
  });

  it('holds at most [http] max_connections sockets: more are closed at once, counted, logged once; the ghost server is untouched', async () => {
    const { logger, lines } = captureLogs();
    const app = await startTestApp({
      logger,
      overrides: {
        http: { enabled: true, hostname: '127.0.0.1', port: 0, token: TOKEN, max_connections: 3, max_live_viewers: 1 },
      },
    });
    const open = async () => {
      const socket = connectTcp(app.http.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      return socket;
    };
    // Three idle sockets (a slowloris sends nothing at all) hold every place.
    const held = [await open(), await open(), await open()];
    // Only a request on them tells that the server has taken them in: their answers come back.
    for (const socket of held) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await Promise.all(held.map((socket) => new Promise((resolve) => socket.once('data', resolve))));
    for (let i = 0; i < 3; i++) {
      const extra = await open();
      const answer = text(extra);
      extra.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect(await answer).toBe(''); // closed without a byte
    }
    // The game is another server: players still join.
    const alice = await join(app, 'Alice', '127.0.0.62');
    expect(alice.id).toBeGreaterThan(0);

    // A place freed is a place taken: once the server has seen one socket go, a request gets in.
    held.pop()!.destroy();
    let metrics = '';
    for (let attempt = 0; attempt < 100 && metrics === ''; attempt++) {
      const response = await fetch(`http://127.0.0.1:${app.http.port}/metrics`).catch(() => undefined);
      if (response?.ok === true) metrics = await response.text();
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The three, and any attempt above that came before the server saw the freed socket go.
    const dropped = Number(/^ghosting_http_connections_dropped_total (\d+)$/m.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThanOrEqual(3);
    const warnings = lines.filter((line) => String(line.msg).startsWith('HTTP connection dropped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe('HTTP connection dropped: [http] max_connections (3) are open');
    for (const socket of held) socket.destroy();
  });

  it('refuses a max_connections that leaves no room beside the live viewers', () => {
    expect(() => parseConfig({ http: { max_live_viewers: 1000, max_connections: 1000 } }, 'config.toml')).toThrow(
      new ConfigError(
        'config.toml: [http] max_connections: expected more than max_live_viewers (1000), as every viewer holds a connection, got number 1000',
      ),
    );
    expect(parseConfig({}).http.max_connections).toBe(2000);
  });

  it('binds :parameters to one decoded segment, prefers literal segments, and lists the methods a path has', () => {
    expect(table.match('GET', '/api/races')).toEqual({ found: true, key: 'GET /api/races', value: 'list', params: {} });
    expect(table.match('GET', '/api/races/12')).toMatchObject({ value: 'one', params: { id: '12' } });
    expect(table.match('GET', '/api/races/live')).toMatchObject({ value: 'live', params: {} });
    expect(table.match('DELETE', '/api/races/live')).toMatchObject({ value: 'delete', params: { id: 'live' } });
    expect(table.match('GET', '/api/races/3/entrants/Some%20One')).toMatchObject({
      value: 'entrant',
      params: { id: '3', name: 'Some One' },
    });
    // A parameter is exactly one segment, never empty, never a malformed escape.
    expect(table.match('GET', '/api/races/1/2')).toEqual({ found: false, allow: [] });
    expect(table.match('GET', '/api/races/%E0%A4%A')).toEqual({ found: false, allow: [] });
    expect(table.match('GET', '/api/races/3/entrants/')).toEqual({ found: false, allow: [] });
    expect(table.match('POST', '/api/races/7')).toEqual({ found: false, allow: ['GET', 'DELETE'] });
    expect(() => new RouteTable({ 'GET /api/:1': 'x' })).toThrow(/bad parameter ":1"/);
  });

  it('reads whole numbers from path and query text, and nothing else', () => {
    expect(integerValue('42', 'the race id')).toBe(42);
    expect(integerValue('007', 'the race id')).toBe(7);
    for (const text of ['', 'abc', '-1', '1.5', '1e3', ' 1', '0x10', '12abc', '99999999999999999999']) {
      expect(() => integerValue(text, 'the race id'), text).toThrow(HttpError);
    }
    expect(() => integerValue('abc', 'the race id')).toThrow('the race id must be a whole number, got "abc"');
    expect(() => integerValue('0', '"limit"', { min: 1 })).toThrow('"limit" must be at least 1');
    expect(() => integerValue('101', '"limit"', { max: 100 })).toThrow('"limit" must be at most 100');
  });
});
