/**
 * Emulated interactions: builds INTERACTION_CREATE payloads for slash commands, autocomplete and
 * button clicks (message components, in guild channels and DMs), and collects what the bot
 * answers (the callback, then edits of @original and follow-ups).
 */
import {
  apiUser,
  randomToken,
  type EmulatorState,
  type JsonObject,
  type StoredMessage,
  type UserInput,
} from './state.js';
import type { Waiters } from './waiters.js';

export const InteractionType = {
  ApplicationCommand: 2,
  MessageComponent: 3,
  ApplicationCommandAutocomplete: 4,
} as const;

/** Component types the emulator knows: action rows hold buttons. */
export const ComponentType = { ActionRow: 1, Button: 2 } as const;

export const CallbackType = {
  Pong: 1,
  ChannelMessageWithSource: 4,
  DeferredChannelMessageWithSource: 5,
  DeferredUpdateMessage: 6,
  UpdateMessage: 7,
  ApplicationCommandAutocompleteResult: 8,
  Modal: 9,
} as const;

const EPHEMERAL = 64;

export type OptionValue = string | number | boolean;

export interface InvokeCommandOptions {
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  /**
   * `{ optionName: value }` (types come from the registered command, else inferred: boolean 5,
   * integer 4, other number 10, string 3), or raw API options passed through as they are.
   */
  options?: Record<string, OptionValue> | JsonObject[];
  /** Who runs it; defaults to the first non-bot member. Unknown users become role-less members. */
  user?: UserInput;
  /** The invoker's role ids (overrides the member's). */
  roles?: string[];
  /** The invoker's permissions in the channel (overrides the computed ones). */
  permissions?: bigint;
  /** Defaults to the first text channel. */
  channelId?: string;
  locale?: string;
  /** How long to wait for the bot's answer; 5000 ms by default. */
  timeoutMs?: number;
}

export interface ClickButtonOptions {
  /** The message the button is on (a bot message with components, in a guild channel or a DM). */
  message: StoredMessage;
  /** The button's custom_id; it must be on the message now, enabled (Discord only sends what is shown). */
  customId: string;
  /**
   * Who clicks: the DM's recipient, or the first non-bot member in a guild channel, by default.
   * Anyone may be given, to test a handler's own check (on Discord only the recipient sees a DM).
   */
  user?: UserInput;
  /** How long to wait for the bot's answer; 5000 ms by default. */
  timeoutMs?: number;
}

export interface AutocompleteOptions extends InvokeCommandOptions {
  /** The option being typed in. */
  focused: string;
  /** What has been typed so far; '' by default. */
  value?: OptionValue;
}

export interface InteractionResponse {
  /** 'callback' for POST /interactions/:id/:token/callback, the rest for the interaction webhook. */
  kind: 'callback' | 'edit' | 'followup' | 'delete';
  /** The callback type (4 reply, 5 deferred, 8 autocomplete result, 9 modal, …); only for 'callback'. */
  type?: number;
  /** The message created or edited, if any. */
  messageId?: string;
  body: JsonObject;
  at: number;
}

export interface AutocompleteChoice {
  name: string;
  value: OptionValue;
}

/** One interaction and everything the bot answered to it. */
export class InteractionExchange {
  readonly responses: InteractionResponse[] = [];
  /** The @original response message, once there is one. */
  original: StoredMessage | undefined;
  readonly followUps: StoredMessage[] = [];

  constructor(
    readonly id: string,
    readonly token: string,
    /** The INTERACTION_CREATE `d` that was dispatched. */
    readonly payload: JsonObject,
    private readonly waiters: Waiters,
    /** For a button click: the message the button is on (what UPDATE_MESSAGE and @original edit). */
    readonly message?: StoredMessage,
  ) {}

  /** The user who ran the command or clicked (`member.user` in a guild, `user` in a DM). */
  get user(): UserInput {
    const member = this.payload.member as { user: { id: string; username: string } } | undefined;
    const user = member?.user ?? (this.payload.user as { id: string; username: string });
    return { id: user.id, username: user.username };
  }

  get channelId(): string {
    return this.payload.channel_id as string;
  }

  /** The initial callback, once the bot has sent it. */
  get callback(): InteractionResponse | undefined {
    return this.responses.find((r) => r.kind === 'callback');
  }

  get deferred(): boolean {
    return this.callback?.type === CallbackType.DeferredChannelMessageWithSource;
  }

  /** A button click acknowledged with DEFERRED_UPDATE_MESSAGE (6): an edit of the message follows. */
  get deferredUpdate(): boolean {
    return this.callback?.type === CallbackType.DeferredUpdateMessage;
  }

  /** Whether the initial response carried the Ephemeral flag (64). */
  get ephemeral(): boolean {
    const data = this.callback?.body.data as JsonObject | undefined;
    return typeof data?.flags === 'number' && (data.flags & EPHEMERAL) !== 0;
  }

  /** The current text of the @original response. */
  get content(): string | undefined {
    return this.original?.deleted ? undefined : this.original?.content;
  }

  /** The choices of an autocomplete answer. */
  get choices(): AutocompleteChoice[] | undefined {
    const callback = this.callback;
    if (callback?.type !== CallbackType.ApplicationCommandAutocompleteResult) return undefined;
    const data = callback.body.data as { choices?: AutocompleteChoice[] } | undefined;
    return data?.choices ?? [];
  }

  /** Waits until `predicate(this)` holds (re-checked as responses arrive). */
  waitFor(predicate: (exchange: this) => boolean, timeoutMs = 5000, what = 'an interaction response'): Promise<this> {
    return this.waiters.waitFor(
      () => (predicate(this) ? this : undefined),
      timeoutMs,
      `${what} (interaction ${this.id})`,
    );
  }

  /** Waits for at least `count` responses in all (callback + edits + follow-ups). */
  waitForResponses(count: number, timeoutMs = 5000): Promise<this> {
    return this.waitFor((e) => e.responses.length >= count, timeoutMs, `${count} interaction responses`);
  }

  record(response: Omit<InteractionResponse, 'at'>): void {
    this.responses.push({ ...response, at: Date.now() });
  }
}

function inferType(value: OptionValue): number {
  if (typeof value === 'boolean') return 5;
  if (typeof value === 'number') return Number.isInteger(value) ? 4 : 10;
  return 3;
}

function childOptions(list: unknown, name: string, type: number): JsonObject[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const found = (list as JsonObject[]).find((o) => o.name === name && o.type === type);
  return found === undefined ? undefined : ((found.options as JsonObject[] | undefined) ?? []);
}

export class InteractionHub {
  readonly exchanges: InteractionExchange[] = [];

  constructor(
    private readonly state: EmulatorState,
    private readonly waiters: Waiters,
  ) {}

  byId(id: string): InteractionExchange | undefined {
    return this.exchanges.find((e) => e.id === id);
  }

  byToken(token: string): InteractionExchange | undefined {
    return this.exchanges.find((e) => e.token === token);
  }

  /** Builds the exchange and its INTERACTION_CREATE payload (the caller dispatches it). */
  create(
    type: number,
    options: InvokeCommandOptions,
    focused?: { name: string; value: OptionValue },
  ): InteractionExchange {
    const state = this.state;
    const channelId = options.channelId ?? [...state.channels.values()].find((c) => c.type === 0)?.id;
    const channel = channelId === undefined ? undefined : state.channels.get(channelId);
    if (channel === undefined) throw new Error(`Discord emulator: no channel ${channelId ?? '(none configured)'}`);
    const user =
      options.user ?? [...state.members.values()].map((m) => m.user).find((u) => !u.bot && u.id !== state.bot.id);
    if (user === undefined)
      throw new Error('Discord emulator: invokeCommand needs a user (no non-bot member configured)');
    const member = state.ensureMember(user);
    const roles = options.roles ?? member.roles;
    const permissions = options.permissions ?? state.permissionsOf(user.id, channel.id, roles);

    const command = [...state.commandsIn(state.guildId), ...state.commandsIn('global')].find(
      (c) => c.raw.name === options.name && (c.raw.type ?? 1) === 1,
    );
    const resolved: Record<string, Record<string, JsonObject>> = {};
    const leafDefs = (() => {
      let defs: unknown = command?.raw.options;
      if (options.subcommandGroup !== undefined) defs = childOptions(defs, options.subcommandGroup, 2);
      if (options.subcommand !== undefined) defs = childOptions(defs, options.subcommand, 1);
      return Array.isArray(defs) ? (defs as JsonObject[]) : [];
    })();

    let leaves: JsonObject[];
    if (Array.isArray(options.options)) {
      leaves = options.options;
    } else {
      const values: Record<string, OptionValue> = { ...options.options };
      if (focused !== undefined) values[focused.name] = focused.value;
      leaves = Object.entries(values).map(([name, value]) => {
        const defType = leafDefs.find((d) => d.name === name)?.type;
        const optionType = typeof defType === 'number' ? defType : inferType(value);
        this.resolve(optionType, String(value), resolved, channel.id);
        return {
          name,
          type: focused?.name === name ? (typeof defType === 'number' ? defType : 3) : optionType,
          value,
          ...(focused?.name === name ? { focused: true } : {}),
        };
      });
    }
    let dataOptions = leaves;
    if (options.subcommand !== undefined) dataOptions = [{ name: options.subcommand, type: 1, options: dataOptions }];
    if (options.subcommandGroup !== undefined) {
      dataOptions = [{ name: options.subcommandGroup, type: 2, options: dataOptions }];
    }

    const id = state.ids.next();
    const token = `emulated-interaction-${randomToken()}`;
    const payload: JsonObject = {
      id,
      application_id: state.applicationId,
      type,
      token,
      version: 1,
      data: {
        id: command?.id ?? state.ids.next(),
        name: options.name,
        type: 1,
        ...(command?.scope !== undefined && command.scope !== 'global' ? { guild_id: command.scope } : {}),
        options: dataOptions,
        ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
      },
      guild_id: state.guildId,
      guild: { id: state.guildId, locale: 'en-US', features: [] },
      channel_id: channel.id,
      channel: state.apiChannel(channel),
      member: { ...state.apiMember({ ...member, roles }), permissions: permissions.toString() },
      app_permissions: state.permissionsOf(state.bot.id, channel.id).toString(),
      locale: options.locale ?? 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': state.guildId },
      context: 0,
      attachment_size_limit: 10 * 1024 * 1024,
    };
    const exchange = new InteractionExchange(id, token, payload, this.waiters);
    this.exchanges.push(exchange);
    return exchange;
  }

  /**
   * Builds the exchange and INTERACTION_CREATE payload (type 3) of a click on a button of a
   * message; throws when the message is gone or shows no such enabled button.
   */
  createButtonClick(options: ClickButtonOptions): InteractionExchange {
    const state = this.state;
    const message = options.message;
    if (message.deleted) throw new Error(`Discord emulator: message ${message.id} is deleted`);
    const buttons = (message.components as JsonObject[])
      .filter((row) => row.type === ComponentType.ActionRow && Array.isArray(row.components))
      .flatMap((row) => row.components as JsonObject[])
      .filter((component) => component.type === ComponentType.Button);
    const button = buttons.find((b) => b.custom_id === options.customId);
    if (button === undefined || button.disabled === true) {
      const shown = buttons.filter((b) => b.disabled !== true).map((b) => String(b.custom_id));
      throw new Error(
        `Discord emulator: message ${message.id} has no enabled button ${options.customId} (it shows: ${shown.join(', ') || 'none'})`,
      );
    }
    const dm = state.dmChannels.get(message.channelId);
    const channel = dm === undefined ? state.channels.get(message.channelId) : undefined;
    if (dm === undefined && channel === undefined) throw new Error(`Discord emulator: no channel ${message.channelId}`);
    const user =
      options.user ??
      (dm !== undefined
        ? state.members.get(dm.recipientId)?.user
        : [...state.members.values()].map((m) => m.user).find((u) => !u.bot && u.id !== state.bot.id));
    if (user === undefined) throw new Error('Discord emulator: clickButton needs a user');
    const id = state.ids.next();
    const token = `emulated-interaction-${randomToken()}`;
    const where: JsonObject =
      dm !== undefined
        ? { channel: state.apiDmChannel(dm), user: apiUser(user), context: 1 }
        : {
            guild_id: state.guildId,
            guild: { id: state.guildId, locale: 'en-US', features: [] },
            channel: state.apiChannel(channel!),
            member: {
              ...state.apiMember(state.ensureMember(user)),
              permissions: state.permissionsOf(user.id, channel!.id).toString(),
            },
            guild_locale: 'en-US',
            context: 0,
          };
    const payload: JsonObject = {
      id,
      application_id: state.applicationId,
      type: InteractionType.MessageComponent,
      token,
      version: 1,
      data: { custom_id: options.customId, component_type: ComponentType.Button },
      channel_id: message.channelId,
      message: message.raw,
      ...where,
      app_permissions: state.permissionsOf(state.bot.id, channel?.id).toString(),
      locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': state.guildId },
      attachment_size_limit: 10 * 1024 * 1024,
    };
    const exchange = new InteractionExchange(id, token, payload, this.waiters, message);
    this.exchanges.push(exchange);
    return exchange;
  }

  /** Fills `resolved` for user, channel, role and mentionable options, as Discord does. */
  private resolve(
    type: number,
    id: string,
    resolved: Record<string, Record<string, JsonObject>>,
    channelId: string,
  ): void {
    const state = this.state;
    const put = (kind: string, key: string, value: JsonObject): void => {
      (resolved[kind] ??= {})[key] = value;
    };
    if (type === 6 || type === 9) {
      const member = state.members.get(id);
      if (member !== undefined) {
        put('users', id, apiUser(member.user));
        put('members', id, {
          ...state.apiMember(member, false),
          permissions: state.permissionsOf(id, channelId).toString(),
        });
      }
    }
    if (type === 7) {
      const channel = state.channels.get(id);
      if (channel !== undefined) {
        put('channels', id, {
          id,
          name: channel.name,
          type: channel.type,
          permissions: state.permissionsOf(state.bot.id, id).toString(),
        });
      }
    }
    if (type === 8 || type === 9) {
      const role = state.roles.get(id);
      if (role !== undefined) put('roles', id, state.apiRole(role));
    }
  }
}
