/**
 * `npm run client` (dist/sim/cli.js, built by the global setup) as a child process against a real
 * server, rehearsing a race: typed map changes carry the split ticks given or SAR's own, the
 * finish carries the time typed or the timer's, and --auto-run walks the route from the
 * countdown's go. A SimClient in the test watches what arrives.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import type { ServerPacket } from '../src/ghost/protocol/packets.js';
import { NO_SPLIT, type SimClient } from '../src/sim/client.js';
import { join, joinApp, startApp, startServer, until } from './helpers.js';

const entry = fileURLToPath(new URL('../dist/sim/cli.js', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

interface Cli {
  child: ChildProcessWithoutNullStreams;
  id: number;
  type: (line: string) => void;
  output: () => string;
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: () => Promise<number | null>;
}

/** Starts the client and resolves once it has joined (its id read from what it prints). */
async function startCli(port: number, args: string[]): Promise<Cli> {
  const child = spawn(process.execPath, [entry, '--port', String(port), '--rate', '5', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  const onData = (text: string) => (output += text);
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const onExit = () => {
        cleanup();
        reject(new Error(`the client exited before printing ${pattern}:\n${output}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        child.off('exit', onExit);
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', onExit);
      check();
    });
  await waitForOutput(/connected to .* \(#\d+\)/);
  const id = Number(/connected to .* \(#(\d+)\)/.exec(output)![1]);
  return {
    child,
    id,
    type: (line) => child.stdin.write(`${line}\n`),
    output: () => output,
    waitForOutput,
    exited: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode);
        else child.once('exit', (code) => resolve(code));
      }),
  };
}

type MapChange = Extract<ServerPacket, { type: 'map_change' }>;
type Finish = Extract<ServerPacket, { type: 'speedrun_finish' }>;

function mapChangeFrom(watcher: SimClient, id: number, map: string, since = 0): Promise<MapChange> {
  return watcher.waitFor(
    (packet): packet is MapChange => packet.type === 'map_change' && packet.id === id && packet.map === map,
    5000,
    since,
  );
}

function finishFrom(watcher: SimClient, id: number, since = 0): Promise<Finish> {
  return watcher.waitFor(
    (packet): packet is Finish => packet.type === 'speedrun_finish' && packet.id === id,
    5000,
    since,
  );
}

/** SAR's time text in seconds ("7.250", "1:02.345"). */
function seconds(time: string): number {
  const parts = time.split(':').map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

describe('npm run client: rehearsing a race', () => {
  it('sends typed map changes with the split ticks given, and the finish as typed', async () => {
    const server = await startServer();
    const cli = await startCli(server.port, ['--name', 'Runner']);
    const watcher = await join(server, 'Watcher');

    // Before any countdown SAR's timer has made no split: 0xFFFFFFFF in both fields.
    cli.type(':map sp_a1_intro2');
    expect(await mapChangeFrom(watcher, cli.id, 'sp_a1_intro2')).toMatchObject({
      ticks: NO_SPLIT,
      ticksTotal: NO_SPLIT,
    });
    cli.type(':map sp_a1_intro3 300 300');
    expect(await mapChangeFrom(watcher, cli.id, 'sp_a1_intro3')).toMatchObject({ ticks: 300, ticksTotal: 300 });
    // Without a total, the running total: 300 + 120.
    cli.type(':map sp_a1_intro4 120');
    expect(await mapChangeFrom(watcher, cli.id, 'sp_a1_intro4')).toMatchObject({ ticks: 120, ticksTotal: 420 });
    cli.type(':map sp_a1_intro5 -1 -1');
    expect(await mapChangeFrom(watcher, cli.id, 'sp_a1_intro5')).toMatchObject({
      ticks: NO_SPLIT,
      ticksTotal: NO_SPLIT,
    });

    cli.type(':finish 1:02.345');
    expect((await finishFrom(watcher, cli.id)).time).toBe('1:02.345');

    // Mistakes are reported locally and send nothing; chat is still chat; '::' escapes a colon.
    const since = watcher.mark();
    cli.type(':map');
    cli.type(':map sp_a1_intro6 lots');
    cli.type(':bogus');
    cli.type('::colon first');
    cli.type('plain chat');
    await cli.waitForOutput(/unknown command :bogus/);
    expect(cli.output()).toContain('usage: :map <map> [ticks] [total]');
    expect(cli.output()).toContain('ticks: expected 0 to 4294967295 or -1, got "lots"');
    const chat = await watcher.waitFor(
      (packet) => packet.type === 'message' && packet.id === cli.id && packet.text === 'plain chat',
      5000,
      since,
    );
    expect(chat).toBeDefined();
    const sent = watcher.received.slice(since).map((received) => received.packet);
    expect(sent.filter((packet) => packet.type === 'map_change')).toEqual([]);
    expect(sent.filter((packet) => packet.type === 'message' && packet.id === cli.id)).toEqual([
      { type: 'message', id: cli.id, text: ':colon first' },
      { type: 'message', id: cli.id, text: 'plain chat' },
    ]);

    cli.child.kill('SIGTERM');
    expect(await cli.exited()).toBe(0);
  });

  it('--auto-run walks the route from the countdown’s go with SAR’s split ticks, then finishes', async () => {
    const server = await startServer();
    const cli = await startCli(server.port, ['--name', 'Runner', '--map', 'sp_a4_finale2', '--auto-run', '0.3']);
    const watcher = await join(server, 'Watcher');
    await watcher.roundTrip();

    const countdownAt = performance.now();
    server.startCountdown({ duration: 1 });
    const third = await mapChangeFrom(watcher, cli.id, 'sp_a4_finale3');
    const firstAt = performance.now();
    const fourth = await mapChangeFrom(watcher, cli.id, 'sp_a4_finale4');
    const finish = await finishFrom(watcher, cli.id);

    // Nothing moved before the go (1 s) plus one map's time (0.3 s), less the countdown's
    // half round trip on loopback.
    expect(firstAt - countdownAt).toBeGreaterThanOrEqual(1250);
    // Each split is the time on the map left, in ticks (0.3 s = 18 ticks; slack for a busy
    // machine), and the totals add up.
    expect(third.ticks).toBeGreaterThanOrEqual(15);
    expect(third.ticks).toBeLessThan(60);
    expect(third.ticksTotal).toBe(third.ticks);
    expect(fourth.ticks).toBeGreaterThanOrEqual(15);
    expect(fourth.ticks).toBeLessThan(60);
    expect(fourth.ticksTotal).toBe(third.ticks + fourth.ticks);
    // The finish after the last map: the timer's time, as SAR formats it under a minute.
    expect(finish.time).toMatch(/^\d+\.\d{3}$/);
    expect(seconds(finish.time)).toBeGreaterThanOrEqual(fourth.ticksTotal / 60 + 0.25);
    expect(seconds(finish.time)).toBeLessThan(5);
    await cli.waitForOutput(/you finished in \d+\.\d{3}/);

    cli.child.kill('SIGTERM');
    expect(await cli.exited()).toBe(0);
  });

  it(':run walks the co-op route from off the route, and :stop stops it', async () => {
    const server = await startServer();
    const cli = await startCli(server.port, ['--name', 'Runner', '--route', 'coop', '--map', 'mp_coop_community_hub']);
    const watcher = await join(server, 'Watcher');
    await watcher.roundTrip();

    cli.type(':run 0.2');
    // Off the route, the run begins by loading its first map at once, then walks on.
    expect((await mapChangeFrom(watcher, cli.id, 'mp_coop_start')).ticks).toBeLessThan(30);
    const hub = await mapChangeFrom(watcher, cli.id, 'mp_coop_lobby_3');
    expect(hub.ticksTotal).toBeGreaterThan(0);
    await mapChangeFrom(watcher, cli.id, 'mp_coop_doors');
    cli.type(':stop');
    await cli.waitForOutput(/stopped running the route/);
    const since = watcher.mark();
    cli.type(':status');
    await cli.waitForOutput(/timer running/);
    // After :stop and a barrier through the runner's own connection (its chat arrives after
    // anything it sent before), at most the one map change already under way has arrived.
    cli.type('barrier');
    await watcher.waitFor((packet) => packet.type === 'message' && packet.text === 'barrier', 5000, since);
    const after = watcher.received
      .slice(since)
      .filter((received) => received.packet.type === 'map_change' && received.packet.id === cli.id);
    expect(after.length).toBeLessThanOrEqual(1);
    cli.child.kill('SIGTERM');
    expect(await cli.exited()).toBe(0);
  });

  it('rehearses a race night: --auto-ready enters the open race, --auto-run races it to the finish', async () => {
    const app = await startApp();
    const watcher = await joinApp(app, 'Watcher', { spectator: true, map: '' });
    const cli = await startCli(app.server.port, [
      '--name',
      'Runner',
      '--map',
      'sp_a4_finale2',
      '--auto-ready',
      '--auto-run',
      '0.3',
    ]);
    // Its /ready on joining found no race open (the server answered it); the announcement of the
    // race makes it try again.
    await cli.waitForOutput(/SERVER: /);
    expect((await app.commands.execute('race open Rehearsal', CONSOLE_INVOKER)).ok).toBe(true);
    await until(
      () =>
        app.races.current()?.entrants.some((entrant) => entrant.name === 'Runner' && entrant.status === 'ready') ??
        false,
      5000,
      'the runner to be ready',
    );
    const ended = app.server.bus.once('raceEnded');
    expect((await app.commands.execute('race start 1', CONSOLE_INVOKER)).ok).toBe(true);
    await mapChangeFrom(watcher, cli.id, 'sp_a4_finale4');
    const finish = await finishFrom(watcher, cli.id);

    // The race saw SAR's splits and its finish: the runner won, in the time it sent.
    const { race } = await ended;
    const runner = race.entrants.find((entrant) => entrant.name === 'Runner')!;
    expect(runner.status).toBe('finished');
    expect(runner.finish).toMatchObject({ time: finish.time, place: 1 });
    expect(runner.splits.map((split) => split.toMap)).toEqual(['sp_a4_finale3', 'sp_a4_finale4']);
    expect(runner.splits[0]!.ticks).toBeGreaterThanOrEqual(15);
    expect(runner.splits[1]!.ticksTotal).toBe(runner.splits[0]!.ticks! + runner.splits[1]!.ticks!);
    expect(race.route).toBe('sp');
    cli.child.kill('SIGTERM');
    expect(await cli.exited()).toBe(0);
  });

  it('refuses bad options with a line and status 2', () => {
    for (const [args, message] of [
      [['--route', 'speedrun'], '--route: expected sp or coop, got "speedrun"'],
      [['--auto-run', '0.05'], '--auto-run: expected seconds per map from 0.2 to 3600, got "0.05"'],
      [['--auto-run', 'fast'], '--auto-run: expected seconds per map from 0.2 to 3600, got "fast"'],
    ] as const) {
      const result = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 10_000 });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    const help = spawnSync(process.execPath, [entry, '--help'], { encoding: 'utf8', timeout: 10_000 });
    expect(help.status).toBe(0);
    for (const part of [':map <map> [ticks] [total]', ':finish [time]', ':run [seconds]', '--auto-run', '--auto-ready'])
      expect(help.stdout).toContain(part);
  });
});
