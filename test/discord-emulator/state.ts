/**
 * The emulated Discord world: one guild with its channels, roles and members, the bot user, and
 * everything the bot does to it (messages, application commands, webhooks, interactions). Also
 * builds the JSON objects Discord's API would send for each of them.
 */
import { randomBytes } from 'node:crypto';

export type JsonObject = Record<string, unknown>;

/** Permission bits the emulator itself looks at (the same values as discord.js's PermissionFlagsBits). */
export const Permissions = {
  Administrator: 1n << 3n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  ManageWebhooks: 1n << 29n,
  UseApplicationCommands: 1n << 31n,
} as const;

const ALL_PERMISSIONS = (1n << 53n) - 1n;

/** What @everyone may do unless told otherwise. */
export const DEFAULT_EVERYONE_PERMISSIONS =
  Permissions.ViewChannel |
  Permissions.SendMessages |
  Permissions.EmbedLinks |
  Permissions.AttachFiles |
  Permissions.ReadMessageHistory |
  Permissions.UseExternalEmojis |
  Permissions.UseApplicationCommands;

/** What the bot's managed role may do unless told otherwise (includes Manage Webhooks). */
export const DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | Permissions.ManageWebhooks;

export const ChannelType = { GuildText: 0, DM: 1, GuildVoice: 2, GuildCategory: 4, GuildAnnouncement: 5 } as const;

export interface UserInput {
  id: string;
  username: string;
  bot?: boolean;
  globalName?: string;
}

export interface MemberInput extends UserInput {
  /** Role ids (not counting @everyone). */
  roles?: string[];
  nick?: string;
  /**
   * The member has turned off direct messages from server members: the bot can open the DM
   * channel, but sending there fails with 403 "Cannot send messages to this user" (50007).
   */
  dmsClosed?: boolean;
}

export interface PermissionOverwriteInput {
  /** A role id (type 0) or a user id (type 1). */
  id: string;
  type: 0 | 1;
  allow?: bigint;
  deny?: bigint;
}

export interface ChannelInput {
  id: string;
  name: string;
  /** 0 text (default), 2 voice, 4 category, 5 announcement. */
  type?: number;
  topic?: string;
  parentId?: string;
  permissionOverwrites?: PermissionOverwriteInput[];
}

export interface RoleInput {
  id: string;
  name: string;
  permissions?: bigint;
  position?: number;
}

interface Role {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  managed: boolean;
  botId?: string;
}

interface Member {
  user: UserInput;
  roles: string[];
  nick: string | null;
  joinedAt: string;
  dmsClosed: boolean;
}

/** A direct-message channel between the bot and one user (type 1, outside the guild). */
export interface DmChannel {
  id: string;
  recipientId: string;
}

interface Channel {
  id: string;
  name: string;
  type: number;
  topic: string | null;
  parentId: string | null;
  position: number;
  overwrites: PermissionOverwriteInput[];
}

export type MessageSource = 'bot' | 'user' | 'webhook' | 'interaction';

/** A message as the emulator keeps it: handy fields for assertions plus the API object (`raw`). */
export interface StoredMessage {
  id: string;
  channelId: string;
  content: string;
  /** Who posted it: the bot (REST), a simulated user, a webhook execution, or an interaction response. */
  source: MessageSource;
  authorId: string;
  /** The author's name; for webhook messages the per-message `username`. */
  username: string;
  webhookId: string | null;
  /** `allowed_mentions` exactly as the request body had it (undefined when absent). */
  allowedMentions: unknown;
  /** Whether the message could ping anyone: false only when allowed_mentions forbids every kind of ping. */
  canPing: boolean;
  embeds: unknown[];
  /** Message components (action rows of buttons), as last sent or edited. */
  components: unknown[];
  flags: number;
  /** For interaction responses: the interaction's id. */
  interactionId?: string;
  deleted: boolean;
  edits: number;
  /** The request body that created it (bot, webhook and interaction messages). */
  requestBody?: unknown;
  /** The message object as Discord's API returns it. */
  raw: JsonObject;
}

export interface StoredCommand {
  id: string;
  /** 'global' or the guild id. */
  scope: string;
  raw: JsonObject;
}

export interface StoredWebhook {
  id: string;
  token: string;
  channelId: string;
  name: string;
  /** The user who created it: the bot, or a preset owner. */
  ownerId: string;
  raw: JsonObject;
}

const DISCORD_EPOCH = 1420070400000n;

export class SnowflakeFactory {
  private increment = 0n;
  next(): string {
    this.increment = (this.increment + 1n) & 0xfffn;
    return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | this.increment).toString();
  }
}

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

export function apiUser(user: UserInput): JsonObject {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.globalName ?? null,
    avatar: null,
    ...(user.bot ? { bot: true } : {}),
    public_flags: 0,
  };
}

export interface StateOptions {
  guildId: string;
  guildName: string;
  ownerId: string;
  bot: UserInput;
  applicationId: string;
  channels: ChannelInput[];
  members: MemberInput[];
  roles: RoleInput[];
  everyonePermissions: bigint;
  botPermissions: bigint;
}

export class EmulatorState {
  readonly ids = new SnowflakeFactory();
  readonly guildId: string;
  readonly guildName: string;
  readonly ownerId: string;
  readonly bot: UserInput;
  readonly applicationId: string;
  readonly botRoleId: string;
  readonly sessionBaseTime = new Date().toISOString();
  readonly roles = new Map<string, Role>();
  readonly members = new Map<string, Member>();
  readonly channels = new Map<string, Channel>();
  /** The bot's DM channels, by channel id (one per user, opened with POST /users/@me/channels). */
  readonly dmChannels = new Map<string, DmChannel>();
  /** Every message in order of creation (deleted ones are flagged, not removed). */
  readonly messages: StoredMessage[] = [];
  readonly commands: StoredCommand[] = [];
  readonly webhooks = new Map<string, StoredWebhook>();

  constructor(options: StateOptions) {
    this.guildId = options.guildId;
    this.guildName = options.guildName;
    this.ownerId = options.ownerId;
    this.bot = { ...options.bot, bot: true };
    this.applicationId = options.applicationId;
    this.roles.set(this.guildId, {
      id: this.guildId,
      name: '@everyone',
      permissions: options.everyonePermissions,
      position: 0,
      managed: false,
    });
    options.roles.forEach((role, index) =>
      this.roles.set(role.id, {
        id: role.id,
        name: role.name,
        permissions: role.permissions ?? 0n,
        position: role.position ?? index + 1,
        managed: false,
      }),
    );
    this.botRoleId = this.ids.next();
    this.roles.set(this.botRoleId, {
      id: this.botRoleId,
      name: this.bot.username,
      permissions: options.botPermissions,
      position: options.roles.length + 1,
      managed: true,
      botId: this.bot.id,
    });
    this.addMember({ ...this.bot, roles: [this.botRoleId] });
    for (const member of options.members) this.addMember(member);
    options.channels.forEach((channel, index) =>
      this.channels.set(channel.id, {
        id: channel.id,
        name: channel.name,
        type: channel.type ?? ChannelType.GuildText,
        topic: channel.topic ?? null,
        parentId: channel.parentId ?? null,
        position: index,
        overwrites: channel.permissionOverwrites ?? [],
      }),
    );
  }

  addMember(input: MemberInput): void {
    const { roles, nick, dmsClosed, ...user } = input;
    this.members.set(user.id, {
      user,
      roles: roles ?? [],
      nick: nick ?? null,
      joinedAt: new Date().toISOString(),
      dmsClosed: dmsClosed ?? false,
    });
  }

  /** The member, adding a role-less one for an unknown user (someone who just joined). */
  ensureMember(user: UserInput): Member {
    const existing = this.members.get(user.id);
    if (existing !== undefined) return existing;
    this.addMember(user);
    return this.members.get(user.id)!;
  }

  /** The bot's DM channel with a user, opened (with a new id) the first time it is asked for. */
  dmChannelWith(userId: string): DmChannel {
    const existing = [...this.dmChannels.values()].find((channel) => channel.recipientId === userId);
    if (existing !== undefined) return existing;
    const channel: DmChannel = { id: this.ids.next(), recipientId: userId };
    this.dmChannels.set(channel.id, channel);
    return channel;
  }

  setRolePermissions(roleId: string, permissions: bigint): void {
    const role = this.roles.get(roleId);
    if (role === undefined) throw new Error(`Discord emulator: no role ${roleId}`);
    role.permissions = permissions;
  }

  /** Discord's permission algorithm: base role permissions, then the channel's overwrites. */
  permissionsOf(userId: string, channelId?: string, roleIds?: string[]): bigint {
    if (userId === this.ownerId) return ALL_PERMISSIONS;
    const roles = roleIds ?? this.members.get(userId)?.roles ?? [];
    let base = this.roles.get(this.guildId)?.permissions ?? 0n;
    for (const id of roles) base |= this.roles.get(id)?.permissions ?? 0n;
    if (base & Permissions.Administrator) return ALL_PERMISSIONS;
    const channel = channelId === undefined ? undefined : this.channels.get(channelId);
    if (channel === undefined) return base;
    const everyone = channel.overwrites.find((o) => o.id === this.guildId);
    if (everyone) base = (base & ~(everyone.deny ?? 0n)) | (everyone.allow ?? 0n);
    let allow = 0n;
    let deny = 0n;
    for (const o of channel.overwrites) {
      if (o.type === 0 && o.id !== this.guildId && roles.includes(o.id)) {
        allow |= o.allow ?? 0n;
        deny |= o.deny ?? 0n;
      }
    }
    base = (base & ~deny) | allow;
    const own = channel.overwrites.find((o) => o.type === 1 && o.id === userId);
    if (own) base = (base & ~(own.deny ?? 0n)) | (own.allow ?? 0n);
    return base;
  }

  botCan(permission: bigint, channelId?: string): boolean {
    return (this.permissionsOf(this.bot.id, channelId) & permission) === permission;
  }

  // ---- API objects ----

  apiRole(role: Role): JsonObject {
    return {
      id: role.id,
      name: role.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions.toString(),
      managed: role.managed,
      mentionable: false,
      flags: 0,
      ...(role.botId !== undefined ? { tags: { bot_id: role.botId } } : {}),
    };
  }

  apiMember(member: Member, withUser = true): JsonObject {
    return {
      ...(withUser ? { user: apiUser(member.user) } : {}),
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: [...member.roles],
      joined_at: member.joinedAt,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
  }

  apiChannel(channel: Channel): JsonObject {
    return {
      id: channel.id,
      type: channel.type,
      name: channel.name,
      guild_id: this.guildId,
      position: channel.position,
      permission_overwrites: channel.overwrites.map((o) => ({
        id: o.id,
        type: o.type,
        allow: (o.allow ?? 0n).toString(),
        deny: (o.deny ?? 0n).toString(),
      })),
      nsfw: false,
      topic: channel.topic,
      parent_id: channel.parentId,
      last_message_id: this.lastMessageId(channel.id),
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  /** A DM channel as Discord's API returns it (POST /users/@me/channels, GET /channels/:id). */
  apiDmChannel(channel: DmChannel): JsonObject {
    const recipient = this.members.get(channel.recipientId)?.user ?? {
      id: channel.recipientId,
      username: `user-${channel.recipientId}`,
    };
    return {
      id: channel.id,
      type: ChannelType.DM,
      last_message_id: this.lastMessageId(channel.id),
      flags: 0,
      recipients: [apiUser(recipient)],
    };
  }

  private lastMessageId(channelId: string): string | null {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const message = this.messages[i]!;
      if (message.channelId === channelId && !message.deleted) return message.id;
    }
    return null;
  }

  /** The guild as GET /guilds/:id returns it (no channels or members). */
  apiGuild(): JsonObject {
    return {
      id: this.guildId,
      name: this.guildName,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: this.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [...this.roles.values()].map((role) => this.apiRole(role)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_members: 500000,
      vanity_url_code: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      approximate_member_count: this.members.size,
      approximate_presence_count: 0,
    };
  }

  /** The GUILD_CREATE payload sent after READY. */
  guildCreate(): JsonObject {
    return {
      ...this.apiGuild(),
      unavailable: false,
      joined_at: this.sessionBaseTime,
      large: false,
      lazy: true,
      member_count: this.members.size,
      members: [...this.members.values()].map((member) => this.apiMember(member)),
      channels: [...this.channels.values()].map((channel) => this.apiChannel(channel)),
      threads: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  // ---- messages ----

  /** User ids mentioned as <@id> / <@!id>, role ids as <@&id>, and whether @everyone/@here appears. */
  static parseMentions(content: string): { users: string[]; roles: string[]; everyone: boolean } {
    const users = [...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!);
    const roles = [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!);
    return { users: [...new Set(users)], roles: [...new Set(roles)], everyone: /@(everyone|here)/.test(content) };
  }

  /** Applies allowed_mentions the way Discord does to decide who is actually pinged. */
  static effectiveMentions(
    content: string,
    allowed: unknown,
  ): { users: string[]; roles: string[]; everyone: boolean; canPing: boolean } {
    const parsed = EmulatorState.parseMentions(content);
    if (allowed === undefined || allowed === null || typeof allowed !== 'object') return { ...parsed, canPing: true };
    const a = allowed as { parse?: unknown; users?: unknown; roles?: unknown; replied_user?: unknown };
    const parse = Array.isArray(a.parse) ? (a.parse as unknown[]) : [];
    const userList = Array.isArray(a.users) ? (a.users as unknown[]).map(String) : [];
    const roleList = Array.isArray(a.roles) ? (a.roles as unknown[]).map(String) : [];
    const canPing = parse.length > 0 || userList.length > 0 || roleList.length > 0 || a.replied_user === true;
    return {
      users: parsed.users.filter((id) => parse.includes('users') || userList.includes(id)),
      roles: parsed.roles.filter((id) => parse.includes('roles') || roleList.includes(id)),
      everyone: parsed.everyone && parse.includes('everyone'),
      canPing,
    };
  }

  createMessage(input: {
    channelId: string;
    source: MessageSource;
    author: UserInput;
    content: string;
    embeds?: unknown[];
    flags?: number;
    webhookId?: string | null;
    allowedMentions?: unknown;
    attachments?: JsonObject[];
    components?: unknown[];
    nonce?: unknown;
    type?: number;
    interactionId?: string;
    /** Who ran the interaction this message answers. */
    interactionUser?: UserInput;
    requestBody?: unknown;
    messageReference?: unknown;
  }): StoredMessage {
    const id = this.ids.next();
    const mentions = EmulatorState.effectiveMentions(input.content, input.allowedMentions);
    const webhookId = input.webhookId ?? null;
    const raw: JsonObject = {
      id,
      type: input.type ?? 0,
      channel_id: input.channelId,
      // A DM is outside the guild: its messages carry no guild_id.
      ...(this.dmChannels.has(input.channelId) ? {} : { guild_id: this.guildId }),
      author: apiUser(input.author),
      content: input.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: mentions.everyone,
      mentions: mentions.users.map((userId) => {
        const member = this.members.get(userId);
        const user = member ? apiUser(member.user) : apiUser({ id: userId, username: `user-${userId}` });
        return member ? { ...user, member: this.apiMember(member, false) } : user;
      }),
      mention_roles: mentions.roles,
      mention_channels: [],
      attachments: input.attachments ?? [],
      embeds: input.embeds ?? [],
      reactions: [],
      pinned: false,
      flags: input.flags ?? 0,
      components: input.components ?? [],
      ...(webhookId !== null ? { webhook_id: webhookId } : {}),
      ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
      ...(input.messageReference !== undefined ? { message_reference: input.messageReference } : {}),
      ...(input.interactionId !== undefined
        ? {
            application_id: this.applicationId,
            interaction_metadata: {
              id: input.interactionId,
              type: 2,
              user: apiUser(input.interactionUser ?? input.author),
              authorizing_integration_owners: { '0': this.guildId },
            },
          }
        : {}),
    };
    const stored: StoredMessage = {
      id,
      channelId: input.channelId,
      content: input.content,
      source: input.source,
      authorId: input.author.id,
      username: input.author.username,
      webhookId,
      allowedMentions: input.allowedMentions,
      canPing: mentions.canPing,
      embeds: input.embeds ?? [],
      components: input.components ?? [],
      flags: input.flags ?? 0,
      ...(input.interactionId !== undefined ? { interactionId: input.interactionId } : {}),
      deleted: false,
      edits: 0,
      ...(input.requestBody !== undefined ? { requestBody: input.requestBody } : {}),
      raw,
    };
    this.messages.push(stored);
    return stored;
  }

  editMessage(message: StoredMessage, body: JsonObject): void {
    if (typeof body.content === 'string') {
      message.content = body.content;
      message.raw.content = body.content;
    }
    if (Array.isArray(body.embeds)) {
      message.embeds = body.embeds;
      message.raw.embeds = body.embeds;
    }
    if (Array.isArray(body.components)) {
      message.components = body.components;
      message.raw.components = body.components;
    }
    if ('allowed_mentions' in body) {
      message.allowedMentions = body.allowed_mentions;
      message.canPing = EmulatorState.effectiveMentions(message.content, body.allowed_mentions).canPing;
    }
    message.edits++;
    message.raw.edited_timestamp = new Date().toISOString();
  }

  findMessage(channelId: string, messageId: string): StoredMessage | undefined {
    return this.messages.find((m) => m.id === messageId && m.channelId === channelId && !m.deleted);
  }

  /** The member object (with `user`) of a message author, for MESSAGE_CREATE; undefined for webhooks. */
  messageMember(message: StoredMessage): JsonObject | undefined {
    if (message.webhookId !== null) return undefined;
    const member = this.members.get(message.authorId);
    return member ? this.apiMember(member, false) : undefined;
  }

  // ---- commands ----

  commandsIn(scope: string): StoredCommand[] {
    return this.commands.filter((c) => c.scope === scope);
  }

  /** Creates or (same name and type) replaces a command, keeping its id like Discord does. */
  upsertCommand(scope: string, body: JsonObject): StoredCommand {
    const type = typeof body.type === 'number' ? body.type : 1;
    const existing = this.commandsIn(scope).find((c) => c.raw.name === body.name && c.raw.type === type);
    const id = existing?.id ?? this.ids.next();
    const raw: JsonObject = {
      id,
      application_id: this.applicationId,
      ...(scope !== 'global' ? { guild_id: scope } : {}),
      name: body.name,
      name_localizations: body.name_localizations ?? null,
      description: body.description ?? '',
      description_localizations: body.description_localizations ?? null,
      options: body.options ?? [],
      default_member_permissions: body.default_member_permissions ?? null,
      dm_permission: body.dm_permission ?? true,
      contexts: body.contexts ?? null,
      integration_types: body.integration_types ?? [0],
      nsfw: body.nsfw ?? false,
      type,
      version: this.ids.next(),
    };
    if (existing) {
      existing.raw = raw;
      return existing;
    }
    const command: StoredCommand = { id, scope, raw };
    this.commands.push(command);
    return command;
  }

  overwriteCommands(scope: string, bodies: JsonObject[]): StoredCommand[] {
    const kept = bodies.map((body) => this.upsertCommand(scope, body));
    const keptIds = new Set(kept.map((c) => c.id));
    for (let i = this.commands.length - 1; i >= 0; i--) {
      const command = this.commands[i]!;
      if (command.scope === scope && !keptIds.has(command.id)) this.commands.splice(i, 1);
    }
    return kept;
  }

  // ---- webhooks ----

  createWebhook(channelId: string, name: string, ownerId = this.bot.id): StoredWebhook {
    const id = this.ids.next();
    const token = randomToken();
    const owner = this.members.get(ownerId)?.user ?? this.bot;
    const raw: JsonObject = {
      id,
      type: 1,
      guild_id: this.guildId,
      channel_id: channelId,
      name,
      avatar: null,
      token,
      application_id: ownerId === this.bot.id ? this.applicationId : null,
      user: apiUser(owner),
    };
    const webhook: StoredWebhook = { id, token, channelId, name, ownerId, raw };
    this.webhooks.set(id, webhook);
    return webhook;
  }
}
