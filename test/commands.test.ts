import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { readFileSync } from 'node:fs';
import {
  CommandRegistry,
  CONSOLE_INVOKER,
  fail,
  FAILURE_CODES,
  ok,
  type FailureCode,
  type Invoker,
} from '../src/commands/registry.js';
import { tokenize } from '../src/commands/tokenize.js';
import type { SimClient } from '../src/sim/client.js';
import { oneLine, printable, printableLines } from '../src/text/printable.js';
import { barrier, countPackets, joinApp, startApp as startTestApp, tempDatabasePath, until } from './helpers.js';

const startApp = (database?: string): Promise<App> =>
  startTestApp({
    ...(database !== undefined ? { database } : {}),
    configure(config) {
      config.countdown.pre_commands = 'sv_cheats 0';
      config.countdown.presets = { Race: { delay: 7, pre_commands: 'host_timescale 1', post_commands: 'say GO' } };
    },
  });

const join = (app: App, name: string, localAddress = '127.0.0.1', spectator = false): Promise<SimClient> =>
  joinApp(app, name, { localAddress, spectator });

const run = (app: App, line: string) => app.commands.execute(line, CONSOLE_INVOKER);

/** Anything a terminal would act on instead of showing: C0/C1 controls, DEL, bidi controls. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;

describe('printable text', () => {
  it('shows controls, ESC, bidi controls and invisible formatting as escapes, on one line', () => {
    expect(printable('Bob\nFake line')).toBe('Bob\\nFake line');
    expect(printable('\u001b[31mRed\u001b[0m')).toBe('\\x1b[31mRed\\x1b[0m');
    expect(printable('a\rb\tc\u0000d\u007fe\u0085f\u009bg')).toBe('a\\rb\\tc\\x00d\\x7fe\\x85f\\x9bg');
    expect(printable('gnp.\u202eexe')).toBe('gnp.\\u202eexe');
    expect(printable('\u2066x\u2069\u200ey\u061c')).toBe('\\u2066x\\u2069\\u200ey\\u061c');
    expect(printable('Al\u200bi\u200dce\u2028\ufeff\u00ad')).toBe('Al\\u200bi\\u200dce\\u2028\\ufeff\\xad');
    expect(printable('\u3164')).toBe('\\u3164'); // a blank-looking name
    expect(printable('tag\u{e0041}')).toBe('tag\\u{e0041}');
    expect(printable('x\ud800y')).toBe('x\\ud800y');
  });

  it('keeps every script, accents, emoji and the joiners they need readable', () => {
    for (const name of [
      'Zoë',
      'Ærøskøbing',
      '日本語の名前',
      'Иван',
      'مريم',
      'می‌خواهم',
      'क्‍ष',
      '👨‍👩‍👧',
      '❤️‍🔥',
      '1️⃣',
      '\\o/',
    ]) {
      expect(printable(name)).toBe(name);
    }
  });

  it('is its own printable form, so layers may each apply it', () => {
    for (const text of ['Bob\nFake', '\u001b[2J', 'a\u202eb', 'x\\ny', 'Al\u200dice']) {
      expect(printable(printable(text))).toBe(printable(text));
      expect(printable(text)).not.toMatch(CONTROL);
    }
    expect(printableLines('one\ntwo\u001b\r\n')).toBe('one\ntwo\\x1b\\r\n');
    expect(oneLine`Kicked ${'Bob\nX'} (#${3})\n`).toBe('Kicked Bob\\nX (#3)\n');
  });
});

describe('tokenizer', () => {
  it('splits on whitespace and honours quotes and escapes', () => {
    expect(tokenize(`kick name "Some Player"  'single q' a\\ b "q\\"x"`).map((t) => t.text)).toEqual([
      'kick',
      'name',
      'Some Player',
      'single q',
      'a b',
      'q"x',
    ]);
  });

  it('keeps apostrophes inside words and unclosed quotes as plain text', () => {
    expect(tokenize(`dm Bob don't forget 'tis`).map((t) => t.text)).toEqual(['dm', 'Bob', "don't", 'forget', "'tis"]);
  });

  it('gives rest-of-line arguments the text exactly as typed', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice');
    expect((await run(app, `say it's "Bob's" race`)).ok).toBe(true);
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({ text: `it's "Bob's" race` });
  });
});

describe('command registry', () => {
  const invoker: Invoker = { source: 'discord', name: 'someone', permission: 'moderator' };

  function registry(audit: string[] = []) {
    const commands = new CommandRegistry({}, { audit: (entry) => void audit.push(entry.command) });
    commands.register({
      name: 'add',
      summary: 'adds',
      arguments: [
        { name: 'a', type: 'integer', min: 0, max: 10 },
        { name: 'b', type: 'integer', optional: true },
      ],
      permission: 'everyone',
      mutates: true,
      run: (_context, args) => ok(String(Number(args.a) + Number(args.b ?? 0))),
    });
    commands.register({
      name: 'nope',
      summary: 'fails',
      permission: 'everyone',
      mutates: true,
      run: () => fail('refused', 'no'),
    });
    commands.register({
      name: 'boom',
      summary: 'throws',
      permission: 'everyone',
      run: () => {
        throw new Error('disk full');
      },
    });
    commands.register({ name: 'secret', summary: 'admin only', permission: 'admin', run: () => ok('s') });
    return commands;
  }

  it('parses typed arguments and prints usage for bad ones', async () => {
    const commands = registry();
    expect(await commands.execute('add 2 3', invoker)).toEqual({ ok: true, text: '5' });
    expect(await commands.execute('ADD 2', invoker)).toEqual({ ok: true, text: '2' });
    expect(await commands.execute('add x', invoker)).toEqual({
      ok: false,
      code: 'bad_arguments',
      text: 'a must be a whole number, got "x"\nusage: add <a> [b]',
    });
    expect((await commands.execute('add 11', invoker)).text).toMatch(/^a must be at most 10/);
    expect((await commands.execute('add', invoker)).text).toMatch(/^missing a/);
    expect((await commands.execute('add 1 2 3', invoker)).text).toMatch(/^too many arguments/);
    expect((await commands.execute('frobnicate', invoker)).text).toMatch(/unknown command "frobnicate"/);
  });

  it('checks permissions, turns exceptions into failures, and audits only successful changes', async () => {
    const audit: string[] = [];
    const commands = registry(audit);
    expect(await commands.execute('secret', invoker)).toEqual({
      ok: false,
      code: 'forbidden',
      text: '"secret" needs admin permission',
    });
    expect(await commands.execute('boom', invoker)).toEqual({
      ok: false,
      code: 'internal',
      text: '"boom" failed: disk full',
    });
    await commands.execute('nope', invoker);
    await commands.execute('add 1', invoker);
    expect(audit).toEqual(['add']);
    expect(await commands.run('add', { a: 4, b: 4 }, invoker)).toEqual({ ok: true, text: '8' });
  });

  it('answers a group word without its subcommand with the group usage, and checks permission before arguments', async () => {
    const commands = registry();
    commands.register({ name: 'grp one', summary: '1', permission: 'everyone', run: () => ok('1') });
    commands.register({
      name: 'grp two',
      summary: '2',
      arguments: [{ name: 'n', type: 'integer' }],
      permission: 'everyone',
      run: () => ok('2'),
    });
    commands.register({ name: 'grp three', summary: '3', permission: 'admin', run: () => ok('3') });
    commands.register({ name: 'locked a', summary: 'a', permission: 'admin', run: () => ok('a') });
    expect(await commands.execute('grp', invoker)).toEqual({
      ok: false,
      code: 'bad_arguments',
      text: '"grp" needs one of its subcommands\nusage:\n  grp one\n  grp two <n>', // grp three is admin only
    });
    expect(await commands.execute('GRP four', invoker)).toMatchObject({
      code: 'bad_arguments',
      text: expect.stringMatching(/^"four" is not a grp command\nusage:/),
    });
    expect(await commands.run('grp', {}, invoker)).toMatchObject({ code: 'bad_arguments' });
    expect(await commands.execute('locked', invoker)).toMatchObject({ code: 'forbidden' });
    expect(await commands.execute('nothing', invoker)).toMatchObject({ code: 'unknown_command' });
    // Someone who may not run a command learns that, not how to use it.
    expect(await commands.execute('secret with arguments', invoker)).toMatchObject({ code: 'forbidden' });
    expect(await commands.run('secret', { bogus: 1 }, invoker)).toMatchObject({ code: 'forbidden' });
  });

  it('refuses to register a name twice', () => {
    expect(() => registry().register({ name: 'add', summary: '', permission: 'everyone', run: () => ok('') })).toThrow(
      /already/,
    );
  });
});

describe('admin commands on real clients', () => {
  it('lists clients and shows help for both generations', async () => {
    const app = await startApp();
    await join(app, 'Alice');
    await join(app, 'Bob', '127.0.0.1', true);
    const list = await run(app, 'list');
    expect(list.text).toMatch(/^2 clients:\n#1 Alice \(127\.0\.0\.1\) on sp_a1_intro1\n#2 Bob .*\[spectator\]/);
    const help = await run(app, 'help');
    for (const name of [
      'countdown start',
      'kick name',
      'whitelist add',
      'disconnect_id',
      'accept_spectators',
      'server_msg',
    ]) {
      expect(help.text).toContain(name);
    }
    expect((await run(app, 'help ban id')).text).toMatch(/^usage: ban id <id> \[reason\.\.\.\]/);
  });

  it('kick name|id|ip and the legacy disconnect commands remove exactly the clients meant', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice', '127.0.0.21');
    const bystander = await join(app, 'Bystander', '127.0.0.21'); // same IP as Alice
    const bob = await join(app, 'Bob', '127.0.0.22');
    const carol = await join(app, 'Carol Smith', '127.0.0.23');
    const dave = await join(app, 'Dave', '127.0.0.24');
    const watcher = await join(app, 'Watcher', '127.0.0.25');

    expect((await run(app, 'kick name Alice')).text).toBe('Kicked Alice (#1)');
    await alice.waitForClose();
    await watcher.waitFor((p) => p.type === 'disconnect' && p.id === alice.id);
    expect(bystander.closed).toBe(false);

    expect((await run(app, `kick id ${bob.id} being rude`)).ok).toBe(true);
    await bob.waitForClose();
    expect((await run(app, 'disconnect Carol Smith')).ok).toBe(true);
    await carol.waitForClose();
    expect((await run(app, `disconnect_id ${dave.id}`)).ok).toBe(true);
    await dave.waitForClose();

    expect((await run(app, 'kick ip 127.0.0.21')).text).toBe('Kicked Bystander (#2)');
    await bystander.waitForClose();
    await barrier(watcher);
    expect(countPackets(watcher, 'disconnect')).toBe(5);
    expect(watcher.closed).toBe(false);

    expect(await run(app, 'kick id 99')).toEqual({ ok: false, code: 'not_found', text: 'no client with id 99' });
    expect((await run(app, 'kick ip not-an-ip')).text).toBe('"not-an-ip" is not an IP address');
    expect((await run(app, 'kick id x')).text).toMatch(/usage: kick id <id> \[reason\.\.\.\]/);
  });

  it('bans by name, id and ip, enforce them at connect, list and lift them', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice', '127.0.0.31');
    const neighbour = await join(app, 'Neighbour', '127.0.0.31');
    const bob = await join(app, 'Bob', '127.0.0.32');
    const carol = await join(app, 'Carol', '127.0.0.33');

    expect((await run(app, 'ban id 1 griefing')).text).toBe('Banned name "Alice" (griefing); kicked Alice (#1)');
    await alice.waitForClose();
    expect(neighbour.closed).toBe(false); // a name ban never touches the address
    await expect(join(app, 'Alice', '127.0.0.34')).rejects.toThrow(/closed/);
    expect((await join(app, 'Alice2', '127.0.0.31')).id).toBeGreaterThan(0);

    expect((await run(app, 'ban Bob')).ok).toBe(true); // legacy form
    await bob.waitForClose();
    expect((await run(app, 'ban ip 127.0.0.33')).text).toBe('Banned address 127.0.0.33; kicked Carol (#4)');
    await carol.waitForClose();
    await expect(join(app, 'Someone', '127.0.0.33')).rejects.toThrow(/closed/);
    expect((await run(app, 'ban_id 99')).ok).toBe(false);

    const list = await run(app, 'ban list');
    expect(list.text).toMatch(/^3 bans:/);
    expect(list.text).toContain('name "Alice" — griefing (by console:console');
    expect(list.text).toContain('ip 127.0.0.33');

    const temporary = await run(app, 'ban name Visitor 2h spamming chat');
    expect(temporary.text).toMatch(/^Banned name "Visitor" until \d{4}-\d\d-\d\dT.* \(spamming chat\)$/);
    const expiry = (temporary.data as { ban: { expiresAt: Date } }).ban.expiresAt.getTime();
    expect(Math.abs(expiry - Date.now() - 2 * 3_600_000)).toBeLessThan(10_000);
    expect((await run(app, 'ban list')).text).toMatch(/name "Visitor" — spamming chat .*, until /);
    expect((await run(app, 'unban Visitor')).ok).toBe(true);

    expect((await run(app, 'unban 127.0.0.33')).ok).toBe(true);
    expect((await join(app, 'Someone', '127.0.0.33')).id).toBeGreaterThan(0);
    expect((await run(app, 'unban Alice')).ok).toBe(true);
    expect((await join(app, 'Alice', '127.0.0.34')).id).toBeGreaterThan(0);
    expect(await run(app, 'unban Nobody')).toEqual({
      ok: false,
      code: 'not_found',
      text: 'no active ban for "Nobody"',
    });

    const audit = app.store.audit.recent(20).map((entry) => entry.action);
    expect(audit).toContain('ban id id=1 reason="griefing"');
    expect(audit).toContain('unban ip or name="Alice"');
    expect(audit.some((action) => action.startsWith('ban_id'))).toBe(false); // failed commands are not audited
  });

  it('keeps a ban across a restart with the same database file', async () => {
    const path = tempDatabasePath();
    const first = await startApp(path);
    await join(first, 'Cheater', '127.0.0.41');
    expect((await run(first, 'ban name Cheater')).ok).toBe(true);
    expect((await run(first, 'whitelist add ip 127.0.0.42')).ok).toBe(true);
    await first.stop('restart');

    const second = await startApp(path);
    const refused = second.server.bus.once('clientRefused');
    await expect(join(second, 'Cheater', '127.0.0.41')).rejects.toThrow(/closed/);
    expect(await refused).toMatchObject({ name: 'Cheater', reason: 'banned' });
    expect((await run(second, 'whitelist list')).text).toContain('ip 127.0.0.42');
  });

  it('whitelist on|off|kick|add|remove|list', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice', '127.0.0.51');
    const bob = await join(app, 'Bob', '127.0.0.52');
    expect((await run(app, 'whitelist add name Alice')).ok).toBe(true);
    expect((await run(app, 'whitelist add name Alice')).ok).toBe(false);
    expect((await run(app, 'whitelist add ip 127.0.0.53')).ok).toBe(true);
    expect((await run(app, 'whitelist add ip nope')).ok).toBe(false);
    expect((await run(app, 'whitelist add person Bob')).text).toMatch(/kind must be one of name, ip/);
    expect((await run(app, 'whitelist on')).ok).toBe(true);

    await expect(join(app, 'Mallory', '127.0.0.54')).rejects.toThrow(/closed/);
    expect((await join(app, 'Anyone', '127.0.0.53')).id).toBeGreaterThan(0);

    expect((await run(app, 'whitelist kick')).text).toBe('Kicked Bob (#2)');
    await bob.waitForClose();
    expect(alice.closed).toBe(false);

    expect((await run(app, 'whitelist remove ip 127.0.0.53')).ok).toBe(true);
    expect((await run(app, 'whitelist remove ip 127.0.0.53')).ok).toBe(false);
    expect((await run(app, 'whitelist list')).text).toBe('Whitelist is on; 1 entry:\nname Alice (by console:console)');
    expect((await run(app, 'whitelist off')).ok).toBe(true);
    expect((await join(app, 'Mallory', '127.0.0.54')).id).toBeGreaterThan(0);
  });

  it('countdown pre/post/start and the legacy countdown_set + countdown', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice');
    expect((await run(app, 'countdown pre sv_cheats 1; host_timescale 1')).ok).toBe(true);
    expect((await run(app, 'countdown post "say go go go"')).ok).toBe(true);
    expect((await run(app, 'countdown start 5')).text).toBe('Countdown of 5 s sent to 1 client');
    expect(await alice.waitFor((p) => p.type === 'countdown_setup')).toEqual({
      type: 'countdown_setup',
      id: 0,
      duration: 5,
      preCommands: 'sv_cheats 1; host_timescale 1',
      postCommands: 'say go go go',
    });
    expect((await run(app, 'countdown start 61')).text).toMatch(
      /^seconds must be at most|the countdown must last 1 to 60 seconds/,
    );
    expect((await run(app, 'countdown start 0')).ok).toBe(false);

    const mark = alice.mark();
    expect((await run(app, 'countdown_set 10 "" "say legacy"')).ok).toBe(true);
    expect((await run(app, 'countdown')).ok).toBe(true);
    expect(await alice.waitFor((p) => p.type === 'countdown_setup', 2000, mark)).toMatchObject({
      duration: 10,
      preCommands: '',
      postCommands: 'say legacy',
    });
    expect((await run(app, 'countdown_set 99')).ok).toBe(false);

    const presetMark = alice.mark();
    expect((await run(app, 'countdown start race')).text).toBe('Countdown of 7 s sent to 1 client');
    expect(await alice.waitFor((p) => p.type === 'countdown_setup', 2000, presetMark)).toMatchObject({
      duration: 7,
      preCommands: 'host_timescale 1',
      postCommands: 'say GO',
    });
    expect((await run(app, 'countdown start sprint')).text).toBe('no countdown preset "sprint"; presets: race');
    expect((await run(app, 'countdown presets')).text).toBe(
      'current: 10 s, pre: (none), post: say legacy\nrace: 7 s, pre: host_timescale 1, post: say GO',
    );
  });

  it('status, and results of the latest or a given race in finishing order', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    await join(app, 'Watcher', '127.0.0.1', true);
    const status = await run(app, 'status');
    expect(status.text).toMatch(
      /^Server 127\.0\.0\.1:\d+, up \d+h \d+m\n2 players, 1 spectator\nMaps: sp_a1_intro1 \(2\)/,
    );
    expect(await run(app, 'results')).toEqual({ ok: false, code: 'not_found', text: 'no race yet' });

    const carol = await join(app, 'Carol');
    // A plain countdown is a race with everyone in it; finishes count from its go.
    await run(app, 'countdown start 1');
    await app.server.bus.once('raceStarted');
    const ended = app.server.bus.once('raceEnded');
    bob.finishSpeedrun('1:02.345');
    await barrier(bob);
    alice.finishSpeedrun('58.100');
    await barrier(alice);
    carol.finishSpeedrun('not a time');
    await ended;
    const results = await run(app, 'results');
    // Places are the order they crossed the line; SAR's own time is shown beside.
    expect(results.text.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^1\. Bob — 1:02\.345 \(server \d+\.\d{3}\)$/),
      expect.stringMatching(/^2\. Alice — 58\.100 \(server \d+\.\d{3}, \+\d+\.\d{3}\)$/),
      expect.stringMatching(/^3\. Carol — not a time /),
    ]);
    await run(app, 'countdown start 3');
    // The latest race that ended is still race 1 while race 2 counts down.
    expect((await run(app, 'results')).text).toMatch(/^Race 1 /);
    expect((await run(app, 'results 2')).text).toMatch(/^Race 2 \(counting down\)\nAlice — ready/);
    expect((await run(app, 'results 1')).text).toContain('1. Bob — 1:02.345');
    expect(await run(app, 'results 9')).toEqual({ ok: false, code: 'not_found', text: 'no race 9' });
  });

  it('shows the audit log of admin actions', async () => {
    const app = await startApp();
    expect((await run(app, 'audit')).text).toBe('No admin actions recorded yet.');
    await run(app, 'say one');
    await run(app, 'refuse spectators');
    await run(app, 'list');
    const audit = await run(app, 'audit 5');
    expect(audit.text.split('\n').map((line) => line.replace(/^\S+ /, ''))).toEqual([
      'console:console refuse who="spectators"',
      'console:console say message="one"',
    ]);
    expect((await run(app, 'audit 0')).ok).toBe(false);
  });

  it('say, server_msg, accept/refuse in both generations', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice');
    expect((await run(app, 'say Race in 5 minutes!')).ok).toBe(true);
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({
      text: 'Race in 5 minutes!',
    });
    expect((await run(app, 'server_msg "quoted text"')).ok).toBe(true);
    expect(await alice.waitFor((p) => p.type === 'message' && p.text === 'quoted text')).toBeTruthy();

    expect((await run(app, 'refuse players')).ok).toBe(true);
    await expect(join(app, 'Late')).rejects.toThrow(/closed/);
    expect((await join(app, 'Spec', '127.0.0.1', true)).id).toBeGreaterThan(0);
    expect((await run(app, 'refuse all')).ok).toBe(true);
    await expect(join(app, 'Spec2', '127.0.0.1', true)).rejects.toThrow(/closed/);
    expect((await run(app, 'accept all')).ok).toBe(true);
    expect((await join(app, 'Late')).id).toBeGreaterThan(0);

    expect((await run(app, 'refuse_players')).ok).toBe(true);
    expect(app.server.acceptingPlayers).toBe(false);
    expect((await run(app, 'accept_players')).ok).toBe(true);
    expect((await run(app, 'refuse_spectators')).ok).toBe(true);
    expect(app.server.acceptingSpectators).toBe(false);
    expect((await run(app, 'accept_spectators')).ok).toBe(true);
    expect(app.server.acceptingSpectators).toBe(true);
    expect((await run(app, 'accept everyone')).text).toMatch(/who must be one of players, spectators, all/);
  });

  it('shows names, maps and reasons that clients and remote users chose on one line each, never a control character', async () => {
    const app = await startApp();
    await join(app, 'Alice');
    const bob = await joinApp(app, 'Bob\nFake line', { map: 'sp_a2\u202elave' });
    const red = await join(app, '\u001b[31mRed');

    const list = await run(app, 'list');
    const lines = list.text.split('\n');
    expect(lines).toHaveLength(1 + 3); // exactly one line per client
    expect(lines.slice(1).every((line) => /^#\d+ /.test(line))).toBe(true);
    expect(lines[2]).toBe('#2 Bob\\nFake line (127.0.0.1) on sp_a2\\u202elave');
    expect(lines[3]).toBe('#3 \\x1b[31mRed (127.0.0.1) on sp_a1_intro1');
    expect(list.text).not.toMatch(CONTROL);
    expect((list.data as { clients: { name: string }[] }).clients[1]!.name).toBe('Bob\nFake line'); // data stays raw
    expect((await run(app, 'status')).text).toContain('sp_a2\\u202elave (1)');

    // A finish time is the client's text too.
    await run(app, 'countdown start 1');
    await app.server.bus.once('raceStarted');
    bob.finishSpeedrun('1:00.000\n2. Alice — 0.001');
    await barrier(bob);
    const results = await run(app, 'results 1');
    expect(results.text.split('\n')).toHaveLength(1 + 3); // the heading and one line per entrant
    expect(results.text).not.toMatch(CONTROL);

    expect((await run(app, `kick id ${red.id}`)).text).toBe('Kicked \\x1b[31mRed (#3)');
    expect((await run(app, `ban id ${bob.id}`)).text).toBe(
      'Banned name "Bob\\nFake line"; kicked Bob\\nFake line (#2)',
    );

    // A Discord member or an API caller chooses names, reasons, values and their own name.
    const remote: Invoker = {
      source: 'discord',
      name: 'mod\n2026-01-01T00:00:00.000Z console:console stop',
      permission: 'admin',
    };
    const banned = await app.commands.run(
      'ban name',
      { name: 'Eve\u001b]0;owned\u0007', reason: '\u202eesrever' },
      remote,
    );
    expect(banned.text).toBe('Banned name "Eve\\x1b]0;owned\\x07" (\\u202eesrever)');
    expect((await app.commands.run('whitelist add', { kind: 'name', value: 'W\r\nX' }, remote)).ok).toBe(true);
    expect((await app.commands.run('unban', { 'ip or name': 'Nobody\nHere' }, remote)).text).toBe(
      'no active ban for "Nobody\\nHere"',
    );
    for (const [line, count] of [
      ['ban list', 1 + 2],
      ['whitelist list', 1 + 1],
      ['audit', 5], // countdown start, kick, ban id, ban name, whitelist add (the failed unban is not audited)
    ] as const) {
      const output = await run(app, line);
      expect(output.text, line).not.toMatch(CONTROL);
      expect(output.text.split('\n'), line).toHaveLength(count);
    }
    expect((await run(app, 'audit')).text.split('\n').every((entry) => /^\d{4}-\d\d-\d\dT\S+ /.test(entry))).toBe(true);
  });

  it('help shows every form of a group, hides what the invoker may not run; a bare group word answers with its usage', async () => {
    const app = await startApp();
    const kickHelp = await run(app, 'help kick');
    expect(kickHelp.ok).toBe(true);
    for (const form of ['kick name <name> [reason...]', 'kick id <id> [reason...]', 'kick ip <ip> [reason...]'])
      expect(kickHelp.text).toContain(form);
    for (const word of ['kick', 'whitelist', 'KICK ']) {
      const bare = await run(app, word);
      expect(bare, word).toMatchObject({ ok: false, code: 'bad_arguments' });
      expect(bare.text).toMatch(/^"(kick|whitelist)" needs one of its subcommands\nusage:\n {2}\S/);
    }
    expect((await run(app, 'whitelist')).text).toContain('  whitelist add <name|ip> <value...>');
    expect(await run(app, 'kick Bob')).toMatchObject({
      code: 'bad_arguments',
      text: expect.stringMatching(/^"Bob" is not a kick command\nusage:\n {2}kick name/),
    });

    // Both a legacy command and a group: the subcommands and the older form.
    const banHelp = (await run(app, 'help ban')).text;
    for (const form of ['ban name <name> [reason...]', 'ban id <id>', 'ban ip <ip>', 'ban list', 'ban <name...>'])
      expect(banHelp).toContain(form);
    expect(banHelp).toMatch(/ban <name\.\.\.> +Ban a player name .*older GhostServer form/);
    const countdownHelp = (await run(app, 'help countdown')).text;
    for (const form of [
      'countdown start [seconds or preset] [pre] [post]',
      'countdown pre',
      'countdown post',
      'countdown presets',
    ])
      expect(countdownHelp).toContain(form);
    expect(countdownHelp).toMatch(/^ {2}countdown +Start the countdown set with countdown_set/m);
    expect((await run(app, 'ban')).text).toMatch(/^missing name\nusage:\n {2}ban <name\.\.\.>\n {2}ban name/);
    expect(await run(app, 'help frobnicate')).toMatchObject({ code: 'unknown_command' });

    // A Discord moderator sees what a moderator may run, and no console-only older names.
    const moderator: Invoker = { source: 'discord', name: 'mod', permission: 'moderator' };
    const modHelp = (await app.commands.run('help', {}, moderator)).text;
    for (const name of ['kick name', 'ban list', 'countdown start', 'status']) expect(modHelp).toContain(name);
    for (const name of ['ban name', 'ban ip', 'unban', 'stop', 'audit', 'whitelist on', 'countdown_set', 'disconnect'])
      expect(modHelp).not.toMatch(new RegExp(`^ {2}${name} `, 'm'));
    expect((await app.commands.run('help', { command: 'ban' }, moderator)).text).toMatch(
      /^usage:\n {2}ban list +List active bans\n {2}ban member <member> \[reason\.\.\.\] +Ban a Discord member/,
    );
    expect(await app.commands.run('help', { command: 'stop' }, moderator)).toMatchObject({ code: 'forbidden' });
    const everyone: Invoker = { source: 'discord', name: 'member', permission: 'everyone' };
    const memberHelp = (await app.commands.run('help', {}, everyone)).text.split('\n');
    // Nothing only a player in game can run (/ready) is offered on Discord.
    expect(memberHelp.map((line) => line.trim().split(' ').slice(0, 2).join(' ').trim())).toEqual([
      'Commands:',
      'help [command...]',
      'status',
      'race status',
      'results [race]',
      'stats <player...>',
      'leaderboard [sp|coop|other]',
      'link [code]',
      'unlink [player...]',
      'whois <player...>',
      'profile [member]',
    ]);
  });

  it('in-game /help is one short page of what the player may run', async () => {
    const app = await startApp();
    const alice = await join(app, 'Alice');
    const serverLines = async (text: string) => {
      const mark = alice.mark();
      alice.sendMessage(text);
      await alice.waitFor((p) => p.type === 'message' && p.id === 0, 3000, mark);
      // A chat command's reply is written in one go: a ping answered after its first line comes after all of it.
      alice.ping();
      await alice.waitFor((p) => p.type === 'ping', 3000, mark);
      return alice.received
        .slice(mark)
        .map((r) => r.packet)
        .flatMap((p) => (p.type === 'message' && p.id === 0 ? [p.text] : []));
    };
    const page = await serverLines('/help');
    expect(page.length).toBeLessThanOrEqual(4);
    expect(page).toEqual([
      'Commands: /help, /status, /race, /ready, /unready, /forfeit, /results, /stats, /leaderboard, /link',
      '/help <command> shows how to use one',
    ]);
    expect(await serverLines('/help results')).toEqual([
      'usage: /results [race]',
      'Final standings of a race with times (default: the latest that ended)',
    ]);
    expect(await serverLines('/kick')).toEqual(['Not allowed: "kick" commands need moderator permission.']);
    expect(await serverLines('/help kick')).toEqual(['Not allowed: "kick" needs moderator permission.']);
  });

  it('every failure carries the code docs/errors.md gives it, and docs/errors.md names every code', async () => {
    const app = await startApp();
    await join(app, 'Alice');
    const cases: [string, FailureCode][] = [
      ['frobnicate', 'unknown_command'],
      ['help frobnicate', 'unknown_command'],
      ['kick', 'bad_arguments'],
      ['kick id x', 'bad_arguments'],
      ['kick ip not-an-ip', 'bad_arguments'],
      ['ban ip nope', 'bad_arguments'],
      ['whitelist add ip nope', 'bad_arguments'],
      ['countdown start 61', 'bad_arguments'],
      ['countdown start 0', 'bad_arguments'],
      ['countdown_set 99', 'bad_arguments'],
      ['audit 0', 'bad_arguments'],
      ['countdown start sprint', 'not_found'],
      ['kick name Nobody', 'not_found'],
      ['kick id 99', 'not_found'],
      ['kick ip 10.9.9.9', 'not_found'],
      ['ban_id 99', 'not_found'],
      ['unban Nobody', 'not_found'],
      ['results 9', 'not_found'],
      ['whitelist remove name Nobody', 'not_found'],
    ];
    for (const [line, code] of cases) expect(await run(app, line), line).toMatchObject({ ok: false, code });
    expect((await run(app, 'whitelist add name Alice')).ok).toBe(true);
    expect(await run(app, 'whitelist add name Alice')).toMatchObject({ code: 'conflict' });
    const moderator: Invoker = { source: 'discord', name: 'mod', permission: 'moderator' };
    expect(await app.commands.execute('stop', moderator)).toMatchObject({ code: 'forbidden' });

    // The database cannot be written: the command says so, and was not done.
    app.store.close();
    const unavailable = await run(app, 'whitelist on');
    expect(unavailable).toMatchObject({ ok: false, code: 'unavailable' });
    expect(unavailable.text).toMatch(/database .*(closed|not open)/);
    expect(await run(app, 'ban list')).toMatchObject({ ok: false, code: 'unavailable' }); // a read, too

    const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    for (const code of FAILURE_CODES) expect(docs, code).toMatch(new RegExp(`^### \`${code}\`$`, 'm'));
  });

  it('stop and exit stop the server', async () => {
    for (const command of ['stop', 'exit']) {
      const app = await startApp();
      const alice = await join(app, 'Alice');
      expect((await run(app, command)).ok).toBe(true);
      await alice.waitForClose(2000);
      await until(() => !app.server.running);
    }
  });
});
