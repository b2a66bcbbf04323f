import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { CommandRegistry, CONSOLE_INVOKER, fail, ok, type Invoker } from '../src/commands/registry.js';
import { tokenize } from '../src/commands/tokenize.js';
import type { SimClient } from '../src/sim/client.js';
import { countPackets, joinApp, sleep, startApp as startTestApp, tempDatabasePath, until } from './helpers.js';

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
    await sleep(50);
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

    await run(app, 'countdown start 3');
    bob.finishSpeedrun('1:02.345');
    alice.finishSpeedrun('58.100');
    bob.finishSpeedrun('not a time');
    await until(() => app.store.races.results(1).length === 3);
    const results = await run(app, 'results');
    expect(results.text.split('\n').slice(1)).toEqual([
      '1. Alice — 58.100',
      '2. Bob — 1:02.345',
      '3. Bob — not a time',
    ]);
    await run(app, 'countdown start 3');
    expect((await run(app, 'results')).text).toMatch(/^Race 2 .*: no finishes yet$/);
    expect((await run(app, 'results 1')).text).toContain('1. Alice — 58.100');
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
