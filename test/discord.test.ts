/**
 * The Discord bridge end to end: the real app (ghost server, database, command registry) with
 * its real discord.js client logged in to the local Discord API emulator, and SAR-like clients
 * on real sockets.
 */
import { PermissionFlagsBits } from 'discord.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { DiscordClientOptions } from '../src/discord/bridge.js';
import { backoffDelay, DEFAULT_RETRY } from '../src/discord/retry.js';
import type { SimClient } from '../src/sim/client.js';
import { DiscordEmulator, DEFAULT_BOT_PERMISSIONS, mayPing, messageRequests } from './discord-emulator/index.js';
import { countPackets, joinApp, tempDatabasePath, testConfig, until } from './helpers.js';

const TOKEN = 'emulated.bot.token';
const GUILD = '910000000000000001';
const CHAT = '910000000000000010';
const EVENTS = '910000000000000011';
const MOD_ROLE = '910000000000000020';
const ADMIN = { id: '910000000000000100', username: 'organiser' };
const MEMBER = { id: '910000000000000101', username: 'viewer' };
const MODERATOR = { id: '910000000000000102', username: 'helper' };

// Player-chosen text that tries every trick: markdown, a mass ping, a forged line and a mention.
const EVIL = 'x_Alice_x @everyone';
/** EVIL as Discord markdown that shows it literally. */
const EVIL_MD = String.raw`x\_Alice\_x @everyone`;
const FORGER = `Eve\n**${ADMIN.username}**: <@${ADMIN.id}>`;
/** FORGER on one line (the newline shown as \n), as plain text: webhook usernames, code blocks. */
const FORGER_TEXT = String.raw`Eve\n**organiser**: <@910000000000000100>`;
/** FORGER as Discord markdown that shows it literally, on one line. */
const FORGER_MD = String.raw`Eve\\n\*\*organiser\*\*: \<@910000000000000100>`;

// Apps are stopped here, before their emulator, rather than by the shared helpers.
const apps: App[] = [];
const emulators: DiscordEmulator[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop('test finished')));
  const pinging = emulators.flatMap((emulator) => emulator.mayPing);
  await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
  // Whatever a test did, nothing the bot sent could ping anyone.
  expect(pinging).toEqual([]);
});

/** Each line of each message in a channel. */
const linesIn = (emulator: DiscordEmulator, channel: string): string[] =>
  emulator.messagesIn(channel).flatMap((message) => message.content.split('\n'));

/** Waits for `count` lines in the channel that pass `predicate`, and returns them. */
const waitForLines = (
  emulator: DiscordEmulator,
  channel: string,
  predicate: (line: string) => boolean,
  count = 1,
): Promise<string[]> =>
  emulator.waitFor(() => {
    const found = linesIn(emulator, channel).filter(predicate);
    return found.length >= count ? found : undefined;
  }, `${count} matching lines in ${channel}`);

/** The lines inside a reply that is one code block. */
function codeBlockLines(content: string | undefined): string[] {
  expect(content).toMatch(/^```\n[\s\S]*\n```$/);
  return content!.slice(4, -4).split('\n');
}

/** A pino logger whose records (level and msg among them) land in `records`. */
function capturingLogger(): { logger: pino.Logger; records: Array<{ level: number; msg: string }> } {
  const records: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void records.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  return { logger, records };
}

const ERROR = 50;
const WARN = 40;

async function startEmulator(botPermissions = DEFAULT_BOT_PERMISSIONS): Promise<DiscordEmulator> {
  const emulator = await DiscordEmulator.start({
    botToken: TOKEN,
    guildId: GUILD,
    bot: { username: 'ghosting' },
    channels: [
      { id: CHAT, name: 'race-chat' },
      { id: EVENTS, name: 'race-events' },
    ],
    roles: [{ id: MOD_ROLE, name: 'race mods', permissions: 0n }],
    members: [ADMIN, MEMBER, { ...MODERATOR, roles: [MOD_ROLE] }],
    botPermissions,
  });
  emulators.push(emulator);
  return emulator;
}

interface StartOptions {
  token?: string;
  logger?: pino.Logger;
  /** Serve /healthz on an OS-chosen port. */
  http?: boolean;
  /** The bridge's own retry waits, short so that tests see several attempts. */
  fastRetries?: boolean;
  /** `[discord] max_queued_messages`. */
  maxQueued?: number;
}

const FAST_RETRY = { login: { firstMs: 20, maxMs: 80 }, rest: { firstMs: 20, maxMs: 80 } };

async function startApp(emulator: DiscordEmulator, options: StartOptions = {}): Promise<App> {
  const config = testConfig({ limits: { chat_per_second: 0 } }); // the flood test sends 15 at once
  config.database.path = tempDatabasePath();
  config.discord = {
    ...config.discord,
    guild_id: GUILD,
    chat_channel_id: CHAT,
    events_channel_id: EVENTS,
    api_url: emulator.apiUrl,
    ...(options.maxQueued !== undefined ? { max_queued_messages: options.maxQueued } : {}),
  };
  if (options.http === true) config.http = { ...config.http, enabled: true, port: 0 };
  const clientOptions: DiscordClientOptions = {
    ...emulator.clientOptions(),
    ...(options.fastRetries === true ? { bridgeRetry: FAST_RETRY } : {}),
  };
  const app = createApp({
    config,
    discordToken: options.token ?? TOKEN,
    discordClientOptions: clientOptions,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  apps.push(app);
  await app.start();
  return app;
}

async function readyApp(
  botPermissions?: bigint,
  options: StartOptions = {},
): Promise<{ app: App; emulator: DiscordEmulator }> {
  const emulator = await startEmulator(botPermissions);
  const app = await startApp(emulator, options);
  await until(() => app.discord.ready, 5000, 'the bot to be ready');
  return { app, emulator };
}

const join = (app: App, name: string, localAddress = '127.0.0.1'): Promise<SimClient> =>
  joinApp(app, name, { localAddress });

const ADMIN_PERMISSIONS = PermissionFlagsBits.Administrator;

describe('Discord bridge', () => {
  it('stays off without a token and the ghost server works as before', async () => {
    const emulator = await startEmulator();
    const app = await startApp(emulator, { token: '' });
    expect(app.discord.state).toBe('off');
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    alice.sendMessage('no discord here');
    await bob.waitFor((p) => p.type === 'message');
    expect(emulator.requests).toEqual([]);
  });

  it('gives up at once on a refused token, with one line saying what to fix; the ghost server carries on', async () => {
    const emulator = await startEmulator();
    const { logger, records } = capturingLogger();
    // Fast retries: were a refused token retried, the state would be 'connecting' again at once.
    const app = await startApp(emulator, { token: 'wrong.token', logger, fastRetries: true });
    await until(() => app.discord.state === 'failed', 5000, 'the login to fail');
    expect(emulator.requestsTo('GET /gateway/bot').map((request) => request.status)).toEqual([401]);
    expect(records.filter((record) => record.level >= ERROR).map((record) => record.msg)).toEqual([
      'Discord refused the bot token: DISCORD_TOKEN is wrong or was reset (Developer Portal → Bot → Reset Token). ' +
        'Discord stays off until the server restarts; the ghost server carries on',
    ]);
    const alice = await join(app, 'Alice');
    alice.ping();
    await alice.waitFor((p) => p.type === 'ping');
    expect(app.discord.state).toBe('failed');
  });

  it('gives up on a gateway that refuses the token (4004) or the intents (4014), saying which', async () => {
    for (const [code, advice] of [
      [4004, 'DISCORD_TOKEN is wrong or was reset'],
      [4014, 'turn on Message Content under Bot → Privileged Gateway Intents'],
    ] as const) {
      const emulator = await startEmulator();
      emulator.refuseIdentify(code);
      const { logger, records } = capturingLogger();
      const app = await startApp(emulator, { logger, fastRetries: true });
      await until(() => app.discord.state === 'failed', 5000, `the login to fail on ${code}`);
      const errors = records.filter((record) => record.level >= ERROR).map((record) => record.msg);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(advice);
      expect(emulator.gatewayLog.filter((entry) => entry.direction === 'in' && entry.op === 2)).toHaveLength(1);
    }
  });

  it('retries a login while Discord is unreachable, backing off, and is ready once it is back', async () => {
    const emulator = await startEmulator();
    emulator.startOutage({ unreachable: true });
    const { logger, records } = capturingLogger();
    const app = await startApp(emulator, { logger, fastRetries: true });
    await emulator.waitFor(
      () => (emulator.requestsTo('GET /gateway/bot').length >= 3 ? true : undefined),
      'three login attempts',
    );
    expect(app.discord.state).toBe('connecting');
    const retries = records.filter((record) => record.level === WARN && record.msg.startsWith('Discord login failed'));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]!.msg).toMatch(/^Discord login failed \(.*other side closed.*\); trying again in 0 s$/);

    emulator.endOutage();
    await until(() => app.discord.state === 'ready', 5000, 'the bot to be ready after the outage');
    const alice = await join(app, 'Alice');
    alice.sendMessage('made it');
    await emulator.waitForMessage(CHAT, (message) => message.content === 'made it');
  });

  it('waits 5 s after a failed login, doubling up to 5 min', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 8, 40].map((failures) => backoffDelay(failures, DEFAULT_RETRY.login));
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });

  it('says "degraded" on /healthz while REST calls fail, catches up, and says "ready" once one works', async () => {
    const { app, emulator } = await readyApp(undefined, { http: true, fastRetries: true });
    const health = async (): Promise<unknown> => {
      const response = await fetch(`http://127.0.0.1:${app.http.port}/healthz`);
      return ((await response.json()) as { discord: unknown }).discord;
    };
    expect(await health()).toBe('ready');
    const alice = await join(app, 'Alice');

    for (const outage of [{ status: 503 }, { unreachable: true }]) {
      emulator.startOutage(outage);
      alice.sendMessage(`during ${JSON.stringify(outage)}`);
      await until(() => app.discord.state === 'degraded', 5000, 'the bridge to notice the outage');
      expect(await health()).toBe('degraded');
      emulator.endOutage();
      // What the outage held back is sent once it is over, once.
      await emulator.waitForMessage(CHAT, (message) => message.content === `during ${JSON.stringify(outage)}`);
      await until(() => app.discord.state === 'ready', 5000, 'the bridge to recover');
      expect(await health()).toBe('ready');
    }
    alice.sendMessage('after');
    await emulator.waitForMessage(CHAT, (message) => message.content === 'after');
    expect(emulator.messagesIn(CHAT).map((message) => message.content)).toEqual([
      'during {"status":503}',
      'during {"unreachable":true}',
      'after',
    ]);

    // A failed reply leaves nothing to re-send: the bridge checks REST itself to come back.
    const checks = emulator.requestsTo('GET /gateway/bot').length;
    emulator.failNext('POST /interactions/:id/:token/callback', { status: 503, times: 4 }); // discord.js tries 4 times
    const unanswered = emulator
      .invokeCommand({ name: 'status', user: MEMBER, timeoutMs: 300 })
      .catch(() => 'unanswered');
    await until(() => app.discord.state === 'degraded', 5000, 'the failed reply to count');
    await until(() => app.discord.state === 'ready', 5000, 'the health check to find REST working');
    expect(emulator.requestsTo('GET /gateway/bot').length).toBeGreaterThan(checks);
    expect(await unanswered).toBe('unanswered');
  });

  it('registers the slash commands generated from the registry, plus /role', async () => {
    const { emulator } = await readyApp();
    await until(() => emulator.commands().length > 0, 5000, 'commands');
    const names = emulator.commands().map((command) => command.name);
    for (const name of [
      'list',
      'status',
      'results',
      'race',
      'stats',
      'leaderboard',
      'say',
      'countdown',
      'kick',
      'ban',
      'bans',
      'unban',
      'accept',
      'refuse',
      'whitelist',
      'role',
    ]) {
      expect(names).toContain(name);
    }
    expect(names).not.toContain('disconnect_id'); // legacy names stay on the console
    for (const inGame of ['ready', 'unready', 'forfeit', 'ff']) expect(names).not.toContain(inGame); // SAR's chat only
  });

  it('relays chat both ways without pings, echoes or markdown surprises', async () => {
    const { app, emulator } = await readyApp();
    const alice = await join(app, 'under_score');
    const bob = await join(app, 'Bob');

    alice.sendMessage('@everyone gl hf');
    const relayed = await emulator.waitForMessage(CHAT, (message) => message.content.includes('gl hf'));
    expect(relayed.source).toBe('webhook');
    expect(relayed.username).toBe('under_score');
    expect(relayed.content).toBe('@everyone gl hf');
    expect(relayed.canPing).toBe(false);
    expect(relayed.allowedMentions).toEqual({ parse: [] });

    emulator.userSays(CHAT, MEMBER, 'good luck\neveryone!');
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({
      text: '[Discord] viewer: good luck everyone!',
    });
    // Bots and webhooks (our own relays among them) are not sent back into the game. The member's
    // message after them goes the same ordered way (one gateway connection, one TCP stream to
    // Bob): once it has arrived, the two before it have had their chance.
    const mark = bob.mark();
    emulator.userSays(CHAT, { id: '910000000000000999', username: 'other-bot', bot: true }, 'beep');
    emulator.userSays(CHAT, { id: '910000000000000998', username: 'hook', webhookId: '910000000000000998' }, 'hook');
    emulator.userSays(CHAT, MEMBER, 'barrier');
    await bob.waitFor((p) => p.type === 'message' && p.text === '[Discord] viewer: barrier', 3000, mark);
    expect(countPackets(bob, 'message', mark)).toBe(1);
  });

  it('posts "**name**: text" with escaped names on one line when it may not manage webhooks', async () => {
    const { app, emulator } = await readyApp(DEFAULT_BOT_PERMISSIONS & ~PermissionFlagsBits.ManageWebhooks);
    const alice = await join(app, EVIL);
    const forger = await join(app, FORGER);
    alice.sendMessage('hello *world*\n**organiser**: second line');
    const relayed = await emulator.waitForMessage(CHAT, (message) => message.content.includes('hello'));
    expect(relayed.source).toBe('bot');
    // The text keeps its markdown but not its line break; the name is literal.
    expect(relayed.content).toBe(String.raw`**${EVIL_MD}**: hello *world*\n**organiser**: second line`);
    expect(relayed.canPing).toBe(false);
    expect(relayed.allowedMentions).toEqual({ parse: [] });
    forger.sendMessage('hi');
    const forged = await emulator.waitForMessage(CHAT, (message) => message.content.endsWith(': hi'));
    expect(forged.content).toBe(`**${FORGER_MD}**: hi`);
    expect(forged.canPing).toBe(false);
  });

  it('shows player-chosen names literally on one line in every Discord path, and nothing can ping', async () => {
    const { app, emulator } = await readyApp();
    const asAdmin = { user: ADMIN, permissions: ADMIN_PERMISSIONS };
    const evil = await join(app, EVIL);
    const forger = await join(app, FORGER);

    // Events channel: joins, finishes, departures.
    expect(await waitForLines(emulator, EVENTS, (line) => line.includes(' joined'), 2)).toEqual([
      `➕ **${EVIL_MD}** joined`,
      `➕ **${FORGER_MD}** joined`,
    ]);
    // A countdown records a race with both in it; the finish counts from the go.
    const go = app.server.bus.once('raceStarted');
    app.server.startCountdown({ duration: 1 });
    await go;
    evil.finishSpeedrun('1:00.000\n@here');
    expect(await waitForLines(emulator, EVENTS, (line) => line.startsWith('🏁'))).toEqual([
      String.raw`🏁 **${EVIL_MD}** finished in **1:00.000\\n@here**`,
    ]);

    // Chat through the webhook: the name as the username (plain text, one line), text on one line.
    evil.sendMessage('@everyone gg\nline two');
    expect(await emulator.waitForMessage(CHAT, (message) => message.content.includes('gg'))).toMatchObject({
      source: 'webhook',
      username: EVIL,
      content: String.raw`@everyone gg\nline two`,
      canPing: false,
    });
    forger.sendMessage('hi');
    expect(await emulator.waitForMessage(CHAT, (message) => message.content === 'hi')).toMatchObject({
      username: FORGER_TEXT,
      canPing: false,
    });

    // Slash commands: several lines go in a code block, one line per player; one line is escaped.
    const list = await emulator.invokeCommand({ name: 'list', ...asAdmin });
    const listed = codeBlockLines(list.content);
    expect(listed).toHaveLength(3); // "2 clients:" and one line each
    expect(listed.filter((line) => line.includes(EVIL))).toHaveLength(1);
    expect(listed.filter((line) => line.includes(FORGER_TEXT))).toHaveLength(1);
    const status = await emulator.invokeCommand({ name: 'status', user: MEMBER });
    expect(status.ephemeral).toBe(false);
    // The race still runs (the forger has not finished): /results of it shows its standings so far.
    const results = await emulator.invokeCommand({ name: 'results', options: { race: 1 }, user: MEMBER });
    const standings = (results.original?.embeds[0] as { description: string }).description.split('\n');
    expect(standings.filter((line) => line.includes(EVIL_MD))).toEqual([
      String.raw`🥇 **${EVIL_MD}** — **1:00.000\\n@here**`,
    ]);
    expect(standings.filter((line) => line.includes(FORGER_MD))).toEqual([
      String.raw`2\. **${FORGER_MD}** — Container Ride`,
    ]);
    const choices = await emulator.autocomplete({
      name: 'kick',
      subcommand: 'name',
      focused: 'name',
      value: 'organ',
      ...asAdmin,
    });
    expect(choices).toEqual([{ name: FORGER_TEXT, value: FORGER }]);

    const kick = await emulator.invokeCommand({
      name: 'kick',
      subcommand: 'id',
      options: { id: forger.id },
      ...asAdmin,
    });
    expect(kick.content).not.toContain('\n');
    expect(kick.content).toContain(FORGER_MD);
    await forger.waitForClose();
    expect(await waitForLines(emulator, EVENTS, (line) => line.includes(' left'))).toEqual([
      `➖ **${FORGER_MD}** left`,
    ]);

    // A ban is answered and announced, escaped the same way.
    const ban = await emulator.invokeCommand({
      name: 'ban',
      subcommand: 'id',
      options: { id: evil.id, reason: '@here <@&910000000000000020>' },
      ...asAdmin,
    });
    expect(ban.content).not.toContain('\n');
    expect(ban.content).toContain(`name "${EVIL_MD}"`);
    const [announced] = await waitForLines(emulator, EVENTS, (line) => line.startsWith('🔨'));
    expect(announced).toBe(`🔨 ${ban.content} (by organiser)`);
    const bans = await emulator.invokeCommand({ name: 'bans', ...asAdmin });
    expect(codeBlockLines(bans.content).filter((line) => line.includes(`name "${EVIL}"`))).toHaveLength(1);

    // Every request that posted anything: events, webhook chat, each reply (and the race card's
    // edits), none could ping.
    const sent = messageRequests(emulator.requests);
    expect([...new Set(sent.map((request) => request.kind))]).toEqual(
      expect.arrayContaining(['channel message', 'webhook message', 'interaction reply']),
    );
    expect(sent.filter((request) => request.kind === 'interaction reply').length).toBeGreaterThanOrEqual(6);
    expect(mayPing(sent)).toEqual([]);
    expect(emulator.messages.filter((message) => message.source !== 'user' && message.canPing)).toEqual([]);
  });

  it('runs slash commands with effect on SAR clients, ephemeral for admin actions', async () => {
    const { app, emulator } = await readyApp();
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    const asAdmin = { user: ADMIN, permissions: ADMIN_PERMISSIONS };

    const say = await emulator.invokeCommand({ name: 'say', options: { message: 'Race in 5' }, ...asAdmin });
    expect(say.ephemeral).toBe(true);
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({ text: 'Race in 5' });

    const list = await emulator.invokeCommand({ name: 'list', ...asAdmin });
    expect(list.content).toContain('#1 Alice (127.0.0.1)');

    const countdown = await emulator.invokeCommand({
      name: 'countdown',
      subcommand: 'start',
      options: { seconds_or_preset: '4' },
      ...asAdmin,
    });
    expect(countdown.content).toContain('Countdown of 4 s');
    expect(await bob.waitFor((p) => p.type === 'countdown_setup')).toMatchObject({ duration: 4 });
    await emulator.waitForMessage(EVENTS, (message) => message.content.includes('Countdown started: 4 s'));

    const kick = await emulator.invokeCommand({
      name: 'kick',
      subcommand: 'name',
      options: { name: 'Alice' },
      ...asAdmin,
    });
    expect(kick.ephemeral).toBe(true);
    await alice.waitForClose();
    await bob.waitFor((p) => p.type === 'disconnect' && p.id === alice.id);

    const ban = await emulator.invokeCommand({
      name: 'ban',
      subcommand: 'id',
      options: { id: bob.id, reason: 'testing' },
      ...asAdmin,
    });
    expect(ban.content).toContain('Banned name "Bob"');
    await bob.waitForClose();
    await emulator.waitForMessage(
      EVENTS,
      (message) => message.content.includes('Banned name') && message.content.includes('organiser'),
    );
    await expect(join(app, 'Bob')).rejects.toThrow(/closed/);
    const bans = await emulator.invokeCommand({ name: 'bans', ...asAdmin });
    expect(bans.content).toContain('name "Bob" — testing');

    const status = await emulator.invokeCommand({ name: 'status', user: MEMBER });
    expect(status.ephemeral).toBe(false);
    expect(status.content).toContain('0 players');
    expect(
      app.store.audit.recent(10).some((entry) => entry.source === 'discord' && entry.action.startsWith('ban id')),
    ).toBe(true);
  });

  it('covers the remaining slash commands: countdown with commands, accept/refuse, whitelist, unban, audit, help, stop', async () => {
    const { app, emulator } = await readyApp();
    const asAdmin = { user: ADMIN, permissions: ADMIN_PERMISSIONS };
    const run = (name: string, subcommand?: string, options?: Record<string, string | number>) =>
      emulator.invokeCommand({
        name,
        ...(subcommand ? { subcommand } : {}),
        ...(options ? { options } : {}),
        ...asAdmin,
      });
    const alice = await join(app, 'Alice');

    await run('countdown', 'start', { seconds_or_preset: '5', pre: 'sv_cheats 0', post: 'say go' });
    expect(await alice.waitFor((p) => p.type === 'countdown_setup')).toMatchObject({
      duration: 5,
      preCommands: 'sv_cheats 0',
      postCommands: 'say go',
    });
    await run('accept', undefined, { who: 'players' });
    await run('refuse', undefined, { who: 'all' });
    await expect(join(app, 'Late')).rejects.toThrow(/closed/);
    await run('accept', undefined, { who: 'all' });
    await run('whitelist', 'add', { kind: 'name', value: 'Alice' });
    await run('whitelist', 'on');
    await expect(join(app, 'Stranger')).rejects.toThrow(/closed/);
    expect((await run('whitelist', 'list')).content).toContain('name Alice');
    await run('whitelist', 'off');
    await run('ban', 'ip', { ip: '127.0.0.77' });
    await expect(join(app, 'Anyone', '127.0.0.77')).rejects.toThrow(/closed/);
    expect((await run('unban', undefined, { ip_or_name: '127.0.0.77' })).content).toContain('Unbanned');
    expect((await join(app, 'Anyone', '127.0.0.77')).id).toBeGreaterThan(0);
    expect((await run('audit', undefined, { count: 3 })).content).toContain('discord:organiser unban');
    expect((await run('help')).content).toContain('countdown start');
    await run('stop');
    await alice.waitForClose(3000);
  });

  it('denies commands above a member’s level, and /role grants take effect at once', async () => {
    const { app, emulator } = await readyApp();
    const alice = await join(app, 'Alice');

    const denied = await emulator.invokeCommand({
      name: 'kick',
      subcommand: 'id',
      options: { id: alice.id },
      user: MODERATOR,
    });
    expect(denied.ephemeral).toBe(true);
    expect(denied.content).toContain('You need the moderator level');
    expect(alice.closed).toBe(false);
    expect(app.store.audit.recent(5)[0]).toMatchObject({
      source: 'discord',
      actor: 'helper',
      action: 'denied: kick id',
    });

    const grant = await emulator.invokeCommand({
      name: 'role',
      subcommand: 'grant',
      options: { target: MOD_ROLE, level: 'moderator' },
      user: ADMIN,
      permissions: ADMIN_PERMISSIONS,
    });
    expect(grant.content).toContain('now has the moderator level');
    const deniedRole = await emulator.invokeCommand({ name: 'role', subcommand: 'list', user: MODERATOR });
    expect(deniedRole.content).toContain('admin level');

    await emulator.invokeCommand({ name: 'kick', subcommand: 'id', options: { id: alice.id }, user: MODERATOR });
    await alice.waitForClose();
    const ban = await emulator.invokeCommand({
      name: 'ban',
      subcommand: 'name',
      options: { name: 'x' },
      user: MODERATOR,
    });
    expect(ban.content).toContain('You need the admin level');

    await emulator.invokeCommand({
      name: 'role',
      subcommand: 'revoke',
      options: { target: MOD_ROLE },
      user: ADMIN,
      permissions: ADMIN_PERMISSIONS,
    });
    const again = await emulator.invokeCommand({ name: 'list', user: MODERATOR });
    expect(again.content).toContain('You need the moderator level');
  });

  it('autocompletes connected players for kick and ban', async () => {
    const { app, emulator } = await readyApp();
    await join(app, 'Alice');
    await join(app, 'Alfred');
    await join(app, 'Bob');
    const names = await emulator.autocomplete({
      name: 'kick',
      subcommand: 'name',
      focused: 'name',
      value: 'al',
      user: ADMIN,
      permissions: ADMIN_PERMISSIONS,
    });
    expect(names.map((choice) => choice.value).sort()).toEqual(['Alfred', 'Alice']);
    const ids = await emulator.autocomplete({
      name: 'ban',
      subcommand: 'id',
      focused: 'id',
      value: 'bo',
      user: ADMIN,
      permissions: ADMIN_PERMISSIONS,
    });
    expect(ids).toEqual([{ name: 'Bob (#3)', value: 3 }]);
  });

  it('posts finishes to the events channel and lists them in /results', async () => {
    const { app, emulator } = await readyApp();
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    await emulator.waitForMessage(
      EVENTS,
      (message) => message.content.includes('Bob') && message.content.includes('joined'),
    );
    const go = app.server.bus.once('raceStarted');
    app.server.startCountdown({ duration: 1 });
    await go;
    const ended = app.server.bus.once('raceEnded');
    alice.finishSpeedrun('1:05.500');
    await emulator.waitForMessage(EVENTS, (message) => message.content.includes('**Alice** finished in **1:05.500**'));
    bob.finishSpeedrun('1:10.000');
    await ended;
    const results = await emulator.invokeCommand({ name: 'results', user: MEMBER });
    const standings = (results.original?.embeds[0] as { description: string }).description.split('\n');
    expect(standings.slice(-2).map((line) => line.replace(/ · \+[\d:.]+$/, ''))).toEqual([
      '🥇 **Alice** — **1:05.500**',
      '🥈 **Bob** — **1:10.000**',
    ]);
  });

  it('keeps relaying through a 429 and a gateway reconnect', async () => {
    const { app, emulator } = await readyApp();
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');

    emulator.failNext('POST /webhooks/:id/:token', { status: 429, retryAfter: 0.2 });
    alice.sendMessage('through the rate limit');
    const relayed = await emulator.waitForMessage(
      CHAT,
      (message) => message.content === 'through the rate limit',
      5000,
    );
    expect(relayed.username).toBe('Alice');

    expect(await emulator.dropGatewayConnections()).not.toBe('dropped');
    alice.sendMessage('after the reconnect');
    await emulator.waitForMessage(CHAT, (message) => message.content === 'after the reconnect', 5000);
    emulator.userSays(CHAT, MEMBER, 'still here');
    expect(await bob.waitFor((p) => p.type === 'message' && p.id === 0, 5000)).toMatchObject({
      text: '[Discord] viewer: still here',
    });
  });

  it('never makes the ghost server wait while Discord is slow: chat queues are bounded', async () => {
    const { app, emulator } = await readyApp(undefined, { maxQueued: 5 });
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    emulator.failNext('POST /webhooks/:id/:token', { status: 429, retryAfter: 1, times: 1 });
    for (let i = 0; i < 15; i++) alice.sendMessage(`spam ${i}`);
    // The game chat itself is relayed at once.
    await bob.waitFor((p) => p.type === 'message' && p.text === 'spam 14');
    await app.discord.flush();
    // "spam 0" was being sent when the 429 came; of the 14 queued meanwhile only the newest 5
    // were kept, and they went out together in one message.
    expect(emulator.messagesIn(CHAT).map((message) => message.content)).toEqual([
      'spam 0',
      ['spam 10', 'spam 11', 'spam 12', 'spam 13', 'spam 14'].join('\n'),
    ]);
  });
});
