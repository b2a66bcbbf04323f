/**
 * Races on Discord: the race card and the replies of the history commands.
 *
 * First the drawing itself (pure functions of a race snapshot), then end to end: the real app
 * with its race engine, SAR-like clients on real sockets readying up, splitting and finishing
 * through chat and packets, and the real discord.js client against the Discord emulator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PermissionFlagsBits, type APIEmbed } from 'discord.js';
import { createApp, type App } from '../src/app.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import type { DiscordClientOptions } from '../src/discord/bridge.js';
import {
  CARD_ROWS,
  EMBED_LIMITS,
  embedLength,
  historyEmbed,
  leaderboardEmbed,
  raceEmbed,
  statsEmbed,
} from '../src/discord/race-render.js';
import type { Entrant, RaceSnapshot } from '../src/races/types.js';
import type { SimClient } from '../src/sim/client.js';
import { DiscordEmulator, type RecordedRequest, type StoredMessage } from './discord-emulator/index.js';
import { barrier, joinApp, tempDatabasePath, testConfig, until } from './helpers.js';

const T0 = new Date('2026-12-04T20:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const unix = (date: Date) => Math.floor(date.getTime() / 1000);

// Player-chosen text that tries every trick: markdown, a mass ping, a forged line and a mention.
const EVIL = 'x_Alice_x @everyone';
const EVIL_MD = String.raw`x\_Alice\_x @everyone`;
const NEWLINE = 'Eve\n**organiser** <@910000000000000100>';
const NEWLINE_MD = String.raw`Eve\\n\*\*organiser\*\* \<@910000000000000100>`;

function entrant(name: string, status: Entrant['status'], extra: Partial<Entrant> = {}): Entrant {
  return {
    name,
    clientId: 1,
    status,
    map: 'sp_a1_intro1',
    splits: [],
    finish: null,
    forfeitedAtMs: null,
    ...extra,
  };
}

function split(fromMap: string, toMap: string, elapsedMs: number): Entrant['splits'][number] {
  return { fromMap, toMap, ticks: 600, ticksTotal: 600, elapsedMs, at: at(10_000 + elapsedMs) };
}

function finished(name: string, place: number, time: string, elapsedMs: number): Entrant {
  return entrant(name, 'finished', {
    finish: { time, timeMs: null, elapsedMs, place, at: at(10_000 + elapsedMs) },
  });
}

function race(overrides: Partial<RaceSnapshot> = {}): RaceSnapshot {
  return {
    id: 7,
    kind: 'race',
    title: 'Friday night',
    state: 'open',
    openedBy: 'organiser',
    openedAt: T0,
    countdownSeconds: null,
    startedAt: null,
    goAt: null,
    endedAt: null,
    route: null,
    entrants: [],
    ...overrides,
  };
}

const lines = (embed: APIEmbed) => embed.description!.split('\n');
/** The standings rows: everything after the blank line under the state and the counts. */
const rows = (embed: APIEmbed) => lines(embed).slice(lines(embed).indexOf('') + 1);

describe('race card drawing', () => {
  it('shows an open race: title, state, who is ready', () => {
    const embed = raceEmbed(race({ entrants: [entrant('Alice', 'ready'), entrant('Bob', 'not_ready')] }), {
      now: at(5000),
    });
    expect(embed.title).toBe('🏁 Race 7: Friday night');
    expect(lines(embed).slice(0, 2)).toEqual(['**Open** · ready up with `/ready` in game', '1 of 2 ready']);
    expect(rows(embed)).toEqual(['✅ **Alice** — ready', '⬜ **Bob** — not ready']);
    expect(embed.footer?.text).toBe('Race 7 · opened by organiser');
    expect(embed.timestamp).toBe(at(5000).toISOString());
    expect(raceEmbed(race()).description).toBe('**Open** · ready up with `/ready` in game\nNobody has joined yet.');
  });

  it('counts down to the go, and then shows the time since the go as Discord keeps it current', () => {
    const counting = raceEmbed(
      race({ state: 'counting_down', startedAt: at(1000), countdownSeconds: 5, entrants: [entrant('A', 'ready')] }),
    );
    expect(lines(counting)[0]).toBe(`**Counting down** · go <t:${unix(at(6000))}:R>`);
    const running = raceEmbed(race({ state: 'running', goAt: at(6000), entrants: [entrant('A', 'running')] }));
    expect(lines(running)[0]).toBe(`**Running** · started <t:${unix(at(6000))}:R>`);
    expect(lines(running)[1]).toBe('1 running');
  });

  it('lists runners by position with their map by its title, and finishers with SAR’s time and the gap', () => {
    const embed = raceEmbed(
      race({
        state: 'running',
        goAt: at(0),
        route: 'sp',
        entrants: [
          finished('Alpha', 1, '1:02.345', 62_000),
          finished('Bravo', 2, '1:04.945', 64_600),
          entrant('Charlie', 'running', {
            map: 'sp_a1_intro3',
            splits: [split('sp_a1_intro1', 'sp_a1_intro2', 20_000), split('sp_a1_intro2', 'sp_a1_intro3', 75_500)],
          }),
          entrant('Delta', 'running', { map: 'my_workshop_*map*', clientId: null }),
          entrant('Echo', 'forfeited', { forfeitedAtMs: 30_000 }),
        ],
      }),
    );
    expect(lines(embed)[1]).toBe('2 running · 2 finished · 1 forfeited');
    expect(rows(embed)).toEqual([
      '🥇 **Alpha** — **1:02.345**',
      '🥈 **Bravo** — **1:04.945** · +2.600',
      String.raw`3\. **Charlie** — Portal Gun · 1:15`,
      String.raw`4\. **Delta** — my\_workshop\_\*map\* · disconnected`,
      '🏳️ **Echo** — forfeited at 30.000',
    ]);
    expect(embed.footer?.text).toBe('Race 7 · Single player · opened by organiser');
  });

  it('shows the final order with DNF once the race has ended, stamped with its end', () => {
    const ended = raceEmbed(
      race({
        state: 'finished',
        goAt: at(0),
        endedAt: at(754_000),
        entrants: [
          finished('A', 1, '10:00.000', 600_000),
          finished('B', 2, '10:30.000', 630_500),
          finished('C', 3, '11:00.000', 660_000),
          finished('D', 4, '12:00.000', 720_000),
          entrant('E', 'dnf'),
        ],
      }),
      { now: at(999_999) },
    );
    expect(lines(ended).slice(0, 2)).toEqual(['**Finished** · 12:34.000 long', '4 finished · 1 DNF']);
    expect(rows(ended)).toEqual([
      '🥇 **A** — **10:00.000**',
      '🥈 **B** — **10:30.000** · +30.500',
      '🥉 **C** — **11:00.000** · +1:00.000',
      String.raw`4\. **D** — **12:00.000** · +2:00.000`,
      '❌ **E** — DNF',
    ]);
    expect(ended.timestamp).toBe(at(754_000).toISOString());
    const cancelled = raceEmbed(race({ state: 'cancelled', endedAt: at(1), entrants: [entrant('A', 'ready')] }));
    expect(lines(cancelled)[0]).toBe('**Cancelled**');
    expect(cancelled.color).not.toBe(ended.color);
  });

  it('shows names, titles, maps and times literally on one line, with nothing that could ping', () => {
    const embed = raceEmbed(
      race({
        title: '**Big** race @here <@&1>\nsecond line',
        openedBy: 'x\ny',
        state: 'running',
        goAt: at(0),
        entrants: [
          finished(EVIL, 1, '1:00.000\n@here', 60_000),
          entrant(NEWLINE, 'running', { map: 'evil\nmap <@1>' }),
        ],
      }),
    );
    expect(embed.title).toBe(String.raw`🏁 Race 7: \*\*Big\*\* race @here \<@&1>\\nsecond line`);
    expect(rows(embed)).toEqual([
      String.raw`🥇 **${EVIL_MD}** — **1:00.000\\n@here**`,
      String.raw`2\. **${NEWLINE_MD}** — evil\\nmap \<@1>`,
    ]);
    expect(embed.footer?.text).toBe(String.raw`Race 7 · opened by x\ny`);
    // Every line of the card is ours: no player text starts one.
    expect(lines(embed)).toHaveLength(5);
  });

  it('caps a big race at the first rows and "and N more", within Discord’s limits', () => {
    const many = Array.from({ length: 57 }, (_, i) => entrant(`Runner ${i + 1}`, 'running'));
    const embed = raceEmbed(race({ state: 'running', goAt: at(0), entrants: many }));
    expect(rows(embed)).toHaveLength(CARD_ROWS + 1);
    expect(rows(embed)[0]).toBe(String.raw`1\. **Runner 1** — Container Ride`);
    expect(rows(embed).at(-1)).toBe('… and 37 more');

    // Names made only of characters that escape to ten times their length.
    const huge = Array.from({ length: 40 }, (_, i) => entrant(`${'\u{e0041}'.repeat(60)}${i}`, 'not_ready'));
    const wide = raceEmbed(race({ title: '\u{e0041}'.repeat(300), entrants: huge }));
    expect(wide.title!.length).toBeLessThanOrEqual(EMBED_LIMITS.title);
    expect(wide.description!.length).toBeLessThanOrEqual(EMBED_LIMITS.description);
    expect(embedLength(wide)).toBeLessThanOrEqual(EMBED_LIMITS.total);
    const shown = rows(wide);
    expect(shown.at(-1)).toMatch(/^… and \d+ more$/);
    expect(shown.length - 1 + Number(/\d+/.exec(shown.at(-1)!)![0])).toBe(40);
  });

  it('draws /stats and /leaderboard data, and leaves anything else to the text reply', () => {
    const stats = statsEmbed({
      name: EVIL,
      races: 3,
      wins: 1,
      finishes: 2,
      forfeits: 1,
      best: [
        { route: 'sp', time: '1:02.345', timeMs: 62_345, elapsedMs: 63_000, raceId: 2, at: T0 },
        { route: null, time: '0:59.000\n@here', timeMs: 59_000, elapsedMs: 59_500, raceId: 3, at: T0 },
      ],
    });
    expect(stats.title).toBe(`📊 ${EVIL_MD}`);
    expect(lines(stats)).toEqual([
      '**3** races · **1** win · **2** finished · **1** forfeited',
      '',
      '**Best times**',
      `Single player: **1:02.345** (race 2, <t:${unix(T0)}:f>)`,
      String.raw`Other maps: **0:59.000\\n@here** (race 3, <t:${unix(T0)}:f>)`,
    ]);

    const board = leaderboardEmbed(
      [
        { place: 1, name: 'Alpha', time: '1:00.000', timeMs: 60_000, elapsedMs: 60_100, raceId: 4, at: T0 },
        { place: 2, name: NEWLINE, time: '1:01.000', timeMs: 61_000, elapsedMs: 61_100, raceId: 5, at: T0 },
        { place: 4, name: 'Delta', time: '1:03.000', timeMs: 63_000, elapsedMs: 63_100, raceId: 5, at: T0 },
      ],
      'sp',
    );
    expect(board.title).toBe('🏆 Leaderboard · Single player');
    expect(lines(board)).toEqual([
      '🥇 **Alpha** — **1:00.000** · race 4',
      `🥈 **${NEWLINE_MD}** — **1:01.000** · race 5`,
      String.raw`4\. **Delta** — **1:03.000** · race 5`,
    ]);
    expect(leaderboardEmbed([]).description).toBe('No finished races yet.');

    expect(historyEmbed('stats', { name: 'x' })).toBeUndefined();
    expect(historyEmbed('results', { race: { id: 1 }, results: [] })).toBeUndefined();
    expect(historyEmbed('list', race())).toBeUndefined();
    expect(historyEmbed('results', race({ state: 'finished' }))?.title).toBe('🏁 Race 7: Friday night');
    expect(historyEmbed('results', { race: race({ state: 'finished' }) })?.title).toBe('🏁 Race 7: Friday night');
  });
});

// ---- end to end ----

const TOKEN = 'emulated.bot.token';
const GUILD = '920000000000000001';
const CHAT = '920000000000000010';
const EVENTS = '920000000000000011';
const ADMIN = { id: '920000000000000100', username: 'organiser' };
const MEMBER = { id: '920000000000000101', username: 'viewer' };
const asAdmin = { user: ADMIN, permissions: PermissionFlagsBits.Administrator };
const FAST_RETRY = { login: { firstMs: 20, maxMs: 80 }, rest: { firstMs: 20, maxMs: 80 } };
const CARD_EDIT = 'PATCH /channels/:id/messages/:id';

// Apps are stopped here, before their emulator, rather than by the shared helpers.
const apps: App[] = [];
const emulators: DiscordEmulator[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop('test finished')));
  // Whatever a test did, nothing the bot posted or edited could ping anyone.
  const pinging = emulators.flatMap((emulator) => emulator.mayPing);
  await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
  expect(pinging).toEqual([]);
});

interface Setup {
  app: App;
  emulator: DiscordEmulator;
  databasePath: string;
}

/** A server with the bot on an emulated guild; `again` starts another on the same guild and database. */
async function raceNight(cardUpdateMs = 250, again?: Omit<Setup, 'app'>): Promise<Setup> {
  const emulator =
    again?.emulator ??
    (await DiscordEmulator.start({
      botToken: TOKEN,
      guildId: GUILD,
      bot: { username: 'ghosting' },
      channels: [
        { id: CHAT, name: 'race-chat' },
        { id: EVENTS, name: 'race-events' },
      ],
      members: [ADMIN, MEMBER],
    }));
  if (again === undefined) emulators.push(emulator);
  const config = testConfig();
  const databasePath = again?.databasePath ?? tempDatabasePath();
  config.database.path = databasePath;
  config.discord = {
    ...config.discord,
    guild_id: GUILD,
    chat_channel_id: CHAT,
    events_channel_id: EVENTS,
    api_url: emulator.apiUrl,
  };
  config.races = { ...config.races, card_update_ms: cardUpdateMs };
  // The bridge's own retry waits are short, so that a test sees it catch up after an outage.
  const clientOptions: DiscordClientOptions = { ...emulator.clientOptions(), bridgeRetry: FAST_RETRY };
  const app = createApp({ config, discordToken: TOKEN, discordClientOptions: clientOptions });
  apps.push(app);
  await app.start();
  await until(() => app.discord.ready, 5000, 'the bot to be ready');
  return { app, emulator, databasePath };
}

const run = (app: App, line: string) => app.commands.execute(line, CONSOLE_INVOKER);

/** The race cards in the events channel (bot messages with an embed), oldest first. */
const cards = (emulator: DiscordEmulator): StoredMessage[] =>
  emulator.messagesIn(EVENTS).filter((message) => message.source === 'bot' && message.embeds.length > 0);

const embedOf = (message: StoredMessage) => message.embeds[0] as APIEmbed;

/** A standings row without the time of the runner's last split (" · 0:01"), which depends on the clock. */
const withoutClock = (row: string) => row.replace(/ · \d+:\d\d$/, '');

/** Waits until the (newest) card's embed passes `check`; returns the card. */
function waitForCard(
  emulator: DiscordEmulator,
  check: (embed: APIEmbed) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<StoredMessage> {
  return emulator.waitFor(
    () => {
      const card = cards(emulator).at(-1);
      return card !== undefined && check(embedOf(card)) ? card : undefined;
    },
    `the race card to show ${what}`,
    timeoutMs,
  );
}

const showsRows = (expected: string[]) => (embed: APIEmbed) =>
  JSON.stringify(rows(embed).map(withoutClock)) === JSON.stringify(expected);

/** The card requests (its post and its edits) the emulator answered, in order. */
const cardRequests = (emulator: DiscordEmulator): RecordedRequest[] =>
  emulator.requests.filter(
    (request) =>
      request.status !== 0 &&
      /^(POST \/channels\/\d+\/messages|PATCH \/channels\/\d+\/messages\/\d+)$/.test(
        `${request.method} ${request.path}`,
      ) &&
      Array.isArray((request.body as { embeds?: unknown }).embeds),
  );

const requestRows = (request: RecordedRequest) =>
  rows((request.body as { embeds: APIEmbed[] }).embeds[0]!).map(withoutClock);

/** Says /ready in game and waits until the server has said so to everyone. */
async function ready(player: SimClient): Promise<void> {
  const mark = player.mark();
  player.sendMessage('/ready');
  await player.waitFor((p) => p.type === 'message' && p.id === 0 && p.text.includes(' is ready ('), 3000, mark);
}

describe('the race card in the events channel', () => {
  it('is posted at open and edited in place through ready, start, splits, finish and end', async () => {
    const { app, emulator } = await raceNight();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');

    const opened = await emulator.invokeCommand({
      name: 'race',
      subcommand: 'open',
      options: { title: 'Friday any%' },
      ...asAdmin,
    });
    expect(opened.content).toContain('opened');
    const card = await waitForCard(emulator, (embed) => embed.title === '🏁 Race 1: Friday any%', 'the open race');
    expect(embedOf(card).description).toBe('**Open** · ready up with `/ready` in game\nNobody has joined yet.');

    await ready(alice);
    await ready(bob);
    await waitForCard(emulator, showsRows(['✅ **Alice** — ready', '✅ **Bob** — ready']), 'both ready');

    const started = app.server.bus.once('raceStarted');
    expect((await run(app, 'race start 1')).ok).toBe(true);
    await waitForCard(
      emulator,
      (embed) => embed.description!.startsWith('**Counting down** · go <t:'),
      'the countdown',
    );
    await started;
    await waitForCard(emulator, (embed) => embed.description!.startsWith('**Running** · started <t:'), 'the go');

    // Splits reorder the standings: Bob ahead, then Alice past him.
    bob.changeMap('sp_a1_intro2', 600, 600);
    await waitForCard(
      emulator,
      showsRows([String.raw`1\. **Bob** — Portal Carousel`, String.raw`2\. **Alice** — Container Ride`]),
      'Bob ahead',
    );
    alice.changeMap('sp_a1_intro2', 500, 500);
    alice.changeMap('sp_a1_intro3', 500, 1000);
    await waitForCard(
      emulator,
      showsRows([String.raw`1\. **Alice** — Portal Gun`, String.raw`2\. **Bob** — Portal Carousel`]),
      'Alice ahead',
    );
    // Anyone can see the standings so far with /race status, drawn as the card draws them.
    const status = await emulator.invokeCommand({ name: 'race', subcommand: 'status', user: MEMBER });
    expect(rows(status.original!.embeds[0] as APIEmbed).map(withoutClock)).toEqual([
      String.raw`1\. **Alice** — Portal Gun`,
      String.raw`2\. **Bob** — Portal Carousel`,
    ]);
    expect(status.ephemeral).toBe(false);

    alice.finishSpeedrun('1:02.345');
    await waitForCard(
      emulator,
      showsRows(['🥇 **Alice** — **1:02.345**', String.raw`2\. **Bob** — Portal Carousel`]),
      'Alice first',
    );
    const end = await emulator.invokeCommand({ name: 'race', subcommand: 'end', ...asAdmin });
    expect(end.ephemeral).toBe(true);
    const final = await waitForCard(emulator, (embed) => embed.description!.startsWith('**Finished**'), 'the end');
    // The card is the race's one message in the events channel: no separate announcement lines.
    const announced = emulator.messagesIn(EVENTS).filter((message) => message.content.startsWith('🔨'));
    expect(announced).toEqual([]);
    expect(lines(embedOf(final))[1]).toBe('1 finished · 1 DNF');
    expect(rows(embedOf(final))).toEqual(['🥇 **Alice** — **1:02.345**', '❌ **Bob** — DNF']);

    // One message all along, edited in place; once the end is shown nothing more is sent.
    await app.discord.flush();
    expect(cards(emulator).map((message) => message.id)).toEqual([card.id]);
    const requests = cardRequests(emulator);
    expect(requests[0]!.method).toBe('POST');
    expect(
      requests.slice(1).every((request) => request.method === 'PATCH' && request.path.endsWith(`/${card.id}`)),
    ).toBe(true);
    expect(requests.length).toBeGreaterThanOrEqual(7); // open, ready, countdown, go, two splits, finish, end
    expect(final.canPing).toBe(false);

    // /results shows the same final standings.
    const results = await emulator.invokeCommand({ name: 'results', user: MEMBER });
    const reply = results.original!.embeds[0] as APIEmbed;
    expect(reply.title).toBe('🏁 Race 1: Friday any%');
    expect(rows(reply)).toEqual(rows(embedOf(final)));
    expect(results.ephemeral).toBe(false);
  });

  it('edits at most once per card_update_ms, each time with the newest state, and always shows the last', async () => {
    const WINDOW = 1000;
    const { app, emulator } = await raceNight(WINDOW);
    const players = await Promise.all(['P1', 'P2', 'P3', 'P4'].map((name) => joinApp(app, name)));
    expect((await run(app, 'race open')).ok).toBe(true);
    await waitForCard(emulator, (embed) => embed.title === '🏁 Race 1', 'the open race');

    // Many changes within one window: every player readies, two take it back.
    for (const player of players) player.sendMessage('/ready');
    players[1]!.sendMessage('/unready');
    players[3]!.sendMessage('/unready');
    await barrier(...players);
    const latest = ['✅ **P1** — ready', '✅ **P3** — ready', '⬜ **P2** — not ready', '⬜ **P4** — not ready'];
    await waitForCard(emulator, showsRows(latest), 'the newest state');
    await app.discord.flush();
    let requests = cardRequests(emulator);
    expect(requests.map((request) => request.method)).toEqual(['POST', 'PATCH']);
    expect(requestRows(requests[1]!)).toEqual(latest);

    // The last change of a race (here: a cancel right after an edit) is shown too, a window later.
    players[1]!.sendMessage('/ready');
    await barrier(players[1]!);
    expect((await run(app, 'race cancel')).ok).toBe(true);
    await waitForCard(emulator, (embed) => embed.description!.startsWith('**Cancelled**'), 'the cancel');
    await app.discord.flush();
    requests = cardRequests(emulator);
    expect(requests.map((request) => request.method)).toEqual(['POST', 'PATCH', 'PATCH']);
    expect(requests.at(-1)!.body).toMatchObject({
      embeds: [{ description: expect.stringMatching(/^\*\*Cancelled\*\*/) }],
    });
    // Never two requests within one window (each arrives a few ms after it started).
    for (let i = 1; i < requests.length; i++) {
      expect(requests[i]!.at - requests[i - 1]!.at).toBeGreaterThanOrEqual(WINDOW - 100);
    }
  });

  it('waits out a 429 on an edit and then sends the newest state, never the stale one', async () => {
    const { app, emulator } = await raceNight();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    expect((await run(app, 'race open')).ok).toBe(true);
    await waitForCard(emulator, (embed) => embed.title === '🏁 Race 1', 'the open race');

    emulator.failNext(CARD_EDIT, { status: 429, retryAfter: 1 });
    await ready(alice);
    const limited = await emulator.waitForRequest(CARD_EDIT, (request) => request.status === 429);
    expect(requestRows(limited)).toEqual(['✅ **Alice** — ready']);
    await ready(bob);
    await waitForCard(emulator, showsRows(['✅ **Alice** — ready', '✅ **Bob** — ready']), 'both ready');
    await app.discord.flush();

    const edits = cardRequests(emulator).filter((request) => request.method === 'PATCH');
    expect(edits.map((request) => [request.status, requestRows(request)])).toEqual([
      [429, ['✅ **Alice** — ready']],
      [200, ['✅ **Alice** — ready', '✅ **Bob** — ready']],
    ]);
    expect(edits[1]!.at - edits[0]!.at).toBeGreaterThanOrEqual(950);
    expect(cards(emulator)).toHaveLength(1);
  });

  it('catches up after a REST outage and a gateway reconnect, and posts a new card if the old one was deleted', async () => {
    const { app, emulator } = await raceNight();
    const [alice, bob, carol] = await Promise.all(['Alice', 'Bob', 'Carol'].map((name) => joinApp(app, name)));
    expect((await run(app, 'race open')).ok).toBe(true);
    const first = await waitForCard(emulator, (embed) => embed.title === '🏁 Race 1', 'the open race');

    emulator.startOutage({ status: 503 });
    await ready(alice!);
    await emulator.waitForRequest(CARD_EDIT, (request) => request.status === 503);
    await ready(bob!);
    // The newest state fails too; nothing changes after it, yet it goes out once Discord is back.
    await emulator.waitForRequest(CARD_EDIT, (request) => request.status === 503 && requestRows(request).length === 2);
    expect(app.discord.state).toBe('degraded');
    emulator.endOutage();
    await waitForCard(
      emulator,
      showsRows(['✅ **Alice** — ready', '✅ **Bob** — ready']),
      'both ready after the outage',
    );

    expect(await emulator.dropGatewayConnections()).not.toBe('dropped');
    await ready(carol!);
    await waitForCard(
      emulator,
      showsRows(['✅ **Alice** — ready', '✅ **Bob** — ready', '✅ **Carol** — ready']),
      'all three after the reconnect',
    );
    await app.discord.flush();
    expect(cards(emulator).map((message) => message.id)).toEqual([first.id]);

    // A moderator deletes the card: the next change posts a new one with the newest state.
    emulator.deleteMessage(EVENTS, first.id);
    bob!.sendMessage('/unready');
    const second = await waitForCard(
      emulator,
      showsRows(['✅ **Alice** — ready', '✅ **Carol** — ready', '⬜ **Bob** — not ready']),
      'a new card',
    );
    expect(second.id).not.toBe(first.id);
    expect(cards(emulator).map((message) => message.id)).toEqual([second.id]);
    expect(emulator.requestsTo(CARD_EDIT).filter((request) => request.status === 404)).toHaveLength(1);
  });

  it('shows player names literally on one line, and nothing on it can ping', async () => {
    const { app, emulator } = await raceNight();
    const evil = await joinApp(app, EVIL);
    const forger = await joinApp(app, NEWLINE);
    expect((await run(app, 'race open @everyone *party* <@920000000000000100>')).ok).toBe(true);
    await ready(evil);
    await ready(forger);
    const card = await waitForCard(
      emulator,
      showsRows([`✅ **${NEWLINE_MD}** — ready`, `✅ **${EVIL_MD}** — ready`]),
      'the escaped names',
    );
    expect(embedOf(card).title).toBe(String.raw`🏁 Race 1: @everyone \*party\* \<@920000000000000100>`);
    expect(lines(embedOf(card))).toHaveLength(5); // state, counts, blank, one row per player
    expect(card.canPing).toBe(false);
    expect(card.allowedMentions).toEqual({ parse: [] });
  });

  it('shows how a race ended when the server stops, without waiting for the throttle window', async () => {
    const { app, emulator } = await raceNight(60_000);
    const alice = await joinApp(app, 'Alice');
    expect((await run(app, 'race open')).ok).toBe(true);
    await waitForCard(emulator, (embed) => embed.title === '🏁 Race 1', 'the open race');
    await ready(alice);
    const stopping = app.stop('test finished');
    const last = await waitForCard(emulator, (embed) => embed.description!.startsWith('**Cancelled**'), 'the cancel');
    await stopping;
    expect(rows(embedOf(last))).toEqual(['✅ **Alice** — ready']);
    expect(cardRequests(emulator).map((request) => request.method)).toEqual(['POST', 'PATCH']);
  });

  it('after a crash, the next start edits the card of the race it ended rather than posting another', async () => {
    const first = await raceNight();
    const { app, emulator } = first;
    const alice = await joinApp(app, 'Alice');
    expect((await run(app, 'race open Crash night')).ok).toBe(true);
    await ready(alice);
    const started = app.server.bus.once('raceStarted');
    expect((await run(app, 'race start 1')).ok).toBe(true);
    await started;
    const posted = await waitForCard(emulator, (embed) => embed.description!.startsWith('**Running**'), 'the go');
    await app.store.flush(); // the race and which message is its card are on disk

    // The process dies: the bot goes, and the database keeps what it had (the race running);
    // the sockets close after that, so nothing they set off reaches the disk.
    apps.splice(apps.indexOf(app), 1);
    await app.discord.stop();
    await app.store.close();
    await app.server.stop('crash');
    alice.close();

    const second = await raceNight(250, first);
    const edited = await waitForCard(
      emulator,
      (embed) => embed.description!.startsWith('**Finished**'),
      'the race ended by the restart',
    );
    expect(edited.id).toBe(posted.id);
    expect(cards(emulator)).toHaveLength(1);
    expect(rows(embedOf(edited)).map(withoutClock)).toEqual(['❌ **Alice** — DNF']);
    await second.app.store.flush();
    expect(second.app.store.raceCards.messageOf(1)).toEqual({ channelId: EVENTS, messageId: posted.id });
  });

  it('gives a plain countdown its card too', async () => {
    const { app, emulator } = await raceNight();
    const alice = await joinApp(app, 'Alice');
    const bob = await joinApp(app, 'Bob');
    expect((await run(app, 'countdown start 1')).ok).toBe(true);
    await waitForCard(emulator, (embed) => embed.title === '🏁 Countdown race 1', 'the countdown race');
    await app.server.bus.once('raceStarted');
    bob.finishSpeedrun('0:50.000');
    alice.finishSpeedrun('0:55.000');
    const final = await waitForCard(emulator, (embed) => embed.description!.startsWith('**Finished**'), 'the end');
    expect(rows(embedOf(final)).map((row) => row.replace(/ · \+[\d:.]+$/, ''))).toEqual([
      '🥇 **Bob** — **0:50.000**',
      '🥈 **Alice** — **0:55.000**',
    ]);
    expect(cards(emulator)).toHaveLength(1);
  });
});

describe('the history commands on Discord', () => {
  it('answers /results, /stats and /leaderboard with embeds, names escaped, players autocompleted', async () => {
    const { app, emulator } = await raceNight();
    const evil = await joinApp(app, EVIL);
    const bob = await joinApp(app, 'Bob');
    expect((await run(app, 'race open')).ok).toBe(true);
    await ready(evil);
    await ready(bob);
    const started = app.server.bus.once('raceStarted');
    expect((await run(app, 'race start 1')).ok).toBe(true);
    await started;
    const ended = app.server.bus.once('raceEnded');
    evil.finishSpeedrun('1:00.000');
    bob.finishSpeedrun('1:10.000');
    await ended;
    await app.store.races.flush();

    const results = await emulator.invokeCommand({ name: 'results', options: { race: 1 }, user: MEMBER });
    const resultsEmbed = results.original!.embeds[0] as APIEmbed;
    expect(rows(resultsEmbed).map((row) => row.replace(/ · \+[\d:.]+$/, ''))).toEqual([
      `🥇 **${EVIL_MD}** — **1:00.000**`,
      '🥈 **Bob** — **1:10.000**',
    ]);

    const choices = await emulator.autocomplete({ name: 'stats', focused: 'player', value: 'alice', user: MEMBER });
    expect(choices).toEqual([{ name: EVIL, value: EVIL }]);
    const stats = await emulator.invokeCommand({ name: 'stats', options: { player: EVIL }, user: MEMBER });
    const statsReply = stats.original!.embeds[0] as APIEmbed;
    expect(statsReply.title).toBe(`📊 ${EVIL_MD}`);
    expect(lines(statsReply)[0]).toBe('**1** race · **1** win · **1** finished · **0** forfeited');
    expect(lines(statsReply).slice(2)).toEqual([
      '**Best times**',
      expect.stringMatching(/^Single player: \*\*1:00\.000\*\* \(race 1/),
    ]);

    const board = await emulator.invokeCommand({ name: 'leaderboard', user: MEMBER });
    const boardReply = board.original!.embeds[0] as APIEmbed;
    expect(boardReply.title).toBe('🏆 Leaderboard · Single player');
    expect(lines(boardReply)).toEqual([
      `🥇 **${EVIL_MD}** — **1:00.000** · race 1`,
      '🥈 **Bob** — **1:10.000** · race 1',
    ]);
    // A failure is still a private text reply.
    const unknown = await emulator.invokeCommand({ name: 'stats', options: { player: 'Nobody' }, user: MEMBER });
    expect(unknown.ephemeral).toBe(true);
    expect(unknown.content).toContain('has not raced here yet');
    for (const reply of [results, stats, board]) expect(reply.original!.canPing).toBe(false);
  });
});
