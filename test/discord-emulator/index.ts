/**
 * A local Discord API emulator for tests: REST (server.ts, routes.ts) and gateway (gateway.ts) on
 * one 127.0.0.1 port, one guild (state.ts), the bot's DMs with its members, interactions
 * (interactions.ts: slash commands, autocomplete, button clicks), request recording, fault
 * injection and bounded waits. The real discord.js Client talks to it when given
 * `emulator.clientOptions()` (or at least `rest: { api: emulator.apiUrl }`).
 *
 *   const emulator = await DiscordEmulator.start({ botToken, channels: [{ id, name: 'chat' }] });
 *   const client = new Client({ intents, ...emulator.clientOptions() });
 *   await client.login(botToken);
 *   …
 *   await client.destroy();
 *   await emulator.stop();
 */
import type { ClientOptions } from 'discord.js';
import { Gateway, Intents, type GatewayLogEntry } from './gateway.js';
import {
  InteractionHub,
  InteractionType,
  type AutocompleteChoice,
  type AutocompleteOptions,
  type ClickButtonOptions,
  type InteractionExchange,
  type InvokeCommandOptions,
} from './interactions.js';
import { buildRoutes, type MessageEvent } from './routes.js';
import {
  compilePattern,
  RestServer,
  type FailureOptions,
  type OutageOptions,
  type RecordedRequest,
  type RoutePattern,
} from './server.js';
import {
  apiUser,
  DEFAULT_BOT_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  EmulatorState,
  SnowflakeFactory,
  type ChannelInput,
  type JsonObject,
  type MemberInput,
  type RoleInput,
  type StoredCommand,
  type StoredMessage,
  type StoredWebhook,
  type UserInput,
} from './state.js';
import { Waiters } from './waiters.js';
import { mayPing, messageRequests } from './pings.js';

export { Intents, Op, type GatewayLogEntry } from './gateway.js';
export {
  CallbackType,
  ComponentType,
  InteractionExchange,
  type AutocompleteChoice,
  type AutocompleteOptions,
  type ClickButtonOptions,
  type InteractionResponse,
  type InvokeCommandOptions,
  type OptionValue,
} from './interactions.js';
export type { FailureOptions, OutageOptions, RecordedRequest, RoutePattern, UploadedFile } from './server.js';
export { mayPing, messageRequests, type MessageRequest } from './pings.js';
export {
  ChannelType,
  DEFAULT_BOT_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  Permissions,
  type ChannelInput,
  type DmChannel,
  type MemberInput,
  type PermissionOverwriteInput,
  type RoleInput,
  type StoredCommand,
  type StoredMessage,
  type StoredWebhook,
  type UserInput,
} from './state.js';

export interface DiscordEmulatorOptions {
  /** The only token the emulator accepts (REST `Authorization: Bot <token>`, gateway IDENTIFY/RESUME). */
  botToken: string;
  guildId?: string;
  guildName?: string;
  /** The bot user; id and username are generated when missing. */
  bot?: { id?: string; username?: string };
  /** Defaults to the bot user's id, as on Discord. */
  applicationId?: string;
  /** The guild owner (has every permission); a separate generated user by default. */
  ownerId?: string;
  channels?: ChannelInput[];
  members?: MemberInput[];
  /** Extra roles; @everyone (id = guild id) and the bot's managed role are always there. */
  roles?: RoleInput[];
  /** Permissions of @everyone; view/send/read-history/embed/attach/use-commands by default. */
  everyonePermissions?: bigint;
  /** Permissions of the bot's managed role; the @everyone set plus Manage Webhooks by default. */
  botPermissions?: bigint;
  /** Sent in HELLO; 41250 ms (Discord's usual value) by default. */
  heartbeatIntervalMs?: number;
}

export interface UserSaysAuthor extends UserInput {
  /** Makes it a webhook message (`webhook_id` set, no member, author.bot true, author.id = webhook id). */
  webhookId?: string;
}

export interface UserSaysExtra {
  embeds?: unknown[];
  /** A reply: `{ message_id, channel_id }`. */
  messageReference?: JsonObject;
}

export interface DropOptions {
  /** Close code; 4000 (resumable "unknown error") by default. */
  code?: number;
  /** Drop the TCP connection without a close frame (the client sees 1006). */
  abrupt?: boolean;
  /** Resolve only once the client is back (RESUMED or a new READY); true by default. */
  waitForReconnect?: boolean;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const EPHEMERAL = 64;

export class DiscordEmulator {
  readonly state: EmulatorState;
  readonly gateway: Gateway;
  readonly rest: RestServer;
  readonly interactions: InteractionHub;
  private readonly waiters = new Waiters();
  private port = 0;
  private stopped = false;

  private constructor(private readonly options: DiscordEmulatorOptions) {
    const ids = new SnowflakeFactory();
    const botId = options.bot?.id ?? ids.next();
    const guildId = options.guildId ?? ids.next();
    this.state = new EmulatorState({
      guildId,
      guildName: options.guildName ?? 'Emulated Guild',
      ownerId: options.ownerId ?? ids.next(),
      bot: { id: botId, username: options.bot?.username ?? 'Emulated Bot', bot: true },
      applicationId: options.applicationId ?? botId,
      channels: options.channels ?? [],
      members: options.members ?? [],
      roles: options.roles ?? [],
      everyonePermissions: options.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS,
      botPermissions: options.botPermissions ?? DEFAULT_BOT_PERMISSIONS,
    });
    this.interactions = new InteractionHub(this.state, this.waiters);
    this.gateway = new Gateway(
      {
        token: () => this.options.botToken,
        ready: () => ({
          v: 10,
          user: { ...apiUser(this.state.bot), verified: true, mfa_enabled: false, flags: 0 },
          guilds: [{ id: this.state.guildId, unavailable: true }],
          application: { id: this.state.applicationId, flags: 0 },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: [],
          user_settings: {},
          session_type: 'normal',
          auth: {},
          _trace: ['["emulated-gateway",{"micros":0}]'],
        }),
        guildCreates: () => [this.state.guildCreate()],
        members: () => [...this.state.members.values()].map((m) => this.state.apiMember(m)),
        changed: () => this.waiters.notify(),
      },
      options.heartbeatIntervalMs ?? 41_250,
    );
    this.rest = new RestServer(
      buildRoutes({
        state: this.state,
        hub: this.interactions,
        gatewayUrl: () => this.gatewayUrl,
        publish: (event, message) => this.publish(event, message),
      }),
      {
        token: () => this.options.botToken,
        changed: () => this.waiters.notify(),
        upgrade: (request, socket, head) => this.gateway.handleUpgrade(request, socket, head),
      },
    );
  }

  /** Starts the emulator on an OS-chosen port of 127.0.0.1. */
  static async start(options: DiscordEmulatorOptions): Promise<DiscordEmulator> {
    const emulator = new DiscordEmulator(options);
    emulator.port = await emulator.rest.listen();
    emulator.gateway.url = emulator.gatewayUrl;
    return emulator;
  }

  /** Closes every socket and the server; pending waits reject. Destroy discord.js clients first. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.waiters.cancelAll('stopped');
    await this.gateway.close();
    await this.rest.close();
  }

  /** `http://127.0.0.1:PORT/api`, for discord.js's `rest.api` option. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** `ws://127.0.0.1:PORT`, what GET /gateway/bot returns. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get guildId(): string {
    return this.state.guildId;
  }

  get applicationId(): string {
    return this.state.applicationId;
  }

  get botUser(): UserInput {
    return { ...this.state.bot };
  }

  /**
   * Options to spread into `new Client({...})`: the REST base URL, and an identify throttler that
   * never waits (discord.js otherwise spaces identifies 5 s apart).
   */
  clientOptions(): Pick<ClientOptions, 'rest' | 'ws'> {
    return {
      rest: { api: this.apiUrl },
      ws: { buildIdentifyThrottler: () => ({ waitForIdentify: () => Promise.resolve() }) },
    };
  }

  // ---- REST requests ----

  /**
   * Waits until `probe` answers something other than undefined, re-asking whenever the emulator
   * records anything (a request, a message, a gateway frame); rejects after `timeoutMs`.
   */
  waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    return this.waiters.waitFor(probe, timeoutMs, what);
  }

  /** Every REST request so far, in order of arrival. */
  get requests(): readonly RecordedRequest[] {
    return this.rest.requests;
  }

  /** The recorded requests matching a pattern like `'POST /channels/:id/messages'`. */
  requestsTo(pattern: RoutePattern): RecordedRequest[] {
    const matches = compilePattern(pattern);
    return this.rest.requests.filter((r) => matches(r.method, r.path));
  }

  /** Messages the bot posted or edited that could ping someone, described (none is the rule). */
  get mayPing(): string[] {
    return mayPing(messageRequests(this.rest.requests));
  }

  /** Requests no route handled (the emulator answered 404): gaps in the emulator, or wrong paths. */
  get unhandledRequests(): RecordedRequest[] {
    return this.rest.requests.filter((r) => r.unhandled);
  }

  /** Waits for an answered request matching the pattern (and predicate); already-recorded ones count. */
  waitForRequest(
    pattern: RoutePattern,
    predicate: (request: RecordedRequest) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<RecordedRequest> {
    const matches = compilePattern(pattern);
    return this.waiters.waitFor(
      () => this.rest.requests.find((r) => r.status !== 0 && matches(r.method, r.path) && predicate(r)),
      timeoutMs,
      `a request to ${String(pattern)}`,
    );
  }

  /**
   * Makes the next `times` (default 1) requests matching the pattern fail: a 429 with
   * `Retry-After: retryAfter` (default 0.2 s) unless another status is given.
   */
  failNext(pattern: RoutePattern, options: FailureOptions = {}): void {
    this.rest.failNext(pattern, options);
  }

  /**
   * Takes the whole REST API down until `endOutage()`: every request is answered 503 (or
   * `status`), or with `unreachable` its connection is cut without an answer (and new gateway
   * connections too). Open gateway connections stay up, as in a partial Discord outage.
   */
  startOutage(options: OutageOptions = {}): void {
    this.rest.outage = { ...options };
  }

  endOutage(): void {
    this.rest.outage = undefined;
  }

  // ---- messages ----

  /** Every message (bot, user, webhook and interaction ones), in order. */
  get messages(): readonly StoredMessage[] {
    return this.state.messages;
  }

  messagesIn(channelId: string): StoredMessage[] {
    return this.state.messages.filter((m) => m.channelId === channelId && !m.deleted);
  }

  /** Waits for a message in the channel matching the predicate; already-stored ones count. */
  waitForMessage(
    channelId: string,
    predicate: (message: StoredMessage) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<StoredMessage> {
    return this.waiters.waitFor(
      () => this.messagesIn(channelId).find(predicate),
      timeoutMs,
      `a message in channel ${channelId}`,
    );
  }

  /** Waits until the channel holds at least `count` messages matching the predicate. */
  waitForMessages(
    channelId: string,
    count: number,
    predicate: (message: StoredMessage) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<StoredMessage[]> {
    return this.waiters.waitFor(
      () => {
        const found = this.messagesIn(channelId).filter(predicate);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
      `${count} messages in channel ${channelId}`,
    );
  }

  /**
   * A user (or another bot, or a webhook) posts in a channel: stores the message and dispatches
   * MESSAGE_CREATE (content blanked for clients without the MessageContent intent, as on Discord).
   */
  userSays(channelId: string, author: UserSaysAuthor, content: string, extra: UserSaysExtra = {}): StoredMessage {
    if (!this.state.channels.has(channelId)) throw new Error(`Discord emulator: no channel ${channelId}`);
    const { webhookId, ...user } = author;
    if (webhookId === undefined) this.state.ensureMember(user);
    const message = this.state.createMessage({
      channelId,
      source: webhookId === undefined ? 'user' : 'webhook',
      author: webhookId === undefined ? user : { ...user, id: webhookId, bot: true },
      content,
      embeds: extra.embeds ?? [],
      webhookId: webhookId ?? null,
      ...(extra.messageReference !== undefined ? { messageReference: extra.messageReference, type: 19 } : {}),
    });
    this.publish('MESSAGE_CREATE', message);
    return message;
  }

  /**
   * Someone (a moderator) deletes a message: it is gone from the channel, later requests for it
   * get 404 Unknown Message (10008), and MESSAGE_DELETE is dispatched.
   */
  deleteMessage(channelId: string, messageId: string): void {
    const message = this.state.findMessage(channelId, messageId);
    if (message === undefined) throw new Error(`Discord emulator: no message ${messageId} in ${channelId}`);
    message.deleted = true;
    this.publish('MESSAGE_DELETE', message);
    this.waiters.notify();
  }

  // ---- direct messages ----

  /** The id of the bot's DM channel with a user, once the bot has opened it (POST /users/@me/channels). */
  dmChannelOf(userId: string): string | undefined {
    return [...this.state.dmChannels.values()].find((channel) => channel.recipientId === userId)?.id;
  }

  /** The messages in the bot's DM with a user, oldest first (none before the DM was opened). */
  dmsWith(userId: string): StoredMessage[] {
    const channelId = this.dmChannelOf(userId);
    return channelId === undefined ? [] : this.messagesIn(channelId);
  }

  /** Waits for a message in the bot's DM with a user matching the predicate; already-sent ones count. */
  waitForDm(
    userId: string,
    predicate: (message: StoredMessage) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<StoredMessage> {
    return this.waiters.waitFor(() => this.dmsWith(userId).find(predicate), timeoutMs, `a DM to ${userId}`);
  }

  /**
   * A member turns direct messages from server members off (or back on): the bot can still open
   * the DM channel, but sending there answers 403 "Cannot send messages to this user" (50007).
   */
  setDmsOpen(userId: string, open: boolean): void {
    const member = this.state.members.get(userId);
    if (member === undefined) throw new Error(`Discord emulator: no member ${userId}`);
    member.dmsClosed = !open;
  }

  // ---- members ----

  /**
   * Gives a member other roles (ids, not counting @everyone), as a moderator would in Server
   * Settings: GET /guilds/:id/members/:user shows them at once, and clients with the
   * GuildMembers intent get GUILD_MEMBER_UPDATE.
   */
  setMemberRoles(userId: string, roles: string[]): void {
    const member = this.state.members.get(userId);
    if (member === undefined) throw new Error(`Discord emulator: no member ${userId}`);
    member.roles = [...roles];
    this.gateway.dispatch(
      'GUILD_MEMBER_UPDATE',
      { guild_id: this.state.guildId, ...this.state.apiMember(member) },
      { intent: Intents.GuildMembers },
    );
  }

  // ---- commands and interactions ----

  /** The registered application commands (API objects) of the guild, or 'global'. */
  commands(scope: string = this.state.guildId): JsonObject[] {
    return this.state.commandsIn(scope).map((c: StoredCommand) => c.raw);
  }

  /**
   * Dispatches a slash command (INTERACTION_CREATE type 2) and resolves once the bot answered:
   * the callback, and for a deferred reply also the first edit or follow-up. Later edits and
   * follow-ups keep arriving in the returned exchange (see `exchange.waitFor`).
   */
  async invokeCommand(options: InvokeCommandOptions): Promise<InteractionExchange> {
    const exchange = this.interactions.create(InteractionType.ApplicationCommand, options);
    this.gateway.dispatch('INTERACTION_CREATE', exchange.payload);
    return exchange.waitFor(
      (e) => e.callback !== undefined && (!e.deferred || e.responses.length >= 2),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      `the bot's answer to /${options.name}`,
    );
  }

  /**
   * Someone clicks a button of a message (INTERACTION_CREATE type 3) and this resolves once the
   * bot answered: the callback, and after a DEFERRED_UPDATE_MESSAGE (6) also the first edit.
   * UPDATE_MESSAGE (7) edits the message in place; `exchange.original` is the clicked message
   * then. Rejects at once when the message does not show that button (any more).
   */
  async clickButton(options: ClickButtonOptions): Promise<InteractionExchange> {
    const exchange = this.interactions.createButtonClick(options);
    this.gateway.dispatch('INTERACTION_CREATE', exchange.payload);
    return exchange.waitFor(
      (e) => e.callback !== undefined && (!e.deferredUpdate || e.responses.length >= 2),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      `the bot's answer to a click on ${options.customId}`,
    );
  }

  /** Dispatches an autocomplete interaction (type 4) and resolves with the bot's choices. */
  async autocomplete(options: AutocompleteOptions): Promise<AutocompleteChoice[]> {
    const exchange = this.interactions.create(InteractionType.ApplicationCommandAutocomplete, options, {
      name: options.focused,
      value: options.value ?? '',
    });
    this.gateway.dispatch('INTERACTION_CREATE', exchange.payload);
    const done = await exchange.waitFor(
      (e) => e.callback !== undefined,
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      `autocomplete choices for /${options.name}`,
    );
    const choices = done.choices;
    if (choices === undefined) {
      throw new Error(`Discord emulator: autocomplete answered with callback type ${done.callback?.type}, not 8`);
    }
    return choices;
  }

  // ---- webhooks and permissions ----

  get webhooks(): StoredWebhook[] {
    return [...this.state.webhooks.values()];
  }

  /** Adds a webhook as if someone had made it earlier (owner: the bot unless another member id is given). */
  addWebhook(channelId: string, name: string, ownerId?: string): StoredWebhook {
    return this.state.createWebhook(channelId, name, ownerId);
  }

  /**
   * Changes the bot role's permissions (e.g. without Manage Webhooks, so webhook routes answer
   * 403) and tells connected clients with GUILD_ROLE_UPDATE.
   */
  setBotPermissions(permissions: bigint): void {
    this.setRolePermissions(this.state.botRoleId, permissions);
  }

  setRolePermissions(roleId: string, permissions: bigint): void {
    this.state.setRolePermissions(roleId, permissions);
    const role = this.state.roles.get(roleId)!;
    this.gateway.dispatch(
      'GUILD_ROLE_UPDATE',
      { guild_id: this.state.guildId, role: this.state.apiRole(role) },
      { intent: Intents.Guilds },
    );
  }

  // ---- gateway ----

  /** Every gateway frame in and out (and closes), in order. */
  get gatewayLog(): readonly GatewayLogEntry[] {
    return this.gateway.log;
  }

  /** Waits for a dispatch (READY, RESUMED, MESSAGE_CREATE, …) sent after log index `since` (default 0). */
  waitForDispatch(t: string, since = 0, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<GatewayLogEntry> {
    return this.waiters.waitFor(
      () => this.gateway.log.slice(since).find((e) => e.direction === 'out' && e.t === t),
      timeoutMs,
      `a ${t} dispatch`,
    );
  }

  /** Closes the next `times` IDENTIFYs with `code` (4004 by default) instead of answering READY. */
  refuseIdentify(code = 4004, times = 1): void {
    this.gateway.refuseIdentify(code, times);
  }

  /** Sends a raw dispatch to every session (for events the emulator has no helper for). */
  dispatch(t: string, d: JsonObject): void {
    this.gateway.dispatch(t, d);
  }

  /**
   * Closes every gateway connection (resumable by default) and, unless told not to, waits until
   * the client is back: resolves 'resumed' or 'identified' (or 'no connection' if none was open).
   */
  async dropGatewayConnections(
    options: DropOptions = {},
  ): Promise<'resumed' | 'identified' | 'no connection' | 'dropped'> {
    const since = this.gateway.log.length;
    const dropped = this.gateway.drop(options.code ?? 4000, options.abrupt ?? false);
    if (dropped === 0) return 'no connection';
    if (options.waitForReconnect === false) return 'dropped';
    const entry = await this.waiters.waitFor(
      () => this.gateway.log.slice(since).find((e) => e.direction === 'out' && (e.t === 'RESUMED' || e.t === 'READY')),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      'the client to reconnect to the gateway',
    );
    return entry.t === 'RESUMED' ? 'resumed' : 'identified';
  }

  private publish(event: MessageEvent, message: StoredMessage): void {
    if ((message.flags & EPHEMERAL) !== 0) return;
    if (this.state.dmChannels.has(message.channelId)) {
      // DMs: only to clients with the DirectMessages intent, no guild, and content always (a
      // DM with the bot is exempt from the MessageContent intent).
      const d: JsonObject =
        event === 'MESSAGE_DELETE' ? { id: message.id, channel_id: message.channelId } : { ...message.raw };
      this.gateway.dispatch(event, d, { intent: Intents.DirectMessages });
      return;
    }
    if (event === 'MESSAGE_DELETE') {
      this.gateway.dispatch(
        event,
        { id: message.id, channel_id: message.channelId, guild_id: this.state.guildId },
        { intent: Intents.GuildMessages },
      );
      return;
    }
    const member = this.state.messageMember(message);
    const d: JsonObject = { ...message.raw, ...(member !== undefined ? { member } : {}) };
    const botId = this.state.bot.id;
    this.gateway.dispatch(event, d, {
      intent: Intents.GuildMessages,
      shape: (payload, intents) => {
        const mentioned = EmulatorState.parseMentions(message.content).users.includes(botId);
        if ((intents & Intents.MessageContent) !== 0 || message.authorId === botId || mentioned) return payload;
        return { ...payload, content: '', embeds: [], attachments: [], components: [] };
      },
    });
  }
}
