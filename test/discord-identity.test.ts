/**
 * Identity on Discord, end to end: the real app with its identity service, SAR-like clients on
 * real sockets typing `/link` in chat, and the real discord.js client against the Discord
 * emulator — `/link <code>`, `/unlink`, `/whois`, `/profile`, `/ban member`, the owner's
 * confirmation DM with its Confirm / Deny buttons, and a linked player's level read from the guild.
 */
import { PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { AdminContext } from '../src/commands/context.js';
import { ok, type ArgumentValues, type CommandDefinition, type Invoker } from '../src/commands/registry.js';
import type { DiscordClientOptions } from '../src/discord/bridge.js';
import type { Clock } from '../src/identity/identity.js';
import type { SimClient } from '../src/sim/client.js';
import {
  CallbackType,
  DiscordEmulator,
  type InteractionExchange,
  type MemberInput,
  type StoredMessage,
} from './discord-emulator/index.js';
import { joinApp, tempDatabasePath, testConfig, until } from './helpers.js';

const TOKEN = 'emulated.bot.token';
const GUILD = '930000000000000001';
const CHAT = '930000000000000010';
const EVENTS = '930000000000000011';
const MOD_ROLE = '930000000000000020';
const ADMIN_ROLE = '930000000000000021';
const OWNER = { id: '930000000000000100', username: 'alice_discord' };
const OTHER = { id: '930000000000000101', username: 'bob' };
const MODERATOR = { id: '930000000000000102', username: 'helper' };
const BOSS = { id: '930000000000000103', username: 'boss' };
const CLOSED = { id: '930000000000000104', username: 'private' };
const FAST_RETRY = { login: { firstMs: 20, maxMs: 80 }, rest: { firstMs: 20, maxMs: 80 } };
const TIMEOUT_S = 120;

// Apps are stopped here, before their emulator, rather than by the shared helpers.
const apps: App[] = [];
const emulators: DiscordEmulator[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop('test finished')));
  // Whatever a test did, nothing the bot sent or edited could ping anyone (DMs and button updates too).
  const pinging = emulators.flatMap((emulator) => emulator.mayPing);
  const unhandled = emulators.flatMap((emulator) => emulator.unhandledRequests.map((r) => `${r.method} ${r.path}`));
  await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
  expect(pinging).toEqual([]);
  expect(unhandled).toEqual([]);
});

/** Time for the identity service that the test moves: confirmation time-outs without waiting. */
class ManualClock implements Clock {
  private offset = 0;
  private timers: Array<{ at: number; run: () => void }> = [];

  constructor(private readonly base = Date.now()) {}

  now(): number {
    return this.base + this.offset;
  }

  after(ms: number, run: () => void): () => void {
    const timer = { at: this.now() + ms, run };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.offset += ms;
    const due = this.timers.filter((t) => t.at <= this.now());
    this.timers = this.timers.filter((t) => t.at > this.now());
    for (const timer of due) timer.run();
  }
}

interface Setup {
  app: App;
  emulator: DiscordEmulator;
  clock: ManualClock;
}

interface StartOptions {
  clock?: ManualClock;
  members?: MemberInput[];
  /** Registered before the bot starts, so they get slash commands too. */
  commands?: CommandDefinition<AdminContext>[];
  /** `[identity] protect_linked_names`. */
  protect?: boolean;
}

async function start(options: StartOptions = {}): Promise<Setup> {
  const emulator = await DiscordEmulator.start({
    botToken: TOKEN,
    guildId: GUILD,
    bot: { username: 'ghosting' },
    channels: [
      { id: CHAT, name: 'ghost-chat' },
      { id: EVENTS, name: 'ghost-events' },
    ],
    roles: [
      { id: MOD_ROLE, name: 'mods' },
      { id: ADMIN_ROLE, name: 'admins', permissions: PermissionFlagsBits.Administrator },
    ],
    members: options.members ?? [
      OWNER,
      OTHER,
      { ...MODERATOR, roles: [MOD_ROLE] },
      { ...BOSS, roles: [ADMIN_ROLE] },
      { ...CLOSED, dmsClosed: true },
    ],
  });
  emulators.push(emulator);
  const config = testConfig();
  config.database.path = tempDatabasePath();
  config.discord = {
    ...config.discord,
    guild_id: GUILD,
    chat_channel_id: CHAT,
    events_channel_id: EVENTS,
    api_url: emulator.apiUrl,
  };
  config.identity = {
    ...config.identity,
    confirm_timeout_s: TIMEOUT_S,
    protect_linked_names: options.protect ?? false,
  };
  const clock = options.clock ?? new ManualClock();
  const clientOptions: DiscordClientOptions = { ...emulator.clientOptions(), bridgeRetry: FAST_RETRY };
  const app = createApp({ config, discordToken: TOKEN, discordClientOptions: clientOptions, clock });
  apps.push(app);
  for (const command of options.commands ?? []) app.commands.register(command);
  await app.start();
  await until(() => app.discord.ready, 5000, 'the bot to be ready');
  await app.store.grants.grant('role', MOD_ROLE, 'moderator', 'test');
  return { app, emulator, clock };
}

/** A server message to this player only (id 0) whose text passes `check`. */
async function told(player: SimClient, check: (text: string) => boolean, since = 0): Promise<string> {
  const packet = await player.waitFor((p) => p.type === 'message' && p.id === 0 && check(p.text), 3000, since);
  return (packet as { text: string }).text;
}

/** Types /link in SAR's chat and returns the code the server answered with. */
async function codeFor(player: SimClient): Promise<string> {
  const mark = player.mark();
  player.sendMessage('/link');
  const text = await told(player, (t) => /link code: [A-Z0-9]{6}\b/i.test(t), mark);
  return /link code: ([A-Z0-9]{6})\b/i.exec(text)![1]!;
}

/** Joins as `name` (from `localAddress`), types /link, and uses the code in Discord as `user`. */
async function linkFromGame(
  setup: Setup,
  name: string,
  user: { id: string; username: string },
  localAddress?: string,
): Promise<{ player: SimClient; reply: InteractionExchange; code: string }> {
  const player = await joinApp(setup.app, name, localAddress !== undefined ? { localAddress } : {});
  const code = await codeFor(player);
  const reply = await setup.emulator.invokeCommand({ name: 'link', options: { code }, user });
  return { player, reply, code };
}

/** The server's id of the (newest) client with this name. */
function clientId(app: App, name: string, address?: string): number {
  const found = app.server
    .listClients()
    .filter((client) => client.name === name && (address === undefined || client.address.includes(address)));
  if (found.length === 0) throw new Error(`no client ${name}`);
  return found.at(-1)!.id;
}

const buttonIds = (message: StoredMessage): string[] =>
  (message.components as Array<{ components?: Array<{ custom_id?: string }> }>)
    .flatMap((row) => row.components ?? [])
    .map((button) => String(button.custom_id));

/** The confirmation DM to `user` (with its buttons), waiting for it. */
const confirmationDm = (emulator: DiscordEmulator, user: { id: string }): Promise<StoredMessage> =>
  emulator.waitForDm(user.id, (message) => buttonIds(message).length === 2);

const button = (message: StoredMessage, what: 'confirm' | 'deny'): string =>
  buttonIds(message).find((id) => id.includes(what))!;

describe('member arguments', () => {
  it('are a user picker on Discord, and the command gets the member as a mention, and who ran it', async () => {
    const calls: Array<[ArgumentValues, Invoker]> = [];
    const setup = await start({
      commands: [
        {
          name: 'greet',
          summary: 'Greets a member',
          arguments: [
            { name: 'member', type: 'word', complete: 'member' },
            { name: 'other', type: 'word', complete: 'member', optional: true },
          ],
          permission: 'everyone',
          run: (_context, args, invoker) => {
            calls.push([args, invoker]);
            return ok(`hello ${String(args.member)}`);
          },
        },
      ],
    });
    const greet = setup.emulator.commands().find((command) => command.name === 'greet')!;
    expect(greet.options).toEqual([
      expect.objectContaining({ name: 'member', type: 6, required: true }),
      expect.objectContaining({ name: 'other', type: 6, required: false }),
    ]);
    const reply = await setup.emulator.invokeCommand({ name: 'greet', options: { member: OWNER.id }, user: OTHER });
    // Shown literally, and no ping (allowed_mentions is checked after each test).
    expect(reply.content).toBe(`hello \\<@${OWNER.id}>`);
    expect(calls).toEqual([
      [{ member: `<@${OWNER.id}>` }, expect.objectContaining({ discordId: OTHER.id, name: 'bob' })],
    ]);
    // The console types a mention, an id or a name: the same command, the text as it is.
    expect(
      (await setup.app.commands.execute('greet 12345', { source: 'console', name: 'c', permission: 'admin' })).text,
    ).toBe('hello 12345');
  });
});

describe('linking on Discord', () => {
  it('links the name a code was asked for in game with /link <code>; /whois and /profile show it', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    const { player, reply, code } = await linkFromGame(setup, 'Alice', OWNER);
    expect(reply.content).toBe('Linked Alice to your Discord account.');
    expect(reply.ephemeral).toBe(true);
    expect(await told(player, (t) => t.includes('linked'))).toBe(
      'Alice is now linked to Discord member alice_discord.',
    );
    expect(app.identity.memberOf('Alice')).toEqual({ discordId: OWNER.id, discordName: OWNER.username });
    expect(app.identity.trustOf(clientId(app, 'Alice'))).toBe('confirmed');
    // The API and plugins see the member on the client (ClientInfo.discordId), never the code.
    expect(app.server.getClient(clientId(app, 'Alice'))?.discordId).toBe(OWNER.id);
    expect(JSON.stringify(app.server.listClients())).not.toContain(code);

    // The same code again: used.
    const again = await emulator.invokeCommand({ name: 'link', options: { code }, user: OTHER });
    expect(again.ephemeral).toBe(true);
    expect(again.content).toMatch(/^Not linked: that code is wrong, used or expired/);

    const whois = await emulator.invokeCommand({ name: 'whois', options: { player: 'Alice' }, user: OTHER });
    expect(whois.content).toContain(`Alice: Discord member alice_discord (id ${OWNER.id})`);
    expect(whois.content).toContain('(confirmed)');

    const own = await emulator.invokeCommand({ name: 'profile', user: OWNER });
    expect(own.content).toContain('alice_discord: linked names Alice');
    // Another member's profile: Discord offers a user picker; the command gets the member.
    const profile = emulator.commands().find((command) => command.name === 'profile')!;
    expect(profile.options).toEqual([expect.objectContaining({ name: 'member', type: 6, required: false })]);
    const theirs = await emulator.invokeCommand({ name: 'profile', options: { member: OWNER.id }, user: OTHER });
    expect(theirs.content).toBe(own.content);
    // Someone with no names.
    const nobody = await emulator.invokeCommand({ name: 'profile', options: { member: OTHER.id }, user: OWNER });
    expect(nobody.ephemeral).toBe(true);
    expect(nobody.content).toMatch(/has no linked names/);
  });

  it('/unlink forgets your names; someone else’s needs a moderator', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    await linkFromGame(setup, 'Alice', OWNER);
    await linkFromGame(setup, 'Bob', OTHER);

    const refused = await emulator.invokeCommand({ name: 'unlink', options: { player: 'Alice' }, user: OTHER });
    expect(refused.ephemeral).toBe(true);
    expect(refused.content).toMatch(/needs moderator permission/);
    expect(app.identity.memberOf('Alice')?.discordId).toBe(OWNER.id);

    const mine = await emulator.invokeCommand({ name: 'unlink', user: OWNER });
    expect(mine.content).toBe('Unlinked Alice.');
    expect(app.identity.memberOf('Alice')).toBeUndefined();
    expect(app.server.getClient(clientId(app, 'Alice'))?.discordId).toBeNull();
    const whois = await emulator.invokeCommand({ name: 'whois', options: { player: 'Alice' }, user: OTHER });
    expect(whois.content).toMatch(/Alice is not linked/);

    const byModerator = await emulator.invokeCommand({
      name: 'unlink',
      options: { player: 'Bob' },
      user: MODERATOR,
    });
    expect(byModerator.content).toBe('Unlinked Bob from Discord member bob.');
    expect(app.identity.namesOf(OTHER.id)).toEqual([]);
  });

  it('/ban member bans every name linked to the member and kicks them; a member cannot ban', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    const { player: alice } = await linkFromGame(setup, 'Alice', OWNER);
    const { player: alt } = await linkFromGame(setup, 'AliceAlt', OWNER);
    const bystander = await joinApp(app, 'Carol');

    const ban = emulator.commands().find((command) => command.name === 'ban')!;
    const sub = (ban.options as Array<{ name: string; options?: unknown[] }>).find((o) => o.name === 'member')!;
    expect(sub.options).toEqual([
      expect.objectContaining({ name: 'member', type: 6, required: true }),
      expect.objectContaining({ name: 'reason', type: 3, required: false }),
    ]);

    const denied = await emulator.invokeCommand({
      name: 'ban',
      subcommand: 'member',
      options: { member: OWNER.id },
      user: OTHER,
    });
    expect(denied.content).toMatch(/You need the moderator level/);
    expect(app.server.listClients()).toHaveLength(3);

    const banned = await emulator.invokeCommand({
      name: 'ban',
      subcommand: 'member',
      options: { member: OWNER.id, reason: 'cheating' },
      user: MODERATOR,
    });
    expect(banned.ephemeral).toBe(true);
    expect(banned.content).toMatch(/^Banned Discord member alice\\_discord and the names Alice, AliceAlt \(cheating\)/);
    await Promise.all([alice.waitForClose(), alt.waitForClose()]);
    expect(app.server.listClients().map((client) => client.name)).toEqual(['Carol']);
    expect(bystander.closed).toBe(false);
    // Announced in the events channel.
    const line = await emulator.waitForMessage(EVENTS, (message) => message.content.startsWith('🔨'));
    expect(line.content).toMatch(/Banned Discord member alice\\_discord .*\(by helper\)$/);
    // Coming back under either name is refused.
    await expect(joinApp(app, 'AliceAlt')).rejects.toThrow(/closed/);

    // /unban has options, so the group's `unban member` is /unban_member on Discord.
    const unbanned = await emulator.invokeCommand({
      name: 'unban_member',
      options: { member: OWNER.id },
      user: BOSS,
    });
    expect(unbanned.content).toBe('Unbanned Discord member alice\\_discord.');
    expect(emulator.commands().find((command) => command.name === 'unban')?.options).toEqual([
      expect.objectContaining({ name: 'ip_or_name', type: 3 }),
    ]);
    await joinApp(app, 'AliceAlt');
  });
});

describe('confirmation DMs', () => {
  /** Alice linked from 127.0.0.1; a second Alice from 127.0.0.2, which the owner has not confirmed. */
  async function impostor(setup: Setup): Promise<{ player: SimClient; id: number }> {
    await linkFromGame(setup, 'Alice', OWNER);
    const player = await joinApp(setup.app, 'Alice', { localAddress: '127.0.0.2' });
    const id = clientId(setup.app, 'Alice', '127.0.0.2');
    expect(setup.app.identity.trustOf(id)).toBe('unconfirmed');
    return { player, id };
  }

  it('asks the owner in a DM; Confirm remembers the address, and nobody else’s click counts', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    const { player, id } = await impostor(setup);
    const outcome = app.identity.requestConfirmation(id);
    const dm = await confirmationDm(emulator, OWNER);
    expect(dm.content).toMatch(
      /^\*\*Alice\*\*, a name linked to you, is playing on the ghost server from an address you have not confirmed\.\nIs it you\? Answer <t:\d+:R>\.$/,
    );
    expect(dm.raw.guild_id).toBeUndefined();

    // Someone else clicking (a forged or forwarded click) is told off privately and changes nothing.
    const stranger = await emulator.clickButton({ message: dm, customId: button(dm, 'confirm'), user: OTHER });
    expect(stranger.callback?.type).toBe(CallbackType.ChannelMessageWithSource);
    expect(stranger.ephemeral).toBe(true);
    expect(stranger.content).toBe('Only the member this was sent to can answer it.');
    expect(buttonIds(dm)).toHaveLength(2);
    expect(app.identity.pendingConfirmations()).toHaveLength(1);

    const confirmed = await emulator.clickButton({ message: dm, customId: button(dm, 'confirm') });
    expect(confirmed.original?.id).toBe(dm.id);
    expect(await outcome).toBe('confirmed');
    await until(() => buttonIds(dm).length === 0, 3000, 'the buttons to go');
    expect(dm.content.split('\n').at(-1)).toBe('✅ Confirmed: Alice may play from that address.');
    expect(app.identity.trustOf(id)).toBe('confirmed');
    expect(await told(player, (t) => t.includes('confirmed you'))).toBe('The owner of Alice confirmed you.');
    expect(player.closed).toBe(false);
  });

  it('Deny disconnects the player and says so in the DM', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    const { player, id } = await impostor(setup);
    const outcome = app.identity.requestConfirmation(id);
    const dm = await confirmationDm(emulator, OWNER);
    await emulator.clickButton({ message: dm, customId: button(dm, 'deny') });
    expect(await outcome).toBe('denied');
    await player.waitForClose();
    await until(() => buttonIds(dm).length === 0, 3000, 'the buttons to go');
    expect(dm.content.split('\n').at(-1)).toBe('✅ Denied: the player using Alice was disconnected.');
    expect(app.identity.trustOf(clientId(app, 'Alice'))).toBe('confirmed');
  });

  it('an unanswered DM says so when it expires; a closed DM or no bot means nobody can be asked', async () => {
    // The service's clock is just short of the time-out behind the real one: its request expires in a second.
    const clock = new ManualClock(Date.now() - (TIMEOUT_S - 1) * 1000);
    const setup = await start({ clock });
    const { app, emulator } = setup;
    const { player, id } = await impostor(setup);
    const outcome = app.identity.requestConfirmation(id);
    const dm = await confirmationDm(emulator, OWNER);
    await until(() => buttonIds(dm).length === 0, 3000, 'the DM to expire');
    expect(dm.content.split('\n').at(-1)).toBe('⌛ No answer in time.');
    clock.advance(TIMEOUT_S * 1000);
    expect(await outcome).toBe('timeout');
    await player.waitForClose();

    // A member whose DMs are closed cannot be asked.
    await linkFromGame(setup, 'Shy', CLOSED);
    await joinApp(app, 'Shy', { localAddress: '127.0.0.2' });
    expect(await app.identity.requestConfirmation(clientId(app, 'Shy', '127.0.0.2'))).toBe('unavailable');
    expect(emulator.dmsWith(CLOSED.id)).toEqual([]);

    // Nor anyone once the bot has stopped.
    await linkFromGame(setup, 'Bob', OTHER);
    await joinApp(app, 'Bob', { localAddress: '127.0.0.2' });
    await app.discord.stop();
    expect(await app.identity.requestConfirmation(clientId(app, 'Bob', '127.0.0.2'))).toBe('unavailable');
  });
});

describe("a linked player's level", () => {
  it('is the member’s Discord level: Administrator, then /role grants; everyone when unknown or Discord is down', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    await linkFromGame(setup, 'Mod', MODERATOR);
    await linkFromGame(setup, 'Boss', BOSS);
    await linkFromGame(setup, 'Alice', OWNER);
    expect(await app.identity.levelOf(clientId(app, 'Mod'))).toBe('moderator');
    expect(await app.identity.levelOf(clientId(app, 'Boss'))).toBe('admin');
    expect(await app.identity.levelOf(clientId(app, 'Alice'))).toBe('everyone');
    // A grant to the member takes effect at once (grants are read every time; roles are cached briefly).
    await app.store.grants.grant('user', OWNER.id, 'moderator', 'test');
    expect(await app.identity.levelOf(clientId(app, 'Alice'))).toBe('moderator');
    expect(emulator.requestsTo('GET /guilds/:id/members/:id').map((r) => r.path.split('/').at(-1))).toEqual([
      MODERATOR.id,
      BOSS.id,
      OWNER.id,
    ]);

    // A member who left the guild, and members while Discord is down: everyone.
    await linkFromGame(setup, 'Gone', { id: '930000000000000199', username: 'gone' });
    emulator.state.members.delete('930000000000000199');
    expect(await app.identity.levelOf(clientId(app, 'Gone'))).toBe('everyone');
    await app.store.grants.grant('user', OTHER.id, 'admin', 'test');
    await linkFromGame(setup, 'Bob', OTHER);
    emulator.startOutage({ status: 503 });
    expect(await app.identity.levelOf(clientId(app, 'Bob'))).toBe('everyone');
    emulator.endOutage();
    expect(await app.identity.levelOf(clientId(app, 'Bob'))).toBe('admin');
  });
});

describe('protected names ([identity] protect_linked_names)', () => {
  const CONSOLE: Invoker = { source: 'console', name: 'console', permission: 'admin' };

  /** Alice links from 127.0.0.1, leaves, and comes back from 127.0.0.2 (an address not confirmed). */
  async function returnFromElsewhere(setup: Setup): Promise<SimClient> {
    const { player } = await linkFromGame(setup, 'Alice', OWNER);
    player.close();
    await until(
      () => setup.app.server.listClients().every((client) => client.name !== 'Alice'),
      3000,
      'Alice to leave',
    );
    expect((await setup.app.commands.execute('race open Protected', CONSOLE)).ok).toBe(true);
    const returning = await joinApp(setup.app, 'Alice', { localAddress: '127.0.0.2' });
    expect(await told(returning, (t) => t.includes('must confirm'))).toBe(
      `Alice is linked to a Discord account: its owner must confirm this connection within ${TIMEOUT_S} s. Until then you are in no race.`,
    );
    return returning;
  }

  it('lets the player join, keeps it out of races until the owner confirms from the DM', async () => {
    const setup = await start({ protect: true });
    const { app, emulator } = setup;
    const alice = await returnFromElsewhere(setup);
    const dm = await confirmationDm(emulator, OWNER);

    let mark = alice.mark();
    alice.sendMessage('/ready');
    expect(await told(alice, () => true, mark)).toContain('owner has not confirmed your connection');
    expect(app.races.current()?.entrants).toEqual([]);

    await emulator.clickButton({ message: dm, customId: button(dm, 'confirm') });
    await told(alice, (t) => t === 'The owner of Alice confirmed you.');
    mark = alice.mark();
    alice.sendMessage('/ready');
    await told(alice, (t) => t.startsWith('Alice is ready'), mark);
    expect(app.races.current()?.entrants.map((entrant) => entrant.name)).toEqual(['Alice']);
    // Confirmed once is confirmed for good: the next connection from there is not asked again.
    alice.close();
    await until(() => app.server.listClients().length === 0, 3000, 'Alice to leave');
    await joinApp(app, 'Alice', { localAddress: '127.0.0.2' });
    expect(app.identity.trustOf(clientId(app, 'Alice'))).toBe('confirmed');
    expect(app.identity.pendingConfirmations()).toEqual([]);
  });

  it('disconnects the player when the owner denies it, or does not answer in time', async () => {
    const clock = new ManualClock();
    const setup = await start({ protect: true, clock });
    const { emulator } = setup;
    const denied = await returnFromElsewhere(setup);
    const dm = await confirmationDm(emulator, OWNER);
    await emulator.clickButton({ message: dm, customId: button(dm, 'deny') });
    expect(await told(denied, (t) => t.startsWith('Disconnected'))).toBe(
      'Disconnected: the owner of Alice did not confirm this connection.',
    );
    await denied.waitForClose();

    const ignored = await joinApp(setup.app, 'Alice', { localAddress: '127.0.0.3' });
    await confirmationDm(emulator, OWNER).then(() =>
      until(() => setup.app.identity.pendingConfirmations().length === 1, 3000, 'the request'),
    );
    clock.advance(TIMEOUT_S * 1000);
    expect(await told(ignored, (t) => t.startsWith('Disconnected'))).toBe(
      'Disconnected: the owner of Alice did not confirm this connection in time.',
    );
    await ignored.waitForClose();
  });

  it('fails closed: when the owner cannot be asked (DMs closed), the player is disconnected at once', async () => {
    const setup = await start({ protect: true });
    const { player } = await linkFromGame(setup, 'Shy', CLOSED);
    player.close();
    await until(() => setup.app.server.listClients().length === 0, 3000, 'Shy to leave');
    const impostor = await joinApp(setup.app, 'Shy', { localAddress: '127.0.0.2' });
    expect(await told(impostor, (t) => t.startsWith('Disconnected'))).toBe(
      'Disconnected: the owner of Shy could not be asked to confirm this connection.',
    );
    await impostor.waitForClose();
  });

  it('leaves unlinked names and confirmed addresses alone', async () => {
    const setup = await start({ protect: true });
    await linkFromGame(setup, 'Alice', OWNER);
    const stranger = await joinApp(setup.app, 'Nobody', { localAddress: '127.0.0.2' });
    await stranger.roundTrip();
    expect(setup.app.identity.trustOf(clientId(setup.app, 'Nobody'))).toBe('unlinked');
    expect(setup.app.identity.pendingConfirmations()).toEqual([]);
    expect(setup.emulator.dmsWith(OWNER.id)).toEqual([]);
  });
});

describe('moderating from the game', () => {
  /** The latest audit entries, oldest first. */
  const audited = (app: App) =>
    app.store.audit
      .recent(20)
      .reverse()
      .map((entry) => ({ actor: entry.actor, source: entry.source, action: entry.action }));

  it('a linked moderator starts a countdown from SAR chat; a player who is not linked is refused; both audited', async () => {
    const setup = await start();
    const { app } = setup;
    const { player: mod } = await linkFromGame(setup, 'Mod', MODERATOR);
    const runner = await joinApp(app, 'Runner', { localAddress: '127.0.0.2' });

    // In-game /help lists what each may run: the moderator's includes /countdown, the runner's not.
    let mark = mod.mark();
    mod.sendMessage('/help');
    expect(await told(mod, (t) => t.startsWith('Commands:'), mark)).toContain('/countdown');
    mark = runner.mark();
    runner.sendMessage('/help');
    expect(await told(runner, (t) => t.startsWith('Commands:'), mark)).not.toContain('/countdown');

    mark = runner.mark();
    runner.sendMessage('/countdown start 5');
    expect(await told(runner, (t) => t.startsWith('Not allowed'), mark)).toBe(
      'Not allowed: "countdown start" needs moderator permission.',
    );

    const setupMark = runner.mark();
    mod.sendMessage('/countdown start 5');
    const countdown = await runner.waitFor((p) => p.type === 'countdown_setup', 3000, setupMark);
    expect(countdown).toMatchObject({ duration: 5 });
    await until(
      () => audited(app).some((entry) => entry.actor === 'Mod' && entry.action.startsWith('countdown start')),
      3000,
      'the audit entry',
    );
    const entries = audited(app);
    expect(entries).toContainEqual({ actor: 'Runner', source: 'game', action: 'refused: countdown start 5' });
    expect(entries).toContainEqual(expect.objectContaining({ actor: 'Mod', source: 'game' }));
    expect(entries.find((entry) => entry.actor === 'Mod')!.action).toMatch(/^countdown start/);
  });

  it('a linked moderator on an address not confirmed is refused and asked to confirm it', async () => {
    const setup = await start();
    const { app, emulator } = setup;
    const { player } = await linkFromGame(setup, 'Mod', MODERATOR);
    player.close();
    await until(() => app.server.listClients().length === 0, 3000, 'Mod to leave');
    const elsewhere = await joinApp(app, 'Mod', { localAddress: '127.0.0.2' });
    const mark = elsewhere.mark();
    elsewhere.sendMessage('/countdown start 5');
    expect(await told(elsewhere, (t) => t.startsWith('Not allowed'), mark)).toBe(
      'Not allowed: "countdown start" needs moderator permission.',
    );
    expect(await told(elsewhere, (t) => t.includes('must confirm'), mark)).toBe(
      'Mod is linked, but not from this address: its owner must confirm it on Discord first (a message was sent).',
    );
    const dm = await confirmationDm(emulator, MODERATOR);
    await emulator.clickButton({ message: dm, customId: button(dm, 'confirm'), user: MODERATOR });
    await told(elsewhere, (t) => t === 'The owner of Mod confirmed you.');
    const setupMark = elsewhere.mark();
    elsewhere.sendMessage('/countdown start 3');
    expect(await elsewhere.waitFor((p) => p.type === 'countdown_setup', 3000, setupMark)).toMatchObject({
      duration: 3,
    });
  });
});
