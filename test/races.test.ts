/**
 * Races from the players' and the organiser's side: real SAR-like clients typing /ready in chat,
 * the registry's race commands, a real SQLite file. The Discord card and the HTTP API have tests
 * of their own (discord-races, http-races).
 */
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import type { RaceSnapshot } from '../src/races/types.js';
import type { SimClient } from '../src/sim/client.js';
import { createApp } from '../src/app.js';
import { barrier, joinApp, startApp, tempDatabasePath, testConfig, trackApp, until } from './helpers.js';

const run = (app: App, line: string) => app.commands.execute(line, CONSOLE_INVOKER);

/** The server messages (id 0) a client has received since `since`. */
function serverLines(client: SimClient, since = 0): string[] {
  return client.received
    .slice(since)
    .flatMap((received) =>
      received.packet.type === 'message' && received.packet.id === 0 ? [received.packet.text] : [],
    );
}

/** Waits until a client has received a server message matching `pattern`. */
async function heard(client: SimClient, pattern: RegExp | string, since = 0): Promise<string> {
  const packet = await client.waitFor(
    (p) =>
      p.type === 'message' && p.id === 0 && (typeof pattern === 'string' ? p.text === pattern : pattern.test(p.text)),
    4000,
    since,
  );
  return packet.type === 'message' ? packet.text : '';
}

function names(race: RaceSnapshot | undefined): string[] {
  return race?.entrants.map((entrant) => `${entrant.name}:${entrant.status}`) ?? [];
}

async function runningRace(app: App, players: SimClient[], seconds = 1): Promise<RaceSnapshot> {
  expect((await run(app, 'race open Test race')).ok).toBe(true);
  for (const player of players) {
    player.sendMessage('/ready');
    await heard(player, new RegExp(`^${player.options.name} is ready`));
  }
  const started = app.server.bus.once('raceStarted');
  expect((await run(app, `race start ${seconds}`)).ok).toBe(true);
  return (await started).race;
}

describe('a race from open to results', () => {
  it('opens, lets players ready and unready from chat, and counts down only the ready ones', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    const carol = await joinApp(app, 'Carol');
    const watcher = await joinApp(app, 'Watcher', { spectator: true, map: '' });

    const opened = await run(app, 'race open Friday any%');
    expect(opened).toMatchObject({ ok: true, text: expect.stringContaining('Race 1 "Friday any%" opened') });
    for (const client of [alice, bob, carol, watcher])
      await heard(client, 'Race 1 "Friday any%" is open: type /ready to enter.');
    expect(await run(app, 'race start')).toMatchObject({
      ok: false,
      code: 'refused',
      text: expect.stringMatching(/nobody is ready/),
    });

    const chatMark = bob.mark();
    alice.sendMessage('/ready');
    expect(await heard(bob, 'Alice is ready (1/3).')).toBeTruthy();
    bob.sendMessage('/ready');
    await heard(alice, 'Bob is ready (2/3).');
    bob.sendMessage('/unready');
    await heard(carol, 'Bob is not ready (1/3).');
    bob.sendMessage('/ready');
    await heard(carol, 'Bob is ready (2/3).');
    watcher.sendMessage('/ready');
    expect(await heard(watcher, /spectators watch the race/)).toBeTruthy();
    // Chat commands are never relayed as chat.
    await barrier(alice, bob, watcher);
    expect(bob.received.slice(chatMark).some((r) => r.packet.type === 'message' && r.packet.id !== 0)).toBe(false);
    expect(names(app.races.current())).toEqual(['Alice:ready', 'Bob:ready']);

    const marks = [alice, bob, carol, watcher].map((client) => client.mark());
    const started = await run(app, 'race start 1');
    expect(started).toMatchObject({ ok: true, text: 'Race 1: counting down 1 s for 2 entrants' });
    for (const client of [alice, bob]) await client.waitFor((p) => p.type === 'countdown_setup', 2000);
    await barrier(carol, watcher);
    expect(carol.received.slice(marks[2]).some((r) => r.packet.type === 'countdown_setup')).toBe(false);
    expect(watcher.received.slice(marks[3]).some((r) => r.packet.type === 'countdown_setup')).toBe(false);
    expect(app.races.current()?.state).toBe('counting_down');
    const go = await app.server.bus.once('raceStarted');
    expect(names(go.race)).toEqual(['Alice:running', 'Bob:running']);
    // A race does not close the door: a newcomer joins and watches, but is no entrant.
    const late = await joinApp(app, 'Late');
    late.sendMessage('/ready');
    expect(await heard(late, /race 1 has already started/)).toBeTruthy();
    expect(names(app.races.current())).toEqual(['Alice:running', 'Bob:running']);
  });

  it('orders runners by their splits, announces finishes with place and gap, and ends when everyone is done', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice', { map: 'sp_a1_intro1' });
    const bob = await joinApp(app, 'Bob', { map: 'sp_a1_intro1' });
    const carol = await joinApp(app, 'Carol', { map: 'sp_a1_intro1' });
    await runningRace(app, [alice, bob, carol]);

    const splits: Array<{ name: string; ticks: number | null }> = [];
    app.server.bus.on(
      'raceSplit',
      ({ entrant, split }) => void splits.push({ name: entrant.name, ticks: split.ticks }),
    );
    alice.changeMap('sp_a1_intro2', 600, 600);
    bob.changeMap('sp_a1_intro2'); // SAR had not split yet: 0xFFFFFFFF
    await barrier(alice, bob);
    bob.changeMap('sp_a1_intro3', 500, 1100);
    await barrier(bob);
    const race = app.races.current()!;
    expect(race.route).toBe('sp');
    expect(names(race)).toEqual(['Bob:running', 'Alice:running', 'Carol:running']);
    expect(
      race.entrants[0]!.splits.map((split) => [split.fromMap, split.toMap, split.ticks, split.ticksTotal]),
    ).toEqual([
      ['sp_a1_intro1', 'sp_a1_intro2', null, null],
      ['sp_a1_intro2', 'sp_a1_intro3', 500, 1100],
    ]);
    expect(splits).toEqual([
      { name: 'Alice', ticks: 600 },
      { name: 'Bob', ticks: null },
      { name: 'Bob', ticks: 500 },
    ]);

    const mark = carol.mark();
    bob.finishSpeedrun('1:02.345');
    expect(await heard(carol, 'Bob finished 1st in 1:02.345.', mark)).toBeTruthy();
    alice.finishSpeedrun('1:05.000');
    expect(await heard(carol, /^Alice finished 2nd in 1:05\.000 \(\+\d+\.\d{3}\)\.$/, mark)).toBeTruthy();
    // A second finish from the same runner changes nothing.
    alice.finishSpeedrun('0:59.000');
    await barrier(alice);
    expect(app.races.current()?.entrants.find((entrant) => entrant.name === 'Alice')?.finish?.time).toBe('1:05.000');

    const ended = app.server.bus.once('raceEnded');
    carol.sendMessage('/ff');
    expect(await heard(bob, 'Carol forfeited.')).toBeTruthy();
    expect((await ended).race.state).toBe('finished');
    expect(await heard(bob, 'Race 1 is over (every runner is done). Final order:')).toBeTruthy();
    expect(await heard(bob, /^1\. Bob — 1:02\.345 \(server /)).toBeTruthy();
    expect(app.races.current()).toBeUndefined();

    await app.store.races.flush();
    const results = await run(app, 'results');
    expect(results.ok).toBe(true);
    const lines = results.text.split('\n');
    expect(lines[0]).toBe('Race 1 "Test race" (finished)');
    expect(lines[1]).toMatch(/^1\. Bob — 1:02\.345 \(server \d+\.\d{3}\)$/);
    expect(lines[2]).toMatch(/^2\. Alice — 1:05\.000 \(server \d+\.\d{3}, \+\d+\.\d{3}\)$/);
    expect(lines[3]).toBe('Carol — forfeited');
    expect((await run(app, 'results 1')).text).toBe(results.text);
  });

  it('race end makes the unfinished DNF; race cancel closes an open race; a plain countdown is refused while one is open', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    await runningRace(app, [alice, bob]);
    alice.finishSpeedrun('42.000');
    await heard(bob, 'Alice finished 1st in 42.000.');
    const ended = await run(app, 'race end');
    expect(ended.ok).toBe(true);
    expect(ended.text.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^1\. Alice — 42\.000/),
      'Bob — did not finish',
    ]);
    expect(await heard(alice, /^Race 1 is over \(ended by console\)/)).toBeTruthy();

    expect((await run(app, 'race open')).ok).toBe(true);
    expect(await run(app, 'countdown start 3')).toMatchObject({ ok: false, code: 'refused' });
    expect(await run(app, 'race end')).toMatchObject({ ok: false, text: expect.stringMatching(/race cancel/) });
    expect(await run(app, 'race cancel')).toMatchObject({ ok: true, text: 'Race 2 cancelled' });
    expect(await heard(bob, 'Race 2 was cancelled.')).toBeTruthy();
    expect(await run(app, 'race cancel')).toMatchObject({ ok: false, code: 'refused' });
    // What only a player in game can do is refused elsewhere, with where to do it.
    expect(await run(app, 'ready')).toEqual({
      ok: false,
      code: 'refused',
      text: '"ready" is run from SAR\'s chat (/ready)',
    });
    expect(await run(app, 'ff')).toMatchObject({ ok: false, code: 'refused' });
  });

  it('answers /race to the asking player only', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    await run(app, 'race open Standings');
    alice.sendMessage('/ready');
    await heard(bob, 'Alice is ready (1/2).');
    const bobMark = bob.mark();
    alice.sendMessage('/race');
    expect(await heard(alice, 'Race 1 "Standings" (open: ready up with /ready)')).toBeTruthy();
    expect(await heard(alice, 'Alice — ready')).toBeTruthy();
    await barrier(alice, bob);
    expect(serverLines(bob, bobMark)).toEqual([]);
  });
});

describe('starting by itself', () => {
  it('starts once min_entrants players are connected and all of them are ready', async () => {
    const app = await startApp({ overrides: { races: { auto_start: true, min_entrants: 2, countdown: 2 } } });
    const alice = await joinApp(app, 'Alice');
    await run(app, 'race open');
    alice.sendMessage('/ready');
    await heard(alice, 'Alice is ready (1/1).');
    await barrier(alice);
    expect(app.races.current()?.state).toBe('open'); // one player is fewer than min_entrants
    const bob = await joinApp(app, 'Bob');
    await barrier(bob);
    expect(app.races.current()?.state).toBe('open'); // Bob is not ready
    bob.sendMessage('/ready');
    expect(await bob.waitFor((p) => p.type === 'countdown_setup', 2000)).toMatchObject({ duration: 2 });
    expect(app.races.current()?.state).toBe('counting_down');
  });
});

describe('a plain countdown', () => {
  it('records a race with every player, turns newcomers away until it ends, then lets them in', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    const refusals: string[] = [];
    app.server.bus.on('clientRefused', ({ reason }) => void refusals.push(reason));
    expect((await run(app, 'countdown start 1')).ok).toBe(true);
    const race = app.races.current()!;
    expect(race.kind).toBe('countdown');
    expect(names(race)).toEqual(['Alice:ready', 'Bob:ready']);
    await expect(joinApp(app, 'Latecomer')).rejects.toThrow(/closed/);
    expect(refusals).toEqual(['not accepting players: a countdown race is running (joining opens again when it ends)']);
    expect((await run(app, 'status')).text).toMatch(/Accepting players: no, a countdown race is running/);

    await app.server.bus.once('raceStarted');
    alice.finishSpeedrun('10.000');
    await heard(bob, 'Alice finished 1st in 10.000.');
    const ended = app.server.bus.once('raceEnded');
    bob.finishSpeedrun('11.000');
    expect((await ended).race.entrants.map((entrant) => entrant.finish?.place)).toEqual([1, 2]);
    expect(app.server.acceptingPlayers).toBe(true);
    expect((await joinApp(app, 'Latecomer')).id).toBeGreaterThan(2);
  });

  it('leaves an operator’s refuse players alone when its race ends', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice');
    await run(app, 'countdown start 1');
    await run(app, 'refuse players');
    await app.server.bus.once('raceStarted');
    alice.sendMessage('/ff');
    await heard(alice, 'Alice forfeited.');
    expect(app.server.acceptingPlayers).toBe(false);
  });
});

describe('players who drop out', () => {
  it('takes back a runner who reconnects under the same name, and ends when every runner left', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice', { map: 'sp_a1_intro1' });
    const bob = await joinApp(app, 'Bob', { map: 'sp_a1_intro1' });
    await runningRace(app, [alice, bob]);
    alice.close(); // SAR crashed
    await until(
      () => app.races.current()?.entrants.find((e) => e.name === 'Alice')?.clientId === null,
      2000,
      'Alice gone',
    );
    expect(app.races.current()?.state).toBe('running');
    const back = await joinApp(app, 'Alice', { map: 'sp_a1_intro1' });
    expect(await heard(back, 'Welcome back: you are still running race 1.')).toBeTruthy();
    back.changeMap('sp_a1_intro2', 60, 60);
    await barrier(back);
    expect(app.races.current()?.entrants.find((e) => e.name === 'Alice')?.splits).toHaveLength(1);

    const ended = app.server.bus.once('raceEnded');
    back.close();
    bob.close();
    const race = (await ended).race;
    expect(names(race)).toEqual(['Alice:dnf', 'Bob:dnf']);
  });

  it('drops a ready player who leaves before the start from the race', async () => {
    const app = await startApp();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    await run(app, 'race open');
    alice.sendMessage('/ready');
    bob.sendMessage('/ready');
    await heard(alice, 'Bob is ready (2/2).');
    bob.close();
    expect(await heard(alice, 'Bob left (1/1).')).toBeTruthy();
    expect(names(app.races.current())).toEqual(['Alice:ready']);
    // Nor is Bob in the race's history.
    await run(app, 'race start 1');
    await app.server.bus.once('raceStarted');
    await run(app, 'race end');
    expect((await run(app, 'results 1')).text.split('\n').slice(1)).toEqual(['Alice — did not finish']);
  });
});

describe('a restart', () => {
  it('ends a race running at shutdown, keeps its finishers, and shows the results after a restart', async () => {
    const database = tempDatabasePath();
    const first = await startApp({ database });
    const alice = await joinApp(first, 'Alice');
    const bob = await joinApp(first, 'Bob');
    await runningRace(first, [alice, bob]);
    alice.finishSpeedrun('1:00.000');
    await heard(bob, 'Alice finished 1st in 1:00.000.');
    await first.stop('restart');

    const config = testConfig();
    config.database.path = database;
    const second = trackApp(createApp({ config }));
    await second.start();
    const results = await run(second, 'results 1');
    expect(results.text.split('\n')).toEqual([
      'Race 1 "Test race" (finished)',
      expect.stringMatching(/^1\. Alice — 1:00\.000/),
      'Bob — did not finish',
    ]);
    // The next race gets the next id.
    expect((await run(second, 'race open')).text).toMatch(/^Race 2 opened/);
  });
});
