/**
 * Plugins loaded from files listed in the config (TypeScript through the loader, and compiled
 * JavaScript), exercised by SAR-like clients on real sockets.
 *
 * The decorated plugin classes live in test/fixtures/plugins/*.ts and are only ever loaded by the
 * plugin loader at run time, never transformed by vitest (which does not lower decorators).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { Config } from '../src/config.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import { pluginParameters } from '../src/events.js';
import { PluginLoadError } from '../src/plugins/loader.js';
import {
  Plugin,
  ServerEvent,
  type ConnectRequestInfo,
  type CountdownInfo,
  type IClient,
} from '../src/plugins/plugin.js';
import type { RaceSnapshot } from '../src/races/types.js';
import { SimClient } from '../src/sim/client.js';
import {
  barrier,
  countPackets,
  joinApp,
  startApp as startTestApp,
  tempDatabasePath,
  testConfig,
  trackApp,
  until,
} from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));
const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** The real entry point as a child process, once it logs the port it listens on; its log as JSON lines. */
function startServerProcess(args: string[]) {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const parsed: LogLine[] = [];
  let output = '';
  let pending = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    output += text;
    pending += text;
    const complete = pending.split('\n');
    pending = complete.pop()!;
    for (const line of complete) {
      try {
        parsed.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    }
    for (const wake of [...waiters]) wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const handle = {
    child,
    port: 0,
    lines: () => parsed,
    /** Resolves with the first `count` log lines that match, failing if the process exits first. */
    waitForLines(match: (line: LogLine) => boolean, count: number, timeoutMs = 10_000): Promise<LogLine[]> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`not ${count} matching log lines within ${timeoutMs} ms:\n${output}`)),
          timeoutMs,
        );
        const onExit = (code: number | null) => finish(new Error(`the server exited with ${code}:\n${output}`));
        const check = () => {
          const found = parsed.filter(match);
          if (found.length >= count) finish(undefined, found.slice(0, count));
        };
        const finish = (error?: Error, found?: LogLine[]) => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
          if (error) reject(error);
          else resolve(found!);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
  return (
    handle
      // Generous: compiling the plugin (tsx) on a busy machine takes seconds.
      .waitForLines((line) => line.msg.startsWith('ghost server listening'), 1, 30_000)
      .then(([listening]) => ({ ...handle, port: (listening as LogLine & { port: number }).port }))
  );
}

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

/** Chat a client has received from another client, in order. */
const chatFrom = (client: SimClient, sender: SimClient): string[] =>
  client.received.flatMap(({ packet }) => (packet.type === 'message' && packet.id === sender.id ? [packet.text] : []));

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
    // Anything else these two commands sent went out before the answers above, so before the
    // PING answers too.
    await barrier(alice, bob, carol);
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
    // One sender's chat keeps its order through the hooks: had the spoiler been relayed, it would
    // have come before this.
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === alice.id)).toMatchObject({ text: '**** it' });
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
    await alice.waitFor(serverMessage('Not allowed: "seen" needs moderator permission.'));
    await first.stop('restart');

    const second = await startApp(['./gatekeeper.ts'], { database });
    expect(await second.commands.execute('seen Alice', CONSOLE_INVOKER)).toEqual({
      ok: true,
      text: 'Alice:sp_a2_laser_intro',
    });
  });
});

describe('races', () => {
  const isReady = (name: string) => (p: { type: string; id?: number; text?: string }) =>
    p.type === 'message' && p.id === 0 && (p.text ?? '').startsWith(`${name} is ready`);

  it('give each race event to @on handlers with the documented arguments', async () => {
    const app = await startApp(['./race-watcher.ts']);
    const alpha = await join(app, 'Alpha');
    const bravo = await join(app, 'Bravo');
    expect((await app.commands.execute('race open Watch me', CONSOLE_INVOKER)).ok).toBe(true);
    for (const player of [alpha, bravo]) {
      player.sendMessage('/ready');
      await player.waitFor(isReady(player.options.name));
    }
    const go = app.server.bus.once('raceStarted');
    expect((await app.commands.execute('race start 1', CONSOLE_INVOKER)).ok).toBe(true);
    await go;
    alpha.changeMap('sp_a1_intro2', 600, 600);
    await barrier(alpha);
    alpha.finishSpeedrun('0:30.000');
    await barrier(alpha);
    bravo.sendMessage('/ff'); // the last runner is done: the race ends
    await app.server.bus.once('raceEnded');

    type Kept = { event: string; arity: number; args: Array<Record<string, unknown>> };
    await until(() => (app.store.pluginData.get('Race Watcher', 'events') as Kept[] | undefined)?.length === 5);
    const kept = app.store.pluginData.get('Race Watcher', 'events') as Kept[];
    const race = (state: string, entrants: string[]) =>
      expect.objectContaining({
        id: 1,
        kind: 'race',
        title: 'Watch me',
        state,
        entrants: entrants.map((entry) => {
          const [name, status] = entry.split(':');
          return expect.objectContaining({ name, status });
        }),
      });
    const split = { fromMap: 'sp_a1_intro1', toMap: 'sp_a1_intro2', ticks: 600, ticksTotal: 600 };
    expect(kept).toEqual([
      { event: 'RaceOpen', arity: 1, args: [race('open', [])] },
      { event: 'RaceStart', arity: 1, args: [race('running', ['Alpha:running', 'Bravo:running'])] },
      {
        event: 'RaceSplit',
        arity: 3,
        args: [
          race('running', ['Alpha:running', 'Bravo:running']),
          expect.objectContaining({ name: 'Alpha', map: 'sp_a1_intro2', splits: [expect.objectContaining(split)] }),
          { ...split, elapsedMs: expect.any(Number), at: expect.any(String) },
        ],
      },
      {
        event: 'RaceFinish',
        arity: 2,
        args: [
          race('running', ['Alpha:finished', 'Bravo:running']),
          expect.objectContaining({
            name: 'Alpha',
            status: 'finished',
            finish: expect.objectContaining({ time: '0:30.000', timeMs: 30_000, place: 1 }),
          }),
        ],
      },
      { event: 'RaceEnd', arity: 1, args: [race('finished', ['Alpha:finished', 'Bravo:forfeited'])] },
    ]);
    // The same argument names as the table (docs/plugins.md lists them).
    expect(kept.map(({ event, arity }) => [event, arity])).toEqual(
      kept.map(({ event }) => [event, pluginParameters(ServerEvent[event as keyof typeof ServerEvent])!.length]),
    );
  });

  it('ask beforeRaceStart, each plugin with its own copy of the race, before beforeCountdown', async () => {
    const app = await startApp(['./race-watcher.ts']);
    const alpha = await join(app, 'Alpha');
    const hooks = () => app.store.pluginData.get('Race Watcher', 'hooks');

    expect((await app.commands.execute('race open no go', CONSOLE_INVOKER)).ok).toBe(true);
    alpha.sendMessage('/ready');
    await alpha.waitFor(isReady('Alpha'));
    expect(await app.commands.execute('race start 1', CONSOLE_INVOKER)).toEqual({
      ok: false,
      code: 'refused',
      text: 'race start refused: the watcher says no',
    });
    expect(hooks()).toEqual(['beforeRaceStart 1 open']);
    expect((await app.commands.execute('race cancel', CONSOLE_INVOKER)).ok).toBe(true);

    expect((await app.commands.execute('race open', CONSOLE_INVOKER)).ok).toBe(true);
    alpha.sendMessage('/ready');
    await alpha.waitFor(isReady('Alpha'), 2000, alpha.mark());
    const started = await app.commands.execute('race start 1', CONSOLE_INVOKER);
    expect(started).toMatchObject({ ok: true, text: 'Race 2: counting down 1 s for 1 entrant' });
    expect(hooks()).toEqual(['beforeRaceStart 1 open', 'beforeRaceStart 2 open', 'beforeCountdown 1']);
    // The hook emptied its copy's entrants: the race kept its own.
    expect(app.races.current()?.entrants.map((entrant) => entrant.name)).toEqual(['Alpha']);
    await alpha.waitFor((p) => p.type === 'countdown_setup');
  });
});

describe('a misbehaving plugin', () => {
  it('is contained: throwing handlers and a throwing command are logged, failing hooks refuse', async () => {
    const app = await startApp(['./misbehaving.ts'], { hookTimeoutMs: 300 });
    const alice = await join(app, 'Alice'); // the connect handler throws: logged, Alice is in
    const bob = await join(app, 'Bob');
    // beforeConnect throws, or never answers: refused (fail closed), the second after the timeout.
    await expect(join(app, 'Throw')).rejects.toThrow(/closed/);
    const started = performance.now();
    await expect(join(app, 'Hang')).rejects.toThrow(/closed/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);

    // The hook timeout holds each message once: a hanging or throwing beforeChat drops that
    // message, a chat command that never answers stops holding the player's chat after it.
    alice.sendMessage('throw');
    alice.sendMessage('hang');
    alice.sendMessage('/stall');
    alice.sendMessage('/boom');
    alice.sendMessage('hello'); // the message handler throws: logged, relayed anyway
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === alice.id, 3000)).toMatchObject({ text: 'hello' });
    expect(chatFrom(bob, alice)).toEqual(['hello']);
    await alice.waitFor((p) => p.type === 'message' && p.id === 0 && (p.text ?? '').includes('failed: boom'));

    // Meanwhile the server kept serving everyone.
    bob.ping();
    await bob.waitFor((p) => p.type === 'ping');
    expect(app.server.listClients().map((client) => client.name)).toEqual(['Alice', 'Bob']);
  });
});

/** A plugin's hooks, answering whatever the test needs (typed `unknown`: they break the contract). */
class BrokenHooks extends Plugin {
  override name = 'Broken Hooks';

  beforeConnect(request: ConnectRequestInfo): unknown {
    switch (request.name) {
      case 'NoReason':
        return { allow: false };
      case 'Throw':
        throw new Error('connect hook bug');
      case 'Hang':
        return new Promise(() => {});
      case 'Sloppy':
        return { allow: 'yes' };
      case 'Extra':
        return { allow: true, because: 'a friend' };
      case 'Rambling':
        return { allow: false, reason: 'x'.repeat(201) };
      case 'Forger':
        return { allow: false, reason: 'no\n{"level":30,"msg":"fake line"}' };
      default:
        return undefined;
    }
  }

  beforeChat(_client: IClient, text: string): unknown {
    switch (text) {
      case 'rewrite without text':
        return { action: 'rewrite' };
      case 'rewrite to a number':
        return { action: 'rewrite', text: 42 };
      case 'a bare string':
        return 'drop';
      case 'null':
        return null;
      case 'throw':
        throw new Error('chat hook bug');
      case 'hang':
        return new Promise(() => {});
      case 'unknown action':
        return { action: 'shout' };
      default:
        return undefined;
    }
  }

  beforeRaceStart(race: RaceSnapshot): unknown {
    switch (race.title) {
      case 'no reason':
        return { allow: false, reason: ' ' };
      case 'throw':
        throw new Error('race hook bug');
      case 'hang':
        return new Promise(() => {});
      case 'a bare string':
        return 'no';
      case 'allow with a reason':
        return { allow: true, reason: 'fine' };
      default:
        return undefined;
    }
  }

  beforeCountdown(countdown: CountdownInfo): unknown {
    switch (countdown.duration) {
      case 6:
        return { allow: false, reason: 6 };
      case 7:
        return { allow: false };
      case 8:
        throw new Error('countdown hook bug');
      case 9:
        return new Promise(() => {});
      default:
        return undefined;
    }
  }
}

/** An app with these plugin instances added (as code embedding the server adds them), and its log. */
async function startWith(plugins: Plugin[], hookTimeoutMs = 300): Promise<{ app: App; log: () => LogLine[] }> {
  const lines: string[] = [];
  const config = testConfig({ limits: { ...testConfig().limits, chat_per_second: 100 } });
  config.database.path = tempDatabasePath();
  config.plugins.hook_timeout_ms = hookTimeoutMs;
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const app = trackApp(createApp({ config, logger, configDirectory: fixtures }));
  await app.start(plugins);
  return { app, log: () => lines.map((line) => JSON.parse(line) as LogLine) };
}

interface LogLine {
  level: number;
  msg: string;
  plugin?: string;
  hook?: string;
  err?: { message: string };
}

/** "hook: message" of each error line logged for a plugin. */
const pluginErrors = (log: LogLine[], plugin: string) =>
  log.filter((line) => line.level === 50 && line.plugin === plugin).map((line) => line.msg);

describe('hooks fail closed', () => {
  it('refuses a connection when beforeConnect refuses without a reason, throws, hangs or answers nonsense', async () => {
    const { app, log } = await startWith([new BrokenHooks()]);
    const refusals: string[] = [];
    app.server.bus.on('clientRefused', ({ name, code, reason }) => void refusals.push(`${name}: ${code}: ${reason}`));
    const names = ['NoReason', 'Throw', 'Hang', 'Sloppy', 'Extra', 'Rambling', 'Forger'];
    for (const name of names) await expect(join(app, name), name).rejects.toThrow(/closed/);
    const failed = 'plugin "Broken Hooks" failed to decide';
    expect(refusals).toEqual([
      'NoReason: plugin: plugin "Broken Hooks" gave no reason',
      ...names.slice(1).map((name) => `${name}: plugin: ${failed}`),
    ]);
    // One error line each (none for a refusal without a reason: that is a valid answer).
    expect(pluginErrors(log(), 'Broken Hooks')).toEqual([
      'beforeConnect threw: connect hook bug; connection refused',
      'beforeConnect did not answer within 300 ms; connection refused',
      'beforeConnect answered allow: a string, not true or false; connection refused',
      'beforeConnect answered an object with an unknown key "because"; connection refused',
      'beforeConnect gave a reason of 201 characters (at most 200); connection refused',
      'beforeConnect gave a reason with control or invisible characters; connection refused',
    ]);

    // Everyone else still gets in and is relayed.
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    alice.sendMessage('still here');
    await bob.waitFor((p) => p.type === 'message' && p.id === alice.id && p.text === 'still here');
  });

  it('drops a chat message whose beforeChat throws, hangs or answers nonsense, and keeps relaying', async () => {
    const { app, log } = await startWith([new BrokenHooks()]);
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    const broken = [
      'rewrite without text',
      'rewrite to a number',
      'a bare string',
      'null',
      'throw',
      'hang',
      'unknown action',
    ];
    for (const text of broken) alice.sendMessage(text);
    alice.sendMessage('fine');
    // One sender's chat is decided in order: once "fine" is here, the others were dropped.
    await bob.waitFor((p) => p.type === 'message' && p.id === alice.id && p.text === 'fine', 3000);
    expect(chatFrom(bob, alice)).toEqual(['fine']);
    expect(pluginErrors(log(), 'Broken Hooks')).toEqual([
      'beforeChat answered "rewrite" with a text that is undefined, not a string; message dropped',
      'beforeChat answered "rewrite" with a text that is a number, not a string; message dropped',
      'beforeChat answered a string, not { action, text? } or nothing; message dropped',
      'beforeChat answered null, not { action, text? } or nothing; message dropped',
      'beforeChat threw: chat hook bug; message dropped',
      'beforeChat did not answer within 300 ms; message dropped',
      'beforeChat answered action "shout", not "allow", "rewrite" or "drop"; message dropped',
    ]);
    bob.sendMessage('and back');
    await alice.waitFor((p) => p.type === 'message' && p.id === bob.id && p.text === 'and back');
  });

  it('refuses a countdown when beforeCountdown refuses without a reason, throws, hangs or answers nonsense', async () => {
    const { app, log } = await startWith([new BrokenHooks()]);
    const bob = await join(app, 'Bob');
    const answers: string[] = [];
    for (const duration of [6, 7, 8, 9]) {
      const result = await app.commands.execute(`countdown start ${duration}`, CONSOLE_INVOKER);
      expect(result.ok, String(duration)).toBe(false);
      answers.push(result.text);
    }
    expect(answers).toEqual([
      'countdown refused: plugin "Broken Hooks" failed to decide',
      'countdown refused: plugin "Broken Hooks" gave no reason',
      'countdown refused: plugin "Broken Hooks" failed to decide',
      'countdown refused: plugin "Broken Hooks" failed to decide',
    ]);
    expect(pluginErrors(log(), 'Broken Hooks')).toEqual([
      'beforeCountdown gave a reason that is a number, not a string; countdown refused',
      'beforeCountdown threw: countdown hook bug; countdown refused',
      'beforeCountdown did not answer within 300 ms; countdown refused',
    ]);
    // A countdown the hook has nothing against still starts.
    expect((await app.commands.execute('countdown start 3', CONSOLE_INVOKER)).ok).toBe(true);
    await bob.waitFor((p) => p.type === 'countdown_setup');
  });

  it('refuses a race start when beforeRaceStart refuses without a reason, throws, hangs or answers nonsense', async () => {
    const { app, log } = await startWith([new BrokenHooks()]);
    const alice = await join(app, 'Alice');
    const answers: string[] = [];
    const titles = ['no reason', 'throw', 'hang', 'a bare string', 'allow with a reason'];
    for (const title of titles) {
      expect((await app.commands.execute(`race open ${title}`, CONSOLE_INVOKER)).ok, title).toBe(true);
      alice.sendMessage('/ready');
      await alice.waitFor(
        (p) => p.type === 'message' && p.id === 0 && p.text.startsWith('Alice is ready'),
        2000,
        alice.mark(),
      );
      const result = await app.commands.execute('race start 1', CONSOLE_INVOKER);
      expect(result, title).toMatchObject({ ok: false, code: 'refused' });
      answers.push(result.text);
      expect(app.races.current()?.state, title).toBe('open');
      expect((await app.commands.execute('race cancel', CONSOLE_INVOKER)).ok).toBe(true);
    }
    const failed = 'race start refused: plugin "Broken Hooks" failed to decide';
    expect(answers).toEqual([
      'race start refused: plugin "Broken Hooks" gave no reason',
      ...titles.slice(1).map(() => failed),
    ]);
    expect(pluginErrors(log(), 'Broken Hooks')).toEqual([
      'beforeRaceStart threw: race hook bug; race start refused',
      'beforeRaceStart did not answer within 300 ms; race start refused',
      'beforeRaceStart answered a string, not { allow, reason? } or nothing; race start refused',
      'beforeRaceStart gave a reason with allow: true; race start refused',
    ]);
    await barrier(alice);
    expect(countPackets(alice, 'countdown_setup')).toBe(0);

    // A race the hook has nothing against starts.
    expect((await app.commands.execute('race open fine', CONSOLE_INVOKER)).ok).toBe(true);
    alice.sendMessage('/ready');
    await alice.waitFor(
      (p) => p.type === 'message' && p.id === 0 && p.text.startsWith('Alice is ready'),
      2000,
      alice.mark(),
    );
    expect((await app.commands.execute('race start 1', CONSOLE_INVOKER)).ok).toBe(true);
    await alice.waitFor((p) => p.type === 'countdown_setup');
  });

  it('limits each plugin to 10 error lines per 10 seconds and says how many it left out', async () => {
    const { app, log } = await startWith([new BrokenHooks()]);
    for (let i = 0; i < 14; i++) await app.commands.execute('countdown start 8', CONSOLE_INVOKER);
    const lines = log().filter((line) => line.plugin === 'Broken Hooks');
    expect(lines.filter((line) => line.level === 50)).toHaveLength(10);
    expect(lines.filter((line) => line.level === 40).map((line) => line.msg)).toEqual([
      'more than 10 errors within 10 s: the next ones are counted, not logged, for up to 10 s',
    ]);
  });

  it('gives onLoad hook_timeout_ms too: a plugin whose onLoad never finishes is not loaded', async () => {
    class SlowStart extends Plugin {
      override name = 'Slow Start';
      onLoad(): Promise<void> {
        return new Promise(() => {});
      }
    }
    const config = testConfig();
    config.database.path = tempDatabasePath();
    config.plugins.hook_timeout_ms = 200;
    const app = trackApp(createApp({ config }));
    await expect(app.start([new SlowStart()])).rejects.toThrow(
      /^plugin "Slow Start": onLoad did not answer within 200 ms$/,
    );
    expect(app.server.running).toBe(false);
  });

  it('refuses to load a plugin with an unusable name or a hook that is not a method', async () => {
    class Nameless extends Plugin {
      override name = ' ';
    }
    class TwoLines extends Plugin {
      override name = 'Two\nLines';
    }
    class NotAMethod extends Plugin {
      override name = 'Not A Method';
      readonly beforeChat = 'drop';
    }
    for (const [plugin, message] of [
      [new Nameless(), /^plugin "\(embedded\)": its name is empty$/],
      [new TwoLines(), /^plugin "\(embedded\)": its name has control or invisible characters$/],
      [new NotAMethod(), /^plugin "Not A Method": beforeChat is a string, not a method$/],
    ] as const) {
      const config = testConfig();
      config.database.path = tempDatabasePath();
      const app = trackApp(createApp({ config }));
      await expect(app.start([plugin])).rejects.toThrow(message);
    }
  });
});

describe("a plugin's own timers and promises", () => {
  it('are logged as its errors, and the server (node dist/index.js) keeps serving', { timeout: 60_000 }, async () => {
    const directory = mkdtempSync(joinPath(tmpdir(), 'ghosting-plugin-timers-'));
    const configPath = joinPath(directory, 'config.toml');
    writeFileSync(
      configPath,
      [
        '[server]',
        'hostname = "127.0.0.1"',
        'port = 0',
        '[database]',
        `path = ${JSON.stringify(joinPath(directory, 'ghosting.db'))}`,
        '[plugins]',
        `modules = [${JSON.stringify(joinPath(fixtures, 'timer-bugs.ts'))}]`,
      ].join('\n'),
    );
    const server = await startServerProcess(['--config', configPath, '--no-cli']);
    const alice = await SimClient.connect({ host: '127.0.0.1', port: server.port, name: 'Alice', map: 'sp_a1_intro1' });
    const bob = await SimClient.connect({ host: '127.0.0.1', port: server.port, name: 'Bob', map: 'sp_a1_intro1' });
    try {
      alice.sendMessage('/explode');
      await alice.waitFor(serverMessage('scheduled'));
      const failures = [
        'timeout bug',
        'interval bug 1',
        'interval bug 2',
        'async timer bug',
        'forgotten promise',
        'microtask bug',
        'immediate bug',
      ];
      const logged = await server.waitForLines(
        (line) => line.plugin === 'Timer Bugs' && line.level === 50,
        failures.length,
      );
      expect(logged.map((line) => line.err?.message).sort()).toEqual([...failures].sort());
      for (const line of logged)
        expect(line.msg).toMatch(/^plugin code failed where nothing caught it \(.+\); the server goes on$/);

      // Still serving: chat is relayed both ways, and a ping answered, after every failure.
      alice.sendMessage('still alive?');
      await bob.waitFor((p) => p.type === 'message' && p.id === alice.id && p.text === 'still alive?');
      bob.sendMessage('yes');
      await alice.waitFor((p) => p.type === 'message' && p.id === bob.id && p.text === 'yes');
      expect(server.child.exitCode).toBeNull();
      expect(server.lines().filter((line) => line.level >= 60)).toEqual([]);
    } finally {
      alice.close();
      bob.close();
    }
    server.child.kill('SIGTERM');
    expect(await new Promise((resolve) => server.child.once('exit', resolve))).toBe(0);
  });
});

describe('containment', () => {
  it('blames what a plugin scheduled on the plugin, and what the server did for it on nobody', async () => {
    const { containMicrotasks, containPluginError, currentPlugin, outsidePlugins, runAsPlugin } =
      await import('../src/plugins/containment.js');
    const failures: string[] = [];
    const scope = { name: 'Probe', fail: (_message: string, error?: unknown) => void failures.push(String(error)) };
    const seen: Array<string | undefined> = [];
    await new Promise<void>((resolve) =>
      runAsPlugin(scope, () => {
        setTimeout(() => seen.push(currentPlugin()?.name), 1);
        void Promise.resolve().then(() => seen.push(currentPlugin()?.name));
        // Server code a plugin calls (a broadcast, a storage write, its logger) runs outside it.
        outsidePlugins(() =>
          setTimeout(() => {
            seen.push(currentPlugin()?.name);
            resolve();
          }, 20),
        );
      }),
    );
    expect(seen).toEqual(['Probe', 'Probe', undefined]);

    expect(containPluginError(new Error('a server bug'))).toBe(false);
    expect(runAsPlugin(scope, () => containPluginError(new Error('a plugin bug')))).toBe(true);
    containMicrotasks();
    await new Promise<void>((resolve) =>
      runAsPlugin(scope, () => {
        queueMicrotask(() => {
          throw new Error('a microtask bug');
        });
        queueMicrotask(resolve);
      }),
    );
    expect(failures).toEqual(['Error: a plugin bug', 'Error: a microtask bug']);
  });
});

describe('the table of events', () => {
  it('keeps the plugin names of every event', () => {
    expect({ ...ServerEvent }).toEqual({
      ClientConnect: 'clientConnected',
      ClientDisconnect: 'clientDisconnected',
      ClientMessage: 'clientMessage',
      MapChange: 'mapChanged',
      SpeedrunFinish: 'speedrunFinished',
      CountdownStart: 'countdownStarted',
      CountdownGo: 'countdownGo',
      ModelChange: 'modelChanged',
      ColorChange: 'colorChanged',
      ServerStart: 'serverStarted',
      ServerStop: 'serverStopping',
      RaceOpen: 'raceOpened',
      RaceStart: 'raceStarted',
      RaceSplit: 'raceSplit',
      RaceFinish: 'raceFinished',
      RaceEnd: 'raceEnded',
    });
    expect(Object.isFrozen(ServerEvent)).toBe(true);
  });

  it('is what docs/plugins.md lists: every event plugins can listen to, with its arguments', () => {
    const docs = readFileSync(new URL('../docs/plugins.md', import.meta.url), 'utf8');
    const documented = [...docs.matchAll(/^\| `ServerEvent\.(\w+)` \| `\(([^)]*)\)` \|/gm)].map(
      ([, key, parameters]) => `${key}(${parameters})`,
    );
    const table = Object.entries(ServerEvent).map(
      ([key, event]) => `${key}(${(pluginParameters(event) ?? ['?']).join(', ')})`,
    );
    expect(documented.sort()).toEqual(table.sort());
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
    await barrier(await join(app, 'Alice'));
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
