/**
 * Linking SAR names to Discord members, over real sockets and a real SQLite file: /link in SAR's
 * chat, redeeming the code as the Discord side does (`app.commands` with a Discord invoker — the
 * registry is the API the bot calls), whois, unlink, profile, bans by member, results counted by
 * person, and the owner's confirmation of a new address.
 *
 * Time that matters (code expiry, rate limits, confirmation time-outs) is a clock the test moves.
 */
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { CONSOLE_INVOKER, type Invoker, type Permission } from '../src/commands/registry.js';
import type { Clock, ConfirmationRequest } from '../src/identity/identity.js';
import { CODE_ALPHABET, LinkCodes } from '../src/identity/codes.js';
import type { SimClient } from '../src/sim/client.js';
import { barrier, joinApp, startApp, tempDatabasePath } from './helpers.js';

/** A clock that moves only when told, running what falls due. */
class ManualClock implements Clock {
  time = Date.parse('2030-01-01T00:00:00Z');
  private timers: Array<{ at: number; run: () => void; cancelled: boolean }> = [];

  now(): number {
    return this.time;
  }

  after(ms: number, run: () => void): () => void {
    const timer = { at: this.time + ms, run, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((timer) => !timer.cancelled && timer.at <= this.time);
    this.timers = this.timers.filter((timer) => !due.includes(timer));
    for (const timer of due) {
      timer.cancelled = true;
      timer.run();
    }
  }
}

const CODE = new RegExp(
  `^Your link code: ([${CODE_ALPHABET}]{6}) \\(valid 5 minutes, once; share it with nobody\\)\\.$`,
);

async function start(options: { clock?: ManualClock; database?: string } = {}): Promise<App> {
  return startApp({
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.database !== undefined ? { database: options.database } : {}),
  });
}

const member = (name: string, discordId: string, permission: Permission = 'everyone'): Invoker => ({
  source: 'discord',
  name,
  permission,
  discordId,
});

const runConsole = (app: App, line: string) => app.commands.execute(line, CONSOLE_INVOKER);

/** The server messages (id 0) a client has received since `since`. */
function serverLines(client: SimClient, since = 0): string[] {
  return client.received
    .slice(since)
    .flatMap((received) =>
      received.packet.type === 'message' && received.packet.id === 0 ? [received.packet.text] : [],
    );
}

/** Waits for a server message matching `pattern`, returning its text. */
async function heard(client: SimClient, pattern: RegExp, since = 0): Promise<string> {
  const packet = await client.waitFor((p) => p.type === 'message' && p.id === 0 && pattern.test(p.text), 4000, since);
  return packet.type === 'message' ? packet.text : '';
}

/** Types /link in SAR's chat and returns the code the player was told. */
async function askCode(player: SimClient): Promise<string> {
  const mark = player.mark();
  player.sendMessage('/link');
  return CODE.exec(await heard(player, CODE, mark))![1]!;
}

/** Links a connected player's name to a member, as a player and the bot would. */
async function link(app: App, player: SimClient, who: Invoker): Promise<void> {
  const code = await askCode(player);
  const result = await app.commands.execute(`link ${code}`, who);
  expect(result).toMatchObject({ ok: true });
}

describe('linking a SAR name to a Discord member', () => {
  it('answers /link in chat to that player only, with a code that links the name once', async () => {
    const app = await start();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    const bobMark = bob.mark();

    const code = await askCode(alice);
    expect(await heard(alice, /^In Discord, type \/link [A-Z2-9]{6}$/)).toBe(`In Discord, type /link ${code}`);
    await barrier(alice, bob);
    // Bob saw neither the code nor the command as chat.
    expect(bob.received.slice(bobMark).filter((r) => r.packet.type === 'message')).toEqual([]);

    const aliceMark = alice.mark();
    const linked = await app.commands.execute(`link ${code.toLowerCase()}`, member('alice_d', '111'));
    expect(linked).toEqual({
      ok: true,
      text: 'Linked Alice to your Discord account.',
      data: { name: 'Alice', discordId: '111' },
    });
    expect(await heard(alice, /linked/, aliceMark)).toBe('Alice is now linked to Discord member alice_d.');
    expect(app.identity.memberOf('Alice')).toEqual({ discordId: '111', discordName: 'alice_d' });
    expect(app.identity.trustOf(alice.id)).toBe('confirmed');
    expect(app.identity.discordIdOf(alice.id)).toBe('111');
    expect(app.identity.trustOf(bob.id)).toBe('unlinked');

    // Single use, whoever tries it again.
    expect(await app.commands.execute(`link ${code}`, member('mallory', '666'))).toMatchObject({
      ok: false,
      code: 'not_found',
      text: "Not linked: that code is wrong, used or expired: type /link in SAR's chat for a new one.",
    });
    expect(app.identity.memberOf('Alice')?.discordId).toBe('111');

    // The audit log has the link, and never a code.
    await app.store.flush();
    const audit = app.store.audit.recent(10);
    expect(audit.map((entry) => [entry.source, entry.actor, entry.action])).toContainEqual([
      'discord',
      'alice_d',
      'link name="Alice"',
    ]);
    expect(JSON.stringify(audit)).not.toContain(code);
  });

  it('keeps links in the database across a restart', async () => {
    const database = tempDatabasePath();
    const first = await start({ database });
    await link(first, await joinApp(first, 'Alice'), member('alice_d', '111'));
    await first.stop('restart');

    const second = await start({ database });
    expect(second.identity.memberOf('Alice')).toEqual({ discordId: '111', discordName: 'alice_d' });
    const alice = await joinApp(second, 'Alice');
    expect(second.identity.trustOf(alice.id)).toBe('confirmed');
  });

  it('refuses an expired code, a replaced code and a wrong code, and /link from Discord without one', async () => {
    const clock = new ManualClock();
    const app = await start({ clock });
    const alice = await joinApp(app, 'Alice');

    const first = await askCode(alice);
    clock.advance(300_000); // code_ttl_s
    expect(await app.commands.execute(`link ${first}`, member('alice_d', '111'))).toMatchObject({
      ok: false,
      code: 'not_found',
    });

    const second = await askCode(alice);
    clock.advance(10_000);
    const third = await askCode(alice); // replaces the second
    expect(await app.commands.execute(`link ${second}`, member('alice_d', '111'))).toMatchObject({
      ok: false,
      code: 'not_found',
    });
    expect(await app.commands.execute('link 2345', member('alice_d', '111'))).toMatchObject({
      ok: false,
      code: 'not_found',
    });
    expect(await app.commands.execute('link', member('alice_d', '111'))).toMatchObject({
      ok: false,
      code: 'bad_arguments',
      text: "type /link in SAR's chat to get a code, then /link <code> here",
    });
    clock.advance(299_000);
    expect((await app.commands.execute(`link ${third}`, member('alice_d', '111'))).ok).toBe(true);

    // A code is for SAR's chat to give and Discord to take: neither elsewhere.
    expect(await runConsole(app, 'link')).toMatchObject({ ok: false, code: 'refused' });
    const mark = alice.mark();
    alice.sendMessage(`/link ${third}`);
    expect(await heard(alice, /type the code in Discord/, mark)).toBeTruthy();
  });

  it('rate-limits /link per client and wrong codes per Discord user', async () => {
    const clock = new ManualClock();
    const app = await start({ clock });
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');

    const code = await askCode(alice);
    let mark = alice.mark();
    alice.sendMessage('/link');
    expect(await heard(alice, /^No code/, mark)).toBe('No code: wait 10 s before asking for another code.');
    expect(await askCode(bob)).toMatch(/^[A-Z2-9]{6}$/); // another player is not held back
    clock.advance(9_000);
    mark = alice.mark();
    alice.sendMessage('/link');
    expect(await heard(alice, /^No code/, mark)).toBe('No code: wait 1 s before asking for another code.');

    const mallory = member('mallory', '666');
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(await app.commands.execute('link ZZZZZZ', mallory)).toMatchObject({ ok: false, code: 'not_found' });
    }
    // Refused now, even with a right code, which stays unused.
    expect(await app.commands.execute(`link ${code}`, mallory)).toEqual({
      ok: false,
      code: 'refused',
      text: 'Not linked: too many wrong codes: try again in 10 minutes.',
    });
    expect(app.identity.memberOf('Alice')).toBeUndefined();
    // Another member is not held back by Mallory's failures.
    expect((await app.commands.execute(`link ${code}`, member('alice_d', '111'))).ok).toBe(true);
    clock.advance(600_000);
    expect(await app.commands.execute('link ZZZZZZ', mallory)).toMatchObject({ ok: false, code: 'not_found' });
  });

  it('does not let an unconfirmed address take a linked name', async () => {
    const app = await start();
    await link(app, await joinApp(app, 'Alice', { localAddress: '127.0.0.61' }), member('alice_d', '111'));
    const impostor = await joinApp(app, 'Alice', { localAddress: '127.0.0.62' });
    expect(app.identity.trustOf(impostor.id)).toBe('unconfirmed');
    expect(app.identity.discordIdOf(impostor.id)).toBeUndefined();
    const mark = impostor.mark();
    impostor.sendMessage('/link');
    expect(await heard(impostor, /^No code/, mark)).toBe(
      'No code: "Alice" is linked to a Discord member and this address is not confirmed for it: only its owner can link it again.',
    );
  });

  it('keeps the codes in memory bounded, one per player', () => {
    let now = 0;
    const codes = new LinkCodes({ ttlMs: 1000, now: () => now, maxCodes: 3, issueIntervalMs: 0 });
    const issued = [1, 2, 3, 4].map((clientId) => codes.issue({ clientId, name: `P${clientId}`, address: '10.0.0.1' }));
    expect(codes.size).toBe(3);
    expect(codes.redeem((issued[0] as { code: string }).code, 'u').ok).toBe(false); // the oldest went
    codes.issue({ clientId: 4, name: 'P4', address: '10.0.0.1' });
    expect(codes.redeem((issued[3] as { code: string }).code, 'u').ok).toBe(false); // replaced
    now = 1000;
    expect(codes.size).toBe(0);
  });
});

describe('whois, unlink and profile', () => {
  it('whois shows the member of a name, in Discord and the console, not in game', async () => {
    const app = await start();
    const alice = await joinApp(app, 'Alice');
    await link(app, alice, member('alice_d', '111'));

    const result = await app.commands.execute('whois Alice', member('bob_d', '222'));
    expect(result.ok).toBe(true);
    expect(result.text).toMatch(
      /^Alice: Discord member alice_d \(id 111\), linked \d{4}-\d\d-\d\dT[^\n]*\nConnected: #\d+ \(confirmed\)$/,
    );
    expect(result.data).toMatchObject({ name: 'Alice', discordId: '111', names: ['Alice'], banned: false });
    expect((await runConsole(app, 'whois Alice')).ok).toBe(true);
    expect(await runConsole(app, 'whois Bob')).toEqual({
      ok: false,
      code: 'not_found',
      text: 'Bob is not linked to a Discord member',
    });
    const mark = alice.mark();
    alice.sendMessage('/whois Alice');
    expect(await heard(alice, /whois/, mark)).toMatch(/"whois" is run from the console or the discord/);
  });

  it('unlinks your own names from Discord, anyone from the console or as a moderator', async () => {
    const clock = new ManualClock();
    const app = await start({ clock });
    const alice = await joinApp(app, 'Alice');
    const alt = await joinApp(app, 'AliceAlt');
    const bob = await joinApp(app, 'Bob');
    await link(app, alice, member('alice_d', '111'));
    await link(app, alt, member('alice_d', '111'));
    await link(app, bob, member('bob_d', '222'));
    expect(app.identity.namesOf('111')).toEqual(['Alice', 'AliceAlt']);

    expect(await app.commands.execute('unlink Bob', member('alice_d', '111'))).toMatchObject({
      ok: false,
      code: 'forbidden',
    });
    expect(await app.commands.execute('unlink Alice', member('alice_d', '111'))).toMatchObject({
      ok: true,
      text: 'Unlinked Alice from Discord member alice_d.',
    });
    expect(app.identity.trustOf(alice.id)).toBe('unlinked');
    expect(await app.commands.execute('unlink', member('alice_d', '111'))).toMatchObject({
      ok: true,
      text: 'Unlinked AliceAlt.',
    });
    expect(await app.commands.execute('unlink', member('alice_d', '111'))).toMatchObject({
      ok: false,
      code: 'not_found',
    });
    expect((await app.commands.execute('unlink Bob', member('mod', '333', 'moderator'))).ok).toBe(true);
    clock.advance(10_000); // one code per 10 s
    await link(app, bob, member('bob_d', '222'));
    expect((await runConsole(app, 'unlink Bob')).ok).toBe(true);
    expect(await runConsole(app, 'unlink Bob')).toMatchObject({ ok: false, code: 'not_found' });
    expect(await runConsole(app, 'unlink')).toMatchObject({ ok: false, code: 'bad_arguments' });

    // An unlinked name can be linked again, by anyone who has it.
    clock.advance(10_000);
    await link(app, bob, member('robert', '444'));
    expect(app.identity.memberOf('Bob')?.discordId).toBe('444');
    await app.store.flush();
    expect(app.store.audit.recent(20).map((entry) => entry.action)).toContain('unlink player="Alice"');
  });

  it('profile names a member by mention, id or linked name, and is your own from Discord', async () => {
    const app = await start();
    await link(app, await joinApp(app, 'Alice'), member('alice_d', '111'));
    const own = await app.commands.execute('profile', member('alice_d', '111'));
    expect(own).toMatchObject({
      ok: true,
      text: 'alice_d: linked names Alice\n0 races, 0 wins, 0 finished, 0 forfeited',
    });
    for (const name of ['<@111>', '<@!111>', '111', 'Alice'])
      expect((await runConsole(app, `profile ${name}`)).text).toBe(own.text);
    expect(await app.commands.execute('profile', member('bob_d', '222'))).toMatchObject({
      ok: false,
      code: 'not_found',
    });
    expect(await runConsole(app, 'profile')).toMatchObject({ ok: false, code: 'bad_arguments' });
    expect(await runConsole(app, 'profile Nobody')).toMatchObject({ ok: false, code: 'not_found' });
  });
});

describe('banning a member', () => {
  it('kicks every connected name of the member, refuses them and refuses a new link', async () => {
    const app = await start();
    const alice = await joinApp(app, 'Alice', { localAddress: '127.0.0.71' });
    const alt = await joinApp(app, 'AliceAlt', { localAddress: '127.0.0.72' });
    const bob = await joinApp(app, 'Bob', { localAddress: '127.0.0.73' });
    await link(app, alice, member('alice_d', '111'));
    await link(app, alt, member('alice_d', '111'));

    expect(await app.commands.execute('ban member <@111> griefing', member('bob_d', '222'))).toMatchObject({
      ok: false,
      code: 'forbidden',
    });
    const banned = await app.commands.execute('ban member <@111> griefing', member('mod', '333', 'moderator'));
    expect(banned.ok).toBe(true);
    expect(banned.text).toMatch(
      /^Banned Discord member alice_d and the names Alice, AliceAlt \(griefing\); kicked (Alice \(#\d+\), AliceAlt|AliceAlt \(#\d+\), Alice) \(#\d+\)$/,
    );
    await alice.waitForClose();
    await alt.waitForClose();
    await barrier(bob);
    expect(bob.closed).toBe(false);

    // Either name, from any address, is refused.
    const refused = app.server.bus.once('clientRefused');
    await expect(joinApp(app, 'AliceAlt', { localAddress: '127.0.0.74' })).rejects.toThrow(/closed/);
    expect(await refused).toMatchObject({ name: 'AliceAlt', code: 'banned', reason: 'banned: griefing' });

    // A fresh name links to nobody banned... until the banned member redeems its code.
    const fresh = await joinApp(app, 'Fresh', { localAddress: '127.0.0.75' });
    const code = await askCode(fresh);
    expect(await app.commands.execute(`link ${code}`, member('alice_d', '111'))).toEqual({
      ok: false,
      code: 'refused',
      text: 'Not linked: you are banned from this server: you cannot link a name.',
    });
    expect(app.identity.memberOf('Fresh')).toBeUndefined();
    expect((await runConsole(app, 'profile 111')).text).toContain('Banned (griefing)');
    expect((await runConsole(app, 'whois Alice')).text).toContain('[banned]');
    expect((await runConsole(app, 'ban list')).text).toMatch(
      /^1 ban:\nDiscord member alice_d \(id 111; names Alice, AliceAlt\) — griefing \(by discord:mod, \d{4}-.*Z\)$/,
    );

    expect((await runConsole(app, 'unban member 111')).text).toBe('Unbanned Discord member alice_d.');
    expect((await joinApp(app, 'Alice', { localAddress: '127.0.0.76' })).id).toBeGreaterThan(0);
    expect((await runConsole(app, 'ban list')).text).toBe('No bans.');
    expect(await runConsole(app, 'unban member 111')).toMatchObject({ ok: false, code: 'not_found' });
    expect(await runConsole(app, 'ban member Nobody')).toMatchObject({ ok: false, code: 'not_found' });
    await app.store.flush();
    expect(app.store.audit.recent(20).map((entry) => entry.action)).toContain(
      'ban member member="<@111>" reason="griefing"',
    );
  });
});

describe('results by person', () => {
  /** Opens a race, readies the players, counts down 1 s and waits for the go. */
  async function race(app: App, players: SimClient[]): Promise<void> {
    expect((await runConsole(app, 'race open')).ok).toBe(true);
    for (const player of players) {
      const mark = player.mark();
      player.sendMessage('/ready');
      await heard(player, new RegExp(`^${player.options.name} is ready`), mark);
    }
    const started = app.server.bus.once('raceStarted');
    expect((await runConsole(app, 'race start 1')).ok).toBe(true);
    await started;
  }

  it('counts the results of every name linked to a member together', async () => {
    const app = await start();
    const bob = await joinApp(app, 'Bob');
    const alpha = await joinApp(app, 'Alpha');
    await link(app, alpha, member('alice_d', '111'));

    await race(app, [alpha, bob]);
    let ended = app.server.bus.once('raceEnded');
    alpha.finishSpeedrun('1:00.000');
    bob.finishSpeedrun('1:10.000');
    await ended;

    // Renamed: a new name, linked to the same member.
    alpha.close();
    const renamed = await joinApp(app, 'Alpha2');
    await link(app, renamed, member('alice_d', '111'));
    await race(app, [renamed, bob]);
    ended = app.server.bus.once('raceEnded');
    bob.finishSpeedrun('0:50.000');
    renamed.finishSpeedrun('0:55.000');
    await ended;
    await app.store.flush();

    const expected = [
      'alice_d: linked names Alpha, Alpha2',
      '2 races, 1 win, 2 finished, 0 forfeited',
      'best Single player: 0:55.000 (race 2)',
    ];
    const profile = await app.commands.execute('profile', member('alice_d', '111'));
    expect(profile.text).toBe(expected.join('\n'));
    expect((await runConsole(app, 'stats Alpha')).text).toBe(
      ['Alpha (as Alpha, Alpha2): 2 races, 1 win, 2 finished, 0 forfeited', expected[2]].join('\n'),
    );
    expect((await runConsole(app, 'stats Alpha2')).text).toMatch(/^Alpha2 \(as Alpha, Alpha2\): 2 races, 1 win/);
    // An unlinked name reads as before.
    expect((await runConsole(app, 'stats Bob')).text).toBe(
      'Bob: 2 races, 1 win, 2 finished, 0 forfeited\nbest Single player: 0:50.000 (race 2)',
    );
    // Typed in another case, a name that raced is found (and its member's record with it).
    expect((await runConsole(app, 'stats bob')).text).toBe((await runConsole(app, 'stats Bob')).text);
    expect((await runConsole(app, 'stats alpha')).text).toMatch(/^Alpha \(as Alpha, Alpha2\): 2 races, 1 win/);
    // One row per person on the leaderboard: their best, under the name they ran it as.
    expect(app.store.races.leaderboard('sp').map((row) => [row.name, row.time])).toEqual([
      ['Bob', '0:50.000'],
      ['Alpha2', '0:55.000'],
    ]);
  });
});

describe("the owner's confirmation", () => {
  /** Alice linked from 127.0.0.81; an "Alice" from 127.0.0.82 is not confirmed. */
  async function unconfirmed(
    clock: ManualClock,
  ): Promise<{ app: App; asked: ConfirmationRequest[]; other: SimClient }> {
    const app = await start({ clock });
    await link(app, await joinApp(app, 'Alice', { localAddress: '127.0.0.81' }), member('alice_d', '111'));
    const other = await joinApp(app, 'Alice', { localAddress: '127.0.0.82' });
    const asked: ConfirmationRequest[] = [];
    app.identity.setConfirmer(async (request) => void asked.push(request));
    return { app, asked, other };
  }

  it('remembers the address when the owner confirms', async () => {
    const clock = new ManualClock();
    const { app, asked, other } = await unconfirmed(clock);
    const outcome = app.identity.requestConfirmation(other.id);
    await Promise.resolve();
    expect(asked).toEqual([
      {
        id: expect.any(String),
        name: 'Alice',
        clientId: other.id,
        discordId: '111',
        expiresAt: new Date(clock.time + 120_000),
      },
    ]);
    expect(await app.identity.answer(asked[0]!.id, '222', true)).toEqual({
      ok: false,
      text: 'Only the owner of Alice can answer this.',
    });
    const mark = other.mark();
    expect(await app.identity.answer(asked[0]!.id, '111', true)).toEqual({
      ok: true,
      text: 'Confirmed: Alice may play from that address.',
    });
    expect(await outcome).toBe('confirmed');
    expect(await heard(other, /confirmed/, mark)).toBe('The owner of Alice confirmed you.');
    expect(app.identity.trustOf(other.id)).toBe('confirmed');
    expect(await app.identity.answer(asked[0]!.id, '111', false)).toMatchObject({ ok: false });
    clock.advance(120_000);
    await barrier(other);
    expect(other.closed).toBe(false);
  });

  it('disconnects the player when the owner denies, or does not answer in time', async () => {
    const clock = new ManualClock();
    const { app, asked, other } = await unconfirmed(clock);
    const denied = app.identity.requestConfirmation(other.id);
    await Promise.resolve();
    expect(await app.identity.answer(asked[0]!.id, '111', false)).toEqual({
      ok: true,
      text: 'Denied: the player using Alice was disconnected.',
    });
    expect(await denied).toBe('denied');
    await other.waitForClose();
    expect(serverLines(other)).toContain('Disconnected: the owner of Alice did not confirm this connection.');

    const late = await joinApp(app, 'Alice', { localAddress: '127.0.0.83' });
    const disconnected = app.server.bus.once('clientDisconnected');
    const timedOut = app.identity.requestConfirmation(late.id);
    clock.advance(119_000);
    await barrier(late);
    expect(late.closed).toBe(false);
    clock.advance(1_000);
    expect(await timedOut).toBe('timeout');
    expect((await disconnected).reason).toContain('did not confirm this connection in time');
    await late.waitForClose();
    expect(app.identity.pendingConfirmations()).toEqual([]);
  });

  it('is unavailable without a confirmer, and levels fail closed', async () => {
    const clock = new ManualClock();
    const { app, other } = await unconfirmed(clock);
    app.identity.setConfirmer(undefined);
    expect(await app.identity.requestConfirmation(other.id)).toBe('unavailable');
    app.identity.setConfirmer(async () => {
      throw new Error('DMs closed');
    });
    expect(await app.identity.requestConfirmation(other.id)).toBe('unavailable');
    expect(other.closed).toBe(false);

    const owner = app.server.listClients().find((client) => client.name === 'Alice' && client.id !== other.id)!;
    expect(await app.identity.levelOf(owner.id)).toBe('everyone'); // no resolver
    app.identity.setLevelResolver(async () => 'moderator');
    expect(await app.identity.levelOf(owner.id)).toBe('moderator');
    expect(await app.identity.levelOf(other.id)).toBe('everyone'); // not confirmed
    app.identity.setLevelResolver(async () => {
      throw new Error('Discord down');
    });
    expect(await app.identity.levelOf(owner.id)).toBe('everyone');
  });
});
