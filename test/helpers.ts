/**
 * Test harness: real servers on 127.0.0.1 with an OS-chosen port and short timers, real
 * simulated clients, and cleanup of everything a test started.
 */
import { afterEach } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { createApp, type App, type AppOptions } from '../src/app.js';
import { connect as connectTcp, type Socket } from 'node:net';
import { defaultConfig, type Config } from '../src/config.js';
import { GhostServer } from '../src/ghost/server.js';
import { SimClient, type SimClientOptions } from '../src/sim/client.js';
import { pino } from 'pino';

type Overrides = { [S in keyof Config]?: Partial<Config[S]> };

/** Defaults with timers shortened so that heartbeat and handshake tests take a fraction of a second. */
export function testConfig(overrides: Overrides = {}): Config {
  const config = defaultConfig();
  config.server.hostname = '127.0.0.1';
  config.server.port = 0;
  config.timing.tick_interval_ms = 20;
  config.timing.heartbeat_interval_ms = 5000;
  config.timing.udp_keepalive_interval_ms = 1000;
  config.timing.handshake_timeout_ms = 1500;
  config.timing.voice_grace_ms = 0;
  config.timing.shutdown_timeout_ms = 500;
  // Tests use a PING round trip as a barrier (see barrier()), often several a second.
  config.limits.ping_per_second = 0;
  for (const [section, values] of Object.entries(overrides)) {
    Object.assign(config[section as keyof Config], values);
  }
  return config;
}

const servers: GhostServer[] = [];
const apps: App[] = [];
const clients: SimClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.stop('test finished')));
  await Promise.all(apps.splice(0).map((app) => app.stop('test finished')));
});

export async function startServer(overrides: Overrides = {}): Promise<GhostServer> {
  const logger = process.env.TEST_LOG ? pino({ level: process.env.TEST_LOG }) : undefined;
  const server = new GhostServer({ config: testConfig(overrides), ...(logger ? { logger } : {}) });
  servers.push(server);
  await server.start();
  return server;
}

export async function join(
  server: GhostServer,
  name: string,
  options: Partial<SimClientOptions> = {},
): Promise<SimClient> {
  const client = await SimClient.connect({
    host: '127.0.0.1',
    port: server.port,
    name,
    map: 'sp_a1_intro1',
    ...options,
  });
  clients.push(client);
  return client;
}

/** A raw TCP connection, for speaking out of turn. */
export function rawConnection(server: GhostServer, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: '127.0.0.1', port: server.port, ...(localAddress ? { localAddress } : {}) });
    sockets.push(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

export function closed(socket: Socket, timeoutMs = 3000): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A PING round trip for each client, one after another. Once it resolves, the server has handled
 * everything these clients sent over TCP before the call, and everything it sent them as a
 * result has arrived — so "nothing else arrived" can be checked without sleeping.
 */
export async function barrier(...clients: SimClient[]): Promise<void> {
  for (const client of clients) await client.roundTrip();
}

/** Polls until `condition` holds, failing after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function countPackets(client: SimClient, type: string, since = 0): number {
  return client.received.slice(since).filter((received) => received.packet.type === type).length;
}

/** A database file in a fresh temporary folder. */
export function tempDatabasePath(): string {
  return joinPath(mkdtempSync(joinPath(tmpdir(), 'ghosting-test-')), 'data', 'ghosting.db');
}

export interface TestAppOptions extends Omit<AppOptions, 'config'> {
  /** Config sections to override on top of testConfig(). */
  overrides?: Overrides;
  /** Last changes to the config (plugins, presets, ...). */
  configure?: (config: Config) => void;
  database?: string;
}

/** The whole app (server, database, commands, plugins, Discord, HTTP), stopped after the test. */
export async function startApp(options: TestAppOptions = {}): Promise<App> {
  const { overrides, configure, database, ...appOptions } = options;
  const config = testConfig(overrides);
  config.database.path = database ?? tempDatabasePath();
  configure?.(config);
  const app = createApp({ config, ...appOptions });
  apps.push(app);
  await app.start();
  return app;
}

/** Stops, after the test, an app the test created itself (for example one that must fail to start). */
export function trackApp(app: App): App {
  apps.push(app);
  return app;
}

/** A SAR-like client on an app's server, closed after the test. */
export async function joinApp(app: App, name: string, options: Partial<SimClientOptions> = {}): Promise<SimClient> {
  const client = await SimClient.connect({
    host: '127.0.0.1',
    port: app.server.port,
    name,
    map: 'sp_a1_intro1',
    ...options,
  });
  clients.push(client);
  return client;
}
