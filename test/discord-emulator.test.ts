/**
 * The Discord API emulator (test/discord-emulator/) against the real discord.js Client: login,
 * messages both ways, application commands, interactions, webhooks, rate limits, outages, gateway
 * drops, refused IDENTIFYs and a wrong token. Everything on 127.0.0.1; every wait bounded.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType as DjsChannelType,
  Client,
  DiscordAPIError,
  DiscordjsErrorCodes,
  Events,
  GatewayIntentBits,
  MessageFlags,
  PermissionFlagsBits,
  RESTEvents,
  Routes,
  type ClientEvents,
  type ClientOptions,
  type Message,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  CallbackType,
  DEFAULT_BOT_PERMISSIONS,
  DiscordEmulator,
  type DiscordEmulatorOptions,
} from './discord-emulator/index.js';

const TOKEN = 'emulated.bot.token';
const GUILD = '900000000000000001';
const CHAT = '900000000000000010';
const EVENTS = '900000000000000011';
const VOICE = '900000000000000012';
const MOD_ROLE = '900000000000000020';
const ALICE = { id: '900000000000000100', username: 'alice' };
const BOB = { id: '900000000000000101', username: 'bob' };

const emulators: DiscordEmulator[] = [];
const clients: Client[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  const unhandled = emulators.flatMap((emulator) => emulator.unhandledRequests.map((r) => `${r.method} ${r.path}`));
  await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
  // Every request discord.js made had a route in the emulator.
  expect(unhandled).toEqual([]);
});

async function startEmulator(overrides: Partial<DiscordEmulatorOptions> = {}): Promise<DiscordEmulator> {
  const emulator = await DiscordEmulator.start({
    botToken: TOKEN,
    guildId: GUILD,
    guildName: 'Portal 2 Speedrunning',
    bot: { username: 'ghost-bot' },
    channels: [
      { id: CHAT, name: 'ghost-chat' },
      { id: EVENTS, name: 'ghost-events', topic: 'joins and leaves' },
      { id: VOICE, name: 'voice', type: 2 },
    ],
    roles: [{ id: MOD_ROLE, name: 'mod', permissions: PermissionFlagsBits.KickMembers }],
    members: [
      { ...ALICE, roles: [MOD_ROLE] },
      { ...BOB, nick: 'bobby' },
    ],
    ...overrides,
  });
  emulators.push(emulator);
  return emulator;
}

function newClient(emulator: DiscordEmulator, options: Partial<ClientOptions> = {}): Client {
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
    ...emulator.clientOptions(),
    ...options,
  });
  clients.push(client);
  return client;
}

/** The next `event` whose arguments pass `filter`, or a rejection after `timeoutMs`. */
function nextEvent<K extends keyof ClientEvents>(
  client: Client,
  event: K,
  filter: (...args: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 3000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: ClientEvents[K]): void => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(args);
    };
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`no ${String(event)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on(event, listener);
  });
}

async function connect(emulator: DiscordEmulator, options: Partial<ClientOptions> = {}): Promise<Client<true>> {
  const client = newClient(emulator, options);
  const ready = nextEvent(client, Events.ClientReady);
  await client.login(TOKEN);
  const [readyClient] = await ready;
  return readyClient;
}

function nextMessage(client: Client, content: string, timeoutMs = 3000): Promise<Message> {
  return nextEvent(client, Events.MessageCreate, (m) => m.content === content, timeoutMs).then(([m]) => m);
}

async function chatChannel(client: Client<true>) {
  const channel = client.channels.cache.get(CHAT);
  if (channel?.type !== DjsChannelType.GuildText) throw new Error('chat channel not cached as a text channel');
  return channel;
}

describe('Discord emulator with the real discord.js Client', () => {
  it('logs in: READY, then the guild with its channels, roles and members cached', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);

    expect(client.user.id).toBe(emulator.botUser.id);
    expect(client.user.username).toBe('ghost-bot');
    expect(client.application.id).toBe(emulator.applicationId);
    const guild = client.guilds.cache.get(GUILD);
    expect(guild?.name).toBe('Portal 2 Speedrunning');
    expect(guild?.available).toBe(true);
    expect(guild?.channels.cache.map((c) => c.name).sort()).toEqual(['ghost-chat', 'ghost-events', 'voice']);
    expect(client.channels.cache.get(EVENTS)?.type).toBe(DjsChannelType.GuildText);
    expect(client.channels.cache.get(VOICE)?.type).toBe(DjsChannelType.GuildVoice);
    expect(guild?.roles.everyone.id).toBe(GUILD);
    expect(guild?.roles.cache.get(MOD_ROLE)?.name).toBe('mod');
    expect(guild?.members.cache.get(ALICE.id)?.roles.cache.has(MOD_ROLE)).toBe(true);
    expect(guild?.members.cache.get(BOB.id)?.displayName).toBe('bobby');
    expect(guild?.members.me?.id).toBe(client.user.id);
    const chat = await chatChannel(client);
    expect(chat.permissionsFor(client.user)?.has(PermissionFlagsBits.ManageWebhooks)).toBe(true);

    expect(emulator.requestsTo('GET /gateway/bot').length).toBeGreaterThan(0);
    const identify = emulator.gatewayLog.find((e) => e.direction === 'in' && e.op === 2);
    expect(identify).toBeDefined();
    expect(emulator.gatewayLog.filter((e) => e.t === 'GUILD_CREATE')).toHaveLength(1);
    expect(emulator.unhandledRequests).toEqual([]);
  });

  it('records a message the bot sends, with its allowed_mentions, and echoes MESSAGE_CREATE', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator, { allowedMentions: { parse: [] } });
    const chat = await chatChannel(client);

    const echoed = nextMessage(client, 'hello <@900000000000000100>');
    const sent = await chat.send('hello <@900000000000000100>');
    expect(sent.id).toMatch(/^\d+$/);
    expect(sent.author.id).toBe(client.user.id);

    const stored = await emulator.waitForMessage(CHAT, (m) => m.content.startsWith('hello'));
    expect(stored.id).toBe(sent.id);
    expect(stored.source).toBe('bot');
    expect(stored.allowedMentions).toEqual({ parse: [] });
    expect(stored.canPing).toBe(false);
    expect(stored.raw.mentions).toEqual([]);
    const request = emulator.requestsTo(`POST /channels/${CHAT}/messages`)[0];
    expect((request?.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [] });

    // A per-message allowedMentions that lets Alice be pinged shows up as such.
    await chat.send({ content: 'ping <@900000000000000100>', allowedMentions: { users: [ALICE.id] } });
    const pinging = await emulator.waitForMessage(CHAT, (m) => m.content.startsWith('ping'));
    expect(pinging.canPing).toBe(true);
    expect((pinging.raw.mentions as Array<{ id: string }>).map((u) => u.id)).toEqual([ALICE.id]);

    const [echo] = [await echoed];
    expect(echo.author.id).toBe(client.user.id);

    await expect(chat.send({ content: 'x'.repeat(2001) })).rejects.toMatchObject({ code: 50035, status: 400 });
    await expect(chat.send({ content: '   ' })).rejects.toMatchObject({ code: 50006 });
  });

  it('checks embeds against Discord’s limits, edits messages in place, and 404s an edit of a deleted one', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator, { allowedMentions: { parse: [] } });
    const chat = await chatChannel(client);

    const sent = await chat.send({ embeds: [{ title: 'Race 1', description: 'open', color: 0x3498db }] });
    const stored = await emulator.waitForMessage(CHAT, (m) => m.id === sent.id);
    expect(stored.embeds).toEqual([{ title: 'Race 1', description: 'open', color: 0x3498db }]);
    const updated = nextEvent(client, Events.MessageUpdate, (_old, message) => message.id === sent.id);
    await chat.messages.edit(sent.id, { embeds: [{ title: 'Race 1', description: 'running' }] });
    const [, message] = await updated;
    expect(message.embeds[0]?.description).toBe('running');
    expect(stored.edits).toBe(1);
    expect(stored.allowedMentions).toEqual({ parse: [] });

    const long = 'x'.repeat(4097);
    for (const embed of [
      { description: long },
      { title: 'x'.repeat(257) },
      { fields: [{ name: 'a', value: 'x'.repeat(1025) }] },
      { footer: { text: 'x'.repeat(2049) } },
      { color: 0x1000000 },
    ]) {
      await expect(chat.send({ embeds: [embed] })).rejects.toMatchObject({ code: 50035, status: 400 });
    }
    // 6000 characters in all, over several embeds.
    const four = { description: 'x'.repeat(4000) };
    await expect(chat.send({ embeds: [four, { description: 'x'.repeat(2001) }] })).rejects.toMatchObject({
      code: 50035,
    });
    await expect(chat.messages.edit(sent.id, { embeds: [{ description: long }] })).rejects.toMatchObject({
      code: 50035,
    });
    await expect(chat.messages.edit(sent.id, { content: 'x'.repeat(2001) })).rejects.toMatchObject({ code: 50035 });
    expect(stored.embeds).toMatchObject([{ description: 'running' }]);

    const deleted = nextEvent(client, Events.MessageDelete, (message) => message.id === sent.id);
    emulator.deleteMessage(CHAT, sent.id);
    await deleted;
    expect(emulator.messagesIn(CHAT).map((m) => m.id)).not.toContain(sent.id);
    await expect(chat.messages.edit(sent.id, { content: 'late' })).rejects.toMatchObject({
      code: 10008,
      status: 404,
    });
  });

  it('delivers a user message (and a webhook message) to messageCreate, and honours MessageContent', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);

    const received = nextMessage(client, 'gg <@' + emulator.botUser.id + '>');
    emulator.userSays(CHAT, ALICE, 'gg <@' + emulator.botUser.id + '>');
    const message = await received;
    expect(message.author.username).toBe('alice');
    expect(message.author.bot).toBe(false);
    expect(message.channelId).toBe(CHAT);
    expect(message.guildId).toBe(GUILD);
    expect(message.member?.roles.cache.has(MOD_ROLE)).toBe(true);
    expect(message.webhookId).toBeNull();
    expect(message.mentions.users.has(client.user.id)).toBe(true);

    const fromHook = nextMessage(client, 'relayed');
    emulator.userSays(CHAT, { id: '1', username: 'SomePlayer', webhookId: '900000000000000777' }, 'relayed');
    const hooked = await fromHook;
    expect(hooked.webhookId).toBe('900000000000000777');
    expect(hooked.author.bot).toBe(true);
    expect(hooked.author.username).toBe('SomePlayer');

    // A second client without the MessageContent intent sees the message but not its text.
    const blind = await connect(emulator, { intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages] });
    const seen = nextEvent(blind, Events.MessageCreate, (m) => m.author.id === BOB.id);
    emulator.userSays(CHAT, BOB, 'secret text');
    const [blank] = await seen;
    expect(blank.content).toBe('');
  });

  it('bulk-overwrites guild commands, keeping ids of commands that stay', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);

    const first = await client.application.commands.set(
      [
        { name: 'players', description: 'Who is on the ghost server' },
        { name: 'kick', description: 'Kick a player', options: [{ type: 3, name: 'player', description: 'Name' }] },
      ],
      GUILD,
    );
    expect(first.map((c) => c.name).sort()).toEqual(['kick', 'players']);
    const playersId = first.find((c) => c.name === 'players')?.id;
    expect(playersId).toMatch(/^\d+$/);
    expect(emulator.commands().map((c) => c.name)).toEqual(['players', 'kick']);
    const put = emulator.requestsTo(`PUT /applications/${emulator.applicationId}/guilds/${GUILD}/commands`);
    expect(put).toHaveLength(1);
    expect(Array.isArray(put[0]?.body)).toBe(true);

    const second = await client.application.commands.set([{ name: 'players', description: 'Who is on' }], GUILD);
    expect(second.first()?.id).toBe(playersId);
    expect(emulator.commands().map((c) => c.name)).toEqual(['players']);

    const fetched = await client.guilds.cache.get(GUILD)!.commands.fetch();
    expect(fetched.map((c) => c.description)).toEqual(['Who is on']);
    expect(emulator.commands('global')).toEqual([]);
  });

  it('round-trips interactions: ephemeral reply, deferred reply with edit and follow-up, autocomplete', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);
    await client.application.commands.set(
      [
        {
          name: 'whois',
          description: 'Look someone up',
          options: [
            { type: 6, name: 'user', description: 'Who', required: true },
            { type: 4, name: 'count', description: 'How many' },
          ],
        },
        { name: 'slow', description: 'Takes a while' },
        {
          name: 'map',
          description: 'Pick a map',
          options: [{ type: 3, name: 'name', description: 'Map', autocomplete: true }],
        },
      ],
      GUILD,
    );
    client.on(Events.InteractionCreate, (interaction) => {
      void (async () => {
        if (interaction.isAutocomplete()) {
          const typed = interaction.options.getFocused();
          const maps = ['sp_a1_intro1', 'sp_a2_laser_intro', 'mp_coop_lobby_3'];
          await interaction.respond(maps.filter((m) => m.includes(typed)).map((m) => ({ name: m, value: m })));
          return;
        }
        if (!interaction.isChatInputCommand()) return;
        if (interaction.commandName === 'whois') {
          const user = interaction.options.getUser('user', true);
          const count = interaction.options.getInteger('count') ?? 0;
          const isMod = interaction.inCachedGuild() && interaction.member.roles.cache.has(MOD_ROLE);
          await interaction.reply({
            content: `${user.username} x${count} by ${interaction.user.username} mod=${isMod}`,
            flags: MessageFlags.Ephemeral,
          });
        } else if (interaction.commandName === 'slow') {
          await interaction.deferReply();
          await interaction.editReply('done');
          await interaction.followUp({ content: 'and more', flags: MessageFlags.Ephemeral });
        }
      })().catch(() => undefined);
    });

    const whois = await emulator.invokeCommand({ name: 'whois', options: { user: BOB.id, count: 3 }, user: ALICE });
    expect(whois.callback?.type).toBe(4);
    expect(whois.ephemeral).toBe(true);
    expect(whois.content).toBe('bob x3 by alice mod=true');
    expect((whois.callback?.body.data as { flags?: number }).flags).toBe(64);
    const callback = emulator.requestsTo('POST /interactions/:id/:token/callback')[0];
    expect(callback?.path).toBe(`/interactions/${whois.id}/${whois.token}/callback`);
    expect(callback?.status).toBe(204);

    const slow = await emulator.invokeCommand({ name: 'slow', user: BOB });
    expect(slow.deferred).toBe(true);
    expect(slow.ephemeral).toBe(false);
    await slow.waitForResponses(3);
    expect(slow.responses.map((r) => r.kind)).toEqual(['callback', 'edit', 'followup']);
    expect(slow.content).toBe('done');
    expect(slow.followUps.map((m) => [m.content, m.flags])).toEqual([['and more', 64]]);
    expect(emulator.requestsTo('PATCH /webhooks/:app/:token/messages/@original')).toHaveLength(1);
    // The non-ephemeral reply is a visible channel message; the ephemeral ones are not in the channel's history.
    expect(
      emulator
        .messagesIn(CHAT)
        .filter((m) => (m.flags & 64) === 0)
        .map((m) => m.content),
    ).toEqual(['done']);

    const choices = await emulator.autocomplete({ name: 'map', focused: 'name', value: 'intro', user: ALICE });
    expect(choices.map((c) => c.name)).toEqual(['sp_a1_intro1', 'sp_a2_laser_intro']);
  });

  it('lets the bot post through a webhook under a player name, and answers 403 without Manage Webhooks', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);
    const chat = await chatChannel(client);

    expect((await chat.fetchWebhooks()).size).toBe(0);
    const webhook = await chat.createWebhook({ name: 'SAR chat', reason: 'relay' });
    expect(webhook.owner?.id).toBe(client.user.id);
    expect(emulator.webhooks.map((w) => w.name)).toEqual(['SAR chat']);
    expect(emulator.requestsTo(`POST /channels/${CHAT}/webhooks`)[0]?.reason).toBe('relay');

    const echoed = nextMessage(client, 'nice run');
    await webhook.send({ content: 'nice run', username: 'PlayerOne', allowedMentions: { parse: [] } });
    const stored = await emulator.waitForMessage(CHAT, (m) => m.source === 'webhook');
    expect(stored.username).toBe('PlayerOne');
    expect(stored.webhookId).toBe(webhook.id);
    expect(stored.canPing).toBe(false);
    expect((await echoed).webhookId).toBe(webhook.id);
    expect((await chat.fetchWebhooks()).first()?.id).toBe(webhook.id);
    await expect(webhook.send({ content: 'x', username: 'Discord fan' })).rejects.toMatchObject({ code: 50035 });

    const roleUpdated = nextEvent(client, Events.GuildRoleUpdate);
    emulator.setBotPermissions(DEFAULT_BOT_PERMISSIONS & ~PermissionFlagsBits.ManageWebhooks);
    await roleUpdated;
    expect(chat.permissionsFor(client.user)?.has(PermissionFlagsBits.ManageWebhooks)).toBe(false);
    const refused = await chat.fetchWebhooks().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DiscordAPIError);
    expect(refused).toMatchObject({ status: 403, code: 50013 });
  });

  it('a 429 on the message route is retried by discord.js and the message still arrives', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);
    const chat = await chatChannel(client);
    const restDebug: string[] = [];
    client.rest.on(RESTEvents.Debug, (info) => restDebug.push(info));

    emulator.failNext('POST /channels/:id/messages', { status: 429, retryAfter: 0.2 });
    const started = Date.now();
    const sent = await chat.send('after the limit');
    const elapsed = Date.now() - started;

    expect(sent.content).toBe('after the limit');
    const attempts = emulator.requestsTo(`POST /channels/${CHAT}/messages`);
    expect(attempts.map((r) => [r.status, r.faulted])).toEqual([
      [429, true],
      [200, false],
    ]);
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(emulator.messagesIn(CHAT).map((m) => m.content)).toEqual(['after the limit']);
    // discord.js saw the 429 and took Retry-After (0.2 s) plus its 50 ms offset.
    const hit = restDebug.filter((line) => line.includes('Encountered unexpected 429 rate limit'));
    expect(hit).toHaveLength(1);
    expect(hit[0]).toMatch(/Retry After\s*: 250ms/);
    expect(emulator.rest.pendingFaults).toBe(0);
  });

  it('a dropped gateway connection is resumed (missed events replayed) or re-identified, and messages flow', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);

    // Resumable close: the message said while the bot is away is replayed on RESUME.
    const since = emulator.gatewayLog.length;
    expect(await emulator.dropGatewayConnections({ waitForReconnect: false })).toBe('dropped');
    const replayed = nextMessage(client, 'said while away');
    emulator.userSays(CHAT, ALICE, 'said while away');
    await emulator.waitForDispatch('RESUMED', since);
    await replayed;
    expect(emulator.gatewayLog.slice(since).some((e) => e.direction === 'in' && e.op === 6)).toBe(true);
    const after = nextMessage(client, 'after resume');
    emulator.userSays(CHAT, BOB, 'after resume');
    await after;

    // Invalid-sequence close: discord.js starts a new session with IDENTIFY.
    expect(await emulator.dropGatewayConnections({ code: 4007 })).toBe('identified');
    const afterIdentify = nextMessage(client, 'after re-identify');
    emulator.userSays(CHAT, ALICE, 'after re-identify');
    await afterIdentify;
    await (await chatChannel(client)).send('bot still sends');
    await emulator.waitForMessage(CHAT, (m) => m.content === 'bot still sends');
    expect(emulator.gateway.openConnections).toBe(1);
  });

  it('a wrong token makes login fail, and the gateway closes 4004 on a bad IDENTIFY', async () => {
    const emulator = await startEmulator();
    const client = newClient(emulator);

    const failure = await client.login('not.the.token').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: DiscordjsErrorCodes.TokenInvalid });
    expect(emulator.requestsTo('GET /gateway/bot').map((r) => r.status)).toEqual([401]);
    expect(emulator.gatewayLog).toEqual([]);

    const socket = new WebSocket(`${emulator.gatewayUrl}/?v=10&encoding=json`);
    sockets.push(socket);
    const closed = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('gateway did not close')), 3000);
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { op: number };
        if (frame.op === 10) socket.send(JSON.stringify({ op: 2, d: { token: 'not.the.token', intents: 1 } }));
      });
      socket.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(await closed).toBe(4004);
  });

  it('an outage answers every request 503 or cuts it until it ends; the open gateway stays up', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator, { rest: { api: emulator.apiUrl, retries: 1 } });
    const chat = await chatChannel(client);
    const answered: number[] = [];
    client.rest.on(RESTEvents.Response, (_request, response) => answered.push(response.status));

    emulator.startOutage();
    const failed = await chat.send('during').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toMatchObject({ name: 'HTTPError', status: 503 });
    // discord.js tried again once (retries: 1); both attempts were recorded as faulted.
    expect(emulator.requestsTo(`POST /channels/${CHAT}/messages`).map((r) => [r.status, r.faulted])).toEqual([
      [503, true],
      [503, true],
    ]);
    expect(answered).toEqual([503, 503]);

    emulator.startOutage({ unreachable: true });
    const cut = await chat.send('cut').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(cut).toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(emulator.requestsTo(`POST /channels/${CHAT}/messages`).at(-1)).toMatchObject({ status: -1, faulted: true });
    expect(answered).toEqual([503, 503]); // no answer, no response event
    const socket = new WebSocket(`${emulator.gatewayUrl}/?v=10&encoding=json`);
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the gateway upgrade was not cut')), 3000);
      socket.once('error', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('open', () => reject(new Error('the gateway accepted a connection during the outage')));
    });

    emulator.endOutage();
    await chat.send('after');
    expect(emulator.messagesIn(CHAT).map((m) => m.content)).toEqual(['after']);
    expect(answered.at(-1)).toBe(200);
    const echoed = nextMessage(client, 'still on the gateway');
    emulator.userSays(CHAT, ALICE, 'still on the gateway');
    await echoed;
  });

  it('refuseIdentify closes the next IDENTIFY with its code: the login fails and shardDisconnect says why', async () => {
    const emulator = await startEmulator();
    emulator.refuseIdentify(4014);
    const client = newClient(emulator);
    const disconnected = nextEvent(client, Events.ShardDisconnect);
    const failure = await client.login(TOKEN).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    const [event] = await disconnected;
    expect(event.code).toBe(4014);
    expect(emulator.gatewayLog.filter((e) => e.direction === 'out' && e.t === 'READY')).toEqual([]);

    // Only the next one: a new login works.
    const again = await connect(emulator);
    expect(again.user.id).toBe(emulator.botUser.id);
  });

  it('opens a DM with a member, sends there (403 50007 when their DMs are closed), and fetches members with roles', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);
    const dm = await client.users.createDM(BOB.id);
    expect(dm.type).toBe(DjsChannelType.DM);
    expect(dm.recipientId).toBe(BOB.id);
    expect(emulator.dmChannelOf(BOB.id)).toBe(dm.id);
    // The same channel the second time, as on Discord.
    expect(
      (await client.rest.post(Routes.userChannels(), { body: { recipient_id: BOB.id } })) as { id: string },
    ).toMatchObject({
      id: dm.id,
    });
    const sent = await dm.send({ content: 'psst', allowedMentions: { parse: [] } });
    expect(sent.guildId).toBeNull();
    expect(emulator.dmsWith(BOB.id).map((m) => m.content)).toEqual(['psst']);
    expect(emulator.messagesIn(CHAT)).toEqual([]);

    emulator.setDmsOpen(BOB.id, false);
    await expect(dm.send('again')).rejects.toMatchObject({ code: 50007, status: 403 });
    emulator.setDmsOpen(BOB.id, true);
    await dm.send('open again');
    await expect(client.users.createDM('900000000000000999')).rejects.toMatchObject({ code: 50033 });

    const guild = client.guilds.cache.get(GUILD)!;
    expect([...(await guild.members.fetch({ user: ALICE.id, force: true })).roles.cache.keys()]).toContain(MOD_ROLE);
    emulator.setMemberRoles(ALICE.id, []);
    const alice = await guild.members.fetch({ user: ALICE.id, force: true });
    expect([...alice.roles.cache.keys()]).toEqual([GUILD]);
    await expect(guild.members.fetch({ user: '900000000000000999', force: true })).rejects.toMatchObject({
      code: 10007,
    });
  });

  it('clicks buttons: UPDATE_MESSAGE edits the message, a deferred update is followed by an edit of @original', async () => {
    const emulator = await startEmulator();
    const client = await connect(emulator);
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('yes').setLabel('Yes').setStyle(ButtonStyle.Success),
      new ButtonBuilder().setCustomId('later').setLabel('Later').setStyle(ButtonStyle.Secondary),
      new ButtonBuilder().setCustomId('off').setLabel('Off').setStyle(ButtonStyle.Secondary).setDisabled(true),
    );
    const dm = await client.users.createDM(BOB.id);
    await dm.send({ content: 'Is it you?', components: [row] });
    const chat = await chatChannel(client);
    await chat.send({ content: 'Vote', components: [row] });
    const clicks: Array<[string, string, string | null]> = [];
    client.on(Events.InteractionCreate, (interaction) => {
      void (async () => {
        if (!interaction.isButton()) return;
        clicks.push([interaction.customId, interaction.user.id, interaction.guildId]);
        if (interaction.customId === 'yes') {
          await interaction.update({ content: `Confirmed by ${interaction.user.username}`, components: [] });
        } else {
          await interaction.deferUpdate();
          await interaction.editReply({ content: 'Later, then', components: [] });
        }
      })().catch(() => undefined);
    });

    const question = emulator.dmsWith(BOB.id)[0]!;
    await expect(emulator.clickButton({ message: question, customId: 'off' })).rejects.toThrow(/no enabled button off/);
    const yes = await emulator.clickButton({ message: question, customId: 'yes' });
    expect(yes.callback?.type).toBe(CallbackType.UpdateMessage);
    expect(yes.original?.id).toBe(question.id);
    expect(question.content).toBe('Confirmed by bob');
    expect(question.components).toEqual([]);
    await expect(emulator.clickButton({ message: question, customId: 'yes' })).rejects.toThrow(/no enabled button yes/);

    const vote = emulator.messagesIn(CHAT).find((m) => m.content === 'Vote')!;
    const later = await emulator.clickButton({ message: vote, customId: 'later', user: ALICE });
    expect(later.deferredUpdate).toBe(true);
    expect(later.responses.map((r) => r.kind)).toEqual(['callback', 'edit']);
    expect(vote.content).toBe('Later, then');
    expect(vote.components).toEqual([]);
    expect(clicks).toEqual([
      ['yes', BOB.id, null],
      ['later', ALICE.id, GUILD],
    ]);
  });
});
