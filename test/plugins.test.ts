/**
 * Plugins loaded from files listed in the config (TypeScript through the loader, and compiled
 * JavaScript), exercised by SAR-like clients on real sockets.
 *
 * The decorated plugin classes live in test/fixtures/plugins/*.ts and are only ever loaded by the
 * plugin loader at run time, never transformed by vitest (which does not lower decorators).
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { Config } from '../src/config.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import { PluginLoadError } from '../src/plugins/loader.js';
import type { SimClient } from '../src/sim/client.js';
import {
  countPackets,
  joinApp,
  sleep,
  startApp as startTestApp,
  tempDatabasePath,
  testConfig,
  trackApp,
  until,
} from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));

function startApp(
  modules: Config['plugins']['modules'],
  options: { database?: string; hookTimeoutMs?: number; configDirectory?: string } = {},
): Promise<App> {
  return startTestApp({
    configDirectory: options.configDirectory ?? fixtures,
    ...(options.database !== undefined ? { database: options.database } : {}),
    configure(config) {
      config.plugins.modules = modules;
      config.plugins.hook_timeout_ms = options.hookTimeoutMs ?? 300;
    },
  });
}

const join = (app: App, name: string): Promise<SimClient> => joinApp(app, name);

const serverMessage = (text: string) => (p: { type: string; id?: number; text?: string }) =>
  p.type === 'message' && p.id === 0 && p.text === text;

describe('the example plugin from the specification', () => {
  it('answers /ping with pong! to that client only, and /dm reaches only the named player', async () => {
    const app = await startApp(['./example.ts']);
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    const carol = await join(app, 'Carol');

    alice.sendMessage('/ping');
    await alice.waitFor(serverMessage('pong!'));
    bob.sendMessage('/dm Carol meet at the elevator');
    await carol.waitFor(serverMessage('meet at the elevator'));
    await sleep(100);
    for (const [client, count] of [
      [alice, 1],
      [bob, 0],
      [carol, 1],
    ] as const) {
      expect(countPackets(client, 'message'), client.options.name).toBe(count);
    }

    // Unknown commands get a hint; ordinary chat is still relayed (and seen by @on handlers).
    bob.sendMessage('/frobnicate');
    await bob.waitFor(serverMessage('Unknown command /frobnicate. Type /help for the list.'));
    bob.sendMessage('gl everyone');
    await alice.waitFor((p) => p.type === 'message' && p.id === bob.id && p.text === 'gl everyone');
    await until(() => app.store.pluginData.get('Example Plugin', 'last message') === 'gl everyone');

    bob.sendMessage('/dm Nobody hi');
    await bob.waitFor(serverMessage('no player "Nobody" is connected'));
  });

  it('runs the same commands from the console, with respond() answering there', async () => {
    const app = await startApp(['./example.ts']);
    expect(await app.commands.execute('ping', CONSOLE_INVOKER)).toEqual({ ok: true, text: 'pong!' });
    const alice = await join(app, 'Alice');
    expect((await app.commands.execute('dm #1 from the console', CONSOLE_INVOKER)).ok).toBe(true);
    await alice.waitFor(serverMessage('from the console'));
    expect((await app.commands.execute('help ping', CONSOLE_INVOKER)).text).toContain('Ping the server!');
  });

  it('loads compiled JavaScript as well as TypeScript', async () => {
    const source = readFileSync(joinPath(fixtures, 'example.ts'), 'utf8');
    const compiled = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText;
    // Placed inside the repository so that `import 'ghosting'` resolves to this package.
    const dir = mkdtempSync(joinPath(fixtures, 'compiled-'));
    writeFileSync(joinPath(dir, 'example.js'), compiled);
    try {
      const app = await startApp([`./${dir.split('/').pop()}/example.js`]);
      const alice = await join(app, 'Alice');
      alice.sendMessage('/ping');
      await alice.waitFor(serverMessage('pong!'));
    } finally {
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hooks', () => {
  it('refuse a client, drop or rewrite chat, and veto a countdown, in load order', async () => {
    const app = await startApp(['./gatekeeper.ts']);
    const refused = app.server.bus.once('clientRefused');
    await expect(join(app, 'Mallory')).rejects.toThrow(/closed/);
    expect((await refused).reason).toBe('no Mallorys');

    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    alice.sendMessage('the ending is a spoiler');
    alice.sendMessage('darn it');
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === alice.id)).toMatchObject({ text: '**** it' });
    await sleep(50);
    expect(countPackets(bob, 'message')).toBe(1);

    expect((await app.commands.execute('countdown start 30', CONSOLE_INVOKER)).text).toBe(
      'countdown refused: too long',
    );
    expect(await app.commands.execute('veto', CONSOLE_INVOKER)).toEqual({
      ok: false,
      code: 'refused',
      text: 'vetoed by the gatekeeper',
    });
    expect((await app.commands.execute('countdown start 5', CONSOLE_INVOKER)).ok).toBe(true);
    await bob.waitFor((p) => p.type === 'countdown_setup');
  });

  it('give @on handlers their arguments, keep storage across a restart, and gate commands by permission', async () => {
    const database = tempDatabasePath();
    const first = await startApp(['./gatekeeper.ts'], { database });
    const alice = await join(first, 'Alice');
    alice.changeMap('sp_a2_laser_intro');
    await until(() => first.store.pluginData.get('Gatekeeper', 'maps') !== undefined);
    alice.sendMessage('/seen');
    await alice.waitFor(serverMessage('"seen" needs moderator permission'));
    await first.stop('restart');

    const second = await startApp(['./gatekeeper.ts'], { database });
    expect(await second.commands.execute('seen Alice', CONSOLE_INVOKER)).toEqual({
      ok: true,
      text: 'Alice:sp_a2_laser_intro',
    });
  });
});

describe('a misbehaving plugin', () => {
  it('is logged and skipped: throwing handlers and hooks, a throwing command, a hanging hook', async () => {
    const app = await startApp(['./misbehaving.ts'], { hookTimeoutMs: 300 });
    const alice = await join(app, 'Alice'); // the connect handler throws
    const bob = await join(app, 'Throw'); // beforeConnect throws: skipped, so admitted

    alice.sendMessage('hello'); // beforeChat and the message handler throw: relayed anyway
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === alice.id)).toMatchObject({ text: 'hello' });

    alice.sendMessage('/boom');
    await alice.waitFor((p) => p.type === 'message' && p.id === 0 && (p.text ?? '').includes('failed: boom'));

    // A hook that never answers holds only that decision, for hook_timeout_ms at most.
    const started = performance.now();
    const hanging = await join(app, 'Hang');
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    alice.sendMessage('hang');
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === alice.id && p.text === 'hang', 2000)).toBeTruthy();

    // Meanwhile the server kept serving everyone.
    hanging.ping();
    await hanging.waitFor((p) => p.type === 'ping');
    expect(app.server.listClients().map((client) => client.name)).toEqual(['Alice', 'Throw', 'Hang']);
  });
});

describe('loading', () => {
  it('stops start-up with a clear message when a required plugin cannot load', async () => {
    const config = testConfig();
    config.database.path = tempDatabasePath();
    config.plugins.modules = ['./missing.ts'];
    const app = trackApp(createApp({ config, configDirectory: fixtures }));
    await expect(app.start()).rejects.toThrow(PluginLoadError);
    await expect(app.start()).rejects.toThrow(/plugin "\.\/missing\.ts" \(.*missing\.ts\): cannot load/);
    expect(app.server.running).toBe(false);
  });

  it('leaves nothing behind of an optional plugin whose onLoad fails', async () => {
    const app = await startApp([{ module: './half-loaded.ts', optional: true }, './example.ts']);
    expect(app.plugins.loaded.map((loaded) => loaded.plugin.name)).toEqual(['Example Plugin']);
    expect((await app.commands.execute('leftover', CONSOLE_INVOKER)).text).toMatch(/unknown command/);
    await join(app, 'Alice');
    await sleep(50);
    expect(app.store.pluginData.get('Half loaded', 'saw a connect')).toBeUndefined();
  });

  it('finds a plugin package that only exports an ES module entry', async () => {
    const source = readFileSync(joinPath(fixtures, 'example.ts'), 'utf8');
    const compiled = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText;
    const project = mkdtempSync(joinPath(tmpdir(), 'ghosting-esm-plugin-'));
    const modules = joinPath(project, 'node_modules');
    mkdirSync(joinPath(modules, 'esm-only-plugin'), { recursive: true });
    symlinkSync(fileURLToPath(new URL('..', import.meta.url)), joinPath(modules, 'ghosting'), 'dir');
    writeFileSync(
      joinPath(modules, 'esm-only-plugin', 'package.json'),
      JSON.stringify({ name: 'esm-only-plugin', type: 'module', exports: { '.': { import: './plugin.js' } } }),
    );
    writeFileSync(joinPath(modules, 'esm-only-plugin', 'plugin.js'), compiled);
    const app = await startApp(['esm-only-plugin'], { configDirectory: project });
    expect((await app.commands.execute('ping', CONSOLE_INVOKER)).text).toBe('pong!');
  });

  it('skips an optional plugin that cannot load, and names a module without plugins', async () => {
    const app = await startApp([{ module: './missing.ts', optional: true }, './example.ts']);
    expect(app.plugins.loaded.map((loaded) => loaded.plugin.name)).toEqual(['Example Plugin']);

    const config = testConfig();
    config.database.path = tempDatabasePath();
    config.plugins.modules = ['./not-a-plugin.ts'];
    const empty = trackApp(createApp({ config, configDirectory: fixtures }));
    await expect(empty.start()).rejects.toThrow(/exports no class that extends Plugin/);
  });
});
