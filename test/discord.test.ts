/**
 * The Discord bridge end to end: the real app (ghost server, database, command registry) with
 * its real discord.js client logged in to the local Discord API emulator, and SAR-like clients
 * on real sockets.
 */
import { PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { SimClient } from '../src/sim/client.js';
import { DiscordEmulator, DEFAULT_BOT_PERMISSIONS } from './discord-emulator/index.js';
import { countPackets, joinApp, sleep, tempDatabasePath, testConfig, until } from './helpers.js';

const TOKEN = 'emulated.bot.token';
const GUILD = '910000000000000001';
const CHAT = '910000000000000010';
const EVENTS = '910000000000000011';
const MOD_ROLE = '910000000000000020';
const ADMIN = { id: '910000000000000100', username: 'organiser' };
const MEMBER = { id: '910000000000000101', username: 'viewer' };
const MODERATOR = { id: '910000000000000102', username: 'helper' };

// Apps are stopped here, before their emulator, rather than by the shared helpers.
const apps: App[] = [];
const emulators: DiscordEmulator[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop('test finished')));
  await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
});

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

async function startApp(emulator: DiscordEmulator, token = TOKEN): Promise<App> {
  const config = testConfig({ limits: { chat_per_second: 0 } }); // the flood test sends 200 at once
  config.database.path = tempDatabasePath();
  config.discord = {
    ...config.discord,
    guild_id: GUILD,
    chat_channel_id: CHAT,
    events_channel_id: EVENTS,
    api_url: emulator.apiUrl,
  };
  const app = createApp({ config, discordToken: token, discordClientOptions: emulator.clientOptions() });
  apps.push(app);
  await app.start();
  return app;
}

async function readyApp(botPermissions?: bigint): Promise<{ app: App; emulator: DiscordEmulator }> {
  const emulator = await startEmulator(botPermissions);
  const app = await startApp(emulator);
  await until(() => app.discord.ready, 5000, 'the bot to be ready');
  return { app, emulator };
}

const join = (app: App, name: string, localAddress = '127.0.0.1'): Promise<SimClient> =>
  joinApp(app, name, { localAddress });

const ADMIN_PERMISSIONS = PermissionFlagsBits.Administrator;

describe('Discord bridge', () => {
  it('stays off without a token and the ghost server works as before', async () => {
    const emulator = await startEmulator();
    const app = await startApp(emulator, '');
    expect(app.discord.state).toBe('off');
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    alice.sendMessage('no discord here');
    await bob.waitFor((p) => p.type === 'message');
    expect(emulator.requests).toEqual([]);
  });

  it('survives a bad token: logged, the ghost server carries on', async () => {
    const emulator = await startEmulator();
    const app = await startApp(emulator, 'wrong.token');
    await until(() => app.discord.state === 'failed', 5000, 'the login to fail');
    const alice = await join(app, 'Alice');
    alice.ping();
    await alice.waitFor((p) => p.type === 'ping');
  });

  it('registers the slash commands generated from the registry, plus /role', async () => {
    const { emulator } = await readyApp();
    await until(() => emulator.commands().length > 0, 5000, 'commands');
    const names = emulator.commands().map((command) => command.name);
    for (const name of [
      'list',
      'status',
      'results',
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
    // Bots and webhooks (our own relays among them) are not sent back into the game.
    const mark = bob.mark();
    emulator.userSays(CHAT, { id: '910000000000000999', username: 'other-bot', bot: true }, 'beep');
    emulator.userSays(CHAT, { id: '910000000000000998', username: 'hook', webhookId: '910000000000000998' }, 'hook');
    await sleep(200);
    expect(countPackets(bob, 'message', mark)).toBe(0);
  });

  it('posts "**name**: text" with escaped names when it may not manage webhooks', async () => {
    const { app, emulator } = await readyApp(DEFAULT_BOT_PERMISSIONS & ~PermissionFlagsBits.ManageWebhooks);
    const alice = await join(app, 'x_Alice_x');
    alice.sendMessage('hello *world*');
    const relayed = await emulator.waitForMessage(CHAT, (message) => message.content.includes('hello'));
    expect(relayed.source).toBe('bot');
    expect(relayed.content).toBe('**x\\_Alice\\_x**: hello *world*');
    expect(relayed.canPing).toBe(false);
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
    expect((await emulator.invokeCommand({ name: 'help', user: MEMBER })).content).toContain('countdown start');
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
    app.server.startCountdown({ duration: 3 });
    bob.finishSpeedrun('1:10.000');
    alice.finishSpeedrun('1:05.500');
    await emulator.waitForMessage(EVENTS, (message) => message.content.includes('**Alice** finished in **1:05.500**'));
    await until(() => app.store.races.results(1).length === 2);
    const results = await emulator.invokeCommand({ name: 'results', user: MEMBER });
    expect(results.content).toContain('1. Alice — 1:05.500\n2. Bob — 1:10.000');
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
    const { app, emulator } = await readyApp();
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    emulator.failNext('POST /webhooks/:id/:token', { status: 429, retryAfter: 1, times: 1 });
    for (let i = 0; i < 200; i++) alice.sendMessage(`spam ${i}`);
    // The game chat itself is relayed at once.
    await bob.waitFor((p) => p.type === 'message' && p.text === 'spam 199');
    await app.discord.flush();
    const delivered = emulator.messagesIn(CHAT).flatMap((message) => message.content.split('\n'));
    expect(delivered).toContain('spam 199');
    expect(delivered.length).toBeLessThan(200); // the oldest were dropped, not queued forever
    expect(emulator.messagesIn(CHAT).length).toBeLessThan(20); // and the rest went out packed together
  });
});
