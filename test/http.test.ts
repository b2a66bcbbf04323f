/**
 * /healthz, /metrics and the management API with real HTTP requests, against the real app and
 * SAR-like clients.
 */
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ConfigError, parseConfig } from '../src/config.js';
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
  });

  it('answers /healthz and /metrics', async () => {
    const app = await startApp();
    await join(app, 'Alice');
    await join(app, 'Watcher').then((client) => client);
    const health = await call(app, 'GET', '/healthz', undefined, null);
    expect(health).toMatchObject({ status: 200, json: { status: 'ok', clients: 2 } });

    await new Promise((resolve) => setTimeout(resolve, 60)); // a few ticks
    const metrics = await call(app, 'GET', '/metrics', undefined, null);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain/);
    expect(metrics.text).toContain('ghosting_clients{kind="player"} 2');
    expect(metrics.text).toContain('ghosting_packets_in_total{type="Connect"} 2');
    expect(metrics.text).toMatch(/ghosting_packets_out_total\{type="Update"\} [1-9]/);
    expect(metrics.text).toMatch(/ghosting_bytes_out_total\{type="ConnectConfirm"\} [1-9]/);
    expect(metrics.text).toMatch(/ghosting_tick_duration_seconds_count [1-9]/);
    expect(metrics.text).toContain('ghosting_skipped_bulk_updates_total 0');
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
      status: 400,
      json: { error: 'no client named "Nobody"' },
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
      status: 400,
    });
  });

  it('serves the API without a token when bound to loopback with no token set', async () => {
    const app = await startApp('');
    expect((await call(app, 'GET', '/api/players', undefined, null)).status).toBe(200);
  });
});
