/**
 * The Discord bot, in the same process as the ghost server and joined to it only through the
 * event bus and a few server methods. It must never take the ghost server down: login happens in
 * the background, every discord.js error is caught and logged once, sends go through bounded
 * outboxes, and discord.js itself reconnects the gateway and retries rate-limited requests.
 *
 * With no DISCORD_TOKEN, or `[discord] enabled = false`, it logs one line and does nothing.
 *
 * With the identity service, it is also how owners of linked names are asked (confirmation DMs,
 * confirmations.ts) and how a linked player's Discord level is read (permissions.ts
 * `MemberLevels`); while the bot is not logged in, asking fails and levels are `everyone`.
 *
 * `state`, as `/healthz` shows it:
 * - `off`: not configured; `connecting`: logging in, or waiting to try again after a failed
 *   login (API unreachable, 5xx: 5 s doubling to 5 min between attempts);
 * - `ready`: logged in and set up; `degraded`: logged in, but Discord's REST API fails (5xx or
 *   no answer) — back to `ready` at the first request that works;
 * - `failed`: Discord refused the bot for good (wrong token, disallowed intents), logged as one
 *   line saying what to fix; the ghost server carries on without Discord;
 * - `stopped`.
 */
import {
  Client,
  DiscordjsErrorCodes,
  Events,
  GatewayIntentBits,
  RESTEvents,
  Routes,
  type ClientOptions,
} from 'discord.js';
import type { DiscordSettings } from '../config.js';
import type { Logger } from '../logger.js';
import type { RaceSnapshot } from '../races/types.js';
import type { GhostServer } from '../ghost/server.js';
import type { AdminContext } from '../commands/context.js';
import type { CommandRegistry } from '../commands/registry.js';
import type { Store } from '../db/database.js';
import { ChatRelay } from './chat-relay.js';
import { Confirmations, type IdentityHooks } from './confirmations.js';
import { EventFeed } from './event-feed.js';
import { NO_MENTIONS } from './format.js';
import { describeError, isTransient, RestHealth } from './health.js';
import { InteractionHandler } from './interactions.js';
import { MemberLevels } from './permissions.js';
import { DEFAULT_CARD_UPDATE_MS, RaceCards, rejectCardRateLimits } from './race-card.js';
import { backoffDelay, DEFAULT_RETRY, formatDelay, type RetryTimings } from './retry.js';

/**
 * Extra discord.js client options (embedding code, tests), plus `bridgeRetry`: how long the
 * bridge itself waits between attempts (tests shorten it; see retry.ts for the defaults).
 */
export type DiscordClientOptions = Partial<ClientOptions> & { bridgeRetry?: Partial<RetryTimings> };

export interface DiscordBridgeOptions {
  settings: DiscordSettings;
  /** From the DISCORD_TOKEN environment variable; never logged, never stored in config.toml. */
  token: string | undefined;
  server: GhostServer;
  commands: CommandRegistry<AdminContext>;
  store: Store;
  logger: Logger;
  clientOptions?: DiscordClientOptions;
  /** `[races] card_update_ms`: at most one edit of a race card per this many ms (2000 by default). */
  raceCardUpdateMs?: number;
  /** Races ended at start-up after a crash, read when the bot starts: their cards are edited. */
  recoveredRaces?: () => readonly RaceSnapshot[];
  /** Linked names: the bridge asks their owners (DMs) and reads their levels for it. */
  identity?: IdentityHooks;
}

/** How long stopping waits for the race cards' last edits. */
const CARD_FINISH_MS = 2_000;

export type BridgeState = 'off' | 'connecting' | 'ready' | 'degraded' | 'failed' | 'stopped';

/** Gateway close codes after which logging in again cannot help, and what the operator should do. */
const FATAL_CLOSE: Record<number, string> = {
  4004: 'Discord refused the bot token: DISCORD_TOKEN is wrong or was reset (Developer Portal → Bot → Reset Token)',
  4010: 'Discord refused the gateway connection (4010 invalid shard)',
  4011: 'Discord requires sharding for this bot (4011), which ghosting does not do',
  4012: 'Discord refused the gateway API version (4012); update ghosting',
  4013: 'Discord refused the gateway intents (4013 invalid intents)',
  4014: 'Discord refused the gateway intents (4014): turn on Message Content under Bot → Privileged Gateway Intents in the Developer Portal',
};

function closeReason(code: number): string {
  return FATAL_CLOSE[code] ?? `Discord closed the gateway for good (${code})`;
}

/** Why logging in again cannot help, or undefined when it may. */
function fatalReason(error: unknown, closeCode: number | undefined): string | undefined {
  if (closeCode !== undefined) return closeReason(closeCode);
  if ((error as { code?: unknown } | undefined)?.code === DiscordjsErrorCodes.TokenInvalid) return closeReason(4004);
  return undefined;
}

export class DiscordBridge {
  private phase: Exclude<BridgeState, 'degraded'> = 'off';
  private client: Client | undefined;
  private chat: ChatRelay | undefined;
  private feed: EventFeed | undefined;
  private cards: RaceCards | undefined;
  private interactions: InteractionHandler | undefined;
  private confirmations: Confirmations | undefined;
  private memberLevels: MemberLevels | undefined;
  private health: RestHealth | undefined;
  private readonly retry: RetryTimings;
  private readonly clientOptions: Partial<ClientOptions>;
  private loginFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly options: DiscordBridgeOptions) {
    this.log = options.logger.child({ module: 'discord' });
    const { bridgeRetry, ...clientOptions } = options.clientOptions ?? {};
    this.retry = { ...DEFAULT_RETRY, ...bridgeRetry };
    this.clientOptions = clientOptions;
  }

  /** Why Discord is off, or undefined when it should start. */
  static offReason(settings: DiscordSettings, token: string | undefined): string | undefined {
    if (!settings.enabled) return 'Discord is off ([discord] enabled = false)';
    if (token === undefined || token.trim() === '') return 'Discord is off (no DISCORD_TOKEN in the environment)';
    if (settings.guild_id === '') return 'Discord is off ([discord] guild_id is not set)';
    return undefined;
  }

  get state(): BridgeState {
    return this.phase === 'ready' && this.health?.ok === false ? 'degraded' : this.phase;
  }

  /** Logged in and set up (`ready` or `degraded`). */
  get ready(): boolean {
    return this.phase === 'ready';
  }

  /** Messages waiting to go to Discord (chat and events). */
  get queued(): number {
    return (this.chat?.queued ?? 0) + (this.feed?.queued ?? 0);
  }

  /** Starts logging in in the background; resolves at once. */
  start(): void {
    const { settings, token, server } = this.options;
    const off = DiscordBridge.offReason(settings, token);
    if (off !== undefined) {
      this.log.info(off);
      return;
    }
    const health = new RestHealth(
      () => this.client?.rest.get(Routes.gatewayBot()) ?? Promise.resolve(),
      this.retry.rest,
      this.log,
    );
    this.health = health;
    const onError = (error: unknown) => health.error(error);
    this.chat = new ChatRelay({
      settings,
      bus: server.bus,
      broadcast: (text) => server.broadcastServerMessage(text),
      logger: this.log,
      retry: this.retry.rest,
      onError,
    });
    this.feed = new EventFeed({ settings, bus: server.bus, logger: this.log, retry: this.retry.rest, onError });
    this.cards = new RaceCards({
      bus: server.bus,
      logger: this.log,
      updateMs: this.options.raceCardUpdateMs ?? DEFAULT_CARD_UPDATE_MS,
      retry: this.retry.rest,
      onError,
      messages: this.options.store.raceCards,
    });
    this.cards.showRecovered(this.options.recoveredRaces?.() ?? []);
    const identity = this.options.identity;
    if (identity !== undefined) {
      this.confirmations = new Confirmations({ identity, logger: this.log, onError });
      this.confirmations.register();
      const levels = new MemberLevels({
        grants: this.options.store.grants,
        guild: () => (this.phase === 'ready' ? this.client?.guilds.cache.get(settings.guild_id) : undefined),
        onFailure: (discordId, error) =>
          this.log.info({ discordId, reason: describeError(error) }, 'cannot read a member level; counted as everyone'),
      });
      this.memberLevels = levels;
      identity.setLevelResolver((discordId) => levels.level(discordId));
    }
    this.interactions = new InteractionHandler({
      commands: this.options.commands,
      store: this.options.store,
      server,
      feed: this.feed,
      logger: this.log,
      ...(this.confirmations !== undefined ? { confirmations: this.confirmations } : {}),
      onError,
    });
    this.connect();
  }

  /** One login attempt with a fresh client (a client whose login failed is destroyed). */
  private connect(): void {
    this.phase = 'connecting';
    this.confirmations?.attach(undefined);
    const { settings, token } = this.options;
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
      allowedMentions: NO_MENTIONS,
      ...this.clientOptions,
      rest: {
        ...(settings.api_url !== '' ? { api: settings.api_url } : {}),
        ...this.clientOptions.rest,
        // A rate-limited race card edit comes back to the card, which then sends its newest state.
        rejectOnRateLimit: rejectCardRateLimits,
      },
    });
    this.client = client;
    let closeCode: number | undefined;

    // Without an 'error' listener an error event would end the process.
    client.on(Events.Error, (error) => this.log.warn({ reason: describeError(error) }, 'Discord client error'));
    client.on(Events.ShardDisconnect, (event) => {
      // discord.js reports only the closes it will not recover from; before READY the login fails too.
      closeCode = event.code;
      if (this.client === client && this.phase === 'ready') this.giveUp(client, closeReason(event.code));
    });
    client.on(Events.ShardResume, () => this.log.info('Discord gateway resumed'));
    client.rest.on(RESTEvents.Response, (_request, response) => {
      this.health?.response(response.status);
      // The event gets a copy of each answer; nobody reads its body.
      if (response instanceof Response) response.body?.cancel().catch(() => undefined);
    });
    client.on(Events.MessageCreate, (message) => {
      try {
        this.chat?.onDiscordMessage(message);
      } catch (error) {
        this.log.warn({ reason: describeError(error) }, 'cannot relay a Discord message');
      }
    });
    const interactions = this.interactions!;
    client.on(Events.InteractionCreate, (interaction) => void interactions.handle(interaction));
    client.once(Events.ClientReady, (ready) => {
      void this.onReady(ready);
    });
    client.login(token).catch((error: unknown) => {
      if (this.client !== client || this.phase !== 'connecting') return;
      void client.destroy();
      this.client = undefined;
      const fatal = fatalReason(error, closeCode);
      if (fatal !== undefined) {
        this.giveUp(client, fatal);
        return;
      }
      const delay = backoffDelay(++this.loginFailures, this.retry.login);
      this.log.warn(
        { reason: describeError(error), attempt: this.loginFailures },
        `Discord login failed (${describeError(error)}); trying again in ${formatDelay(delay)}`,
      );
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.connect();
      }, delay);
    });
  }

  /** One line saying what is wrong; Discord stays off until a restart, the ghost server goes on. */
  private giveUp(client: Client, reason: string): void {
    this.phase = 'failed';
    this.client = undefined;
    this.health?.close();
    this.chat?.close();
    this.feed?.close();
    this.cards?.close();
    this.closeIdentity();
    void client.destroy();
    this.log.error(`${reason}. Discord stays off until the server restarts; the ghost server carries on`);
  }

  private async onReady(client: Client<true>): Promise<void> {
    try {
      if (!client.guilds.cache.has(this.options.settings.guild_id)) {
        this.log.warn({ guild: this.options.settings.guild_id }, 'the bot is not in the configured guild');
      }
      await Promise.all([this.chat?.attach(client), this.feed?.attach(client), this.registerCommands(client)]);
      if (this.client !== client || this.phase !== 'connecting') return;
      this.cards?.attach(this.feed?.eventsChannel);
      this.confirmations?.attach(client);
      this.phase = 'ready';
      this.loginFailures = 0;
      this.log.info({ user: client.user.tag }, 'Discord bot ready');
    } catch (error) {
      this.log.error({ reason: describeError(error) }, 'Discord set-up failed; the ghost server carries on');
    }
  }

  /**
   * Replaces the guild's slash commands with the ones generated from the registry; during a
   * REST outage, tries again with the REST backoff (chat and events work meanwhile).
   */
  private async registerCommands(client: Client<true>, failures = 0): Promise<void> {
    const bodies = this.interactions?.slash.bodies ?? [];
    try {
      await client.application.commands.set(bodies, this.options.settings.guild_id);
      this.log.info({ commands: bodies.length }, 'Discord slash commands registered');
    } catch (error) {
      this.health?.error(error);
      const retry = isTransient(error) && this.client === client;
      const delay = backoffDelay(failures + 1, this.retry.rest);
      this.log.warn(
        { reason: describeError(error) },
        retry
          ? `cannot register slash commands yet; trying again in ${formatDelay(delay)}`
          : 'cannot register slash commands; chat and events still work',
      );
      if (!retry) return;
      const timer = setTimeout(() => {
        if (this.client === client) void this.registerCommands(client, failures + 1);
      }, delay);
      timer.unref();
    }
  }

  /**
   * Waits until queued chat and events have been sent and race cards show their newest state
   * (tests, shutdown), but never longer than `timeoutMs`: during a Discord outage they could wait
   * for ever.
   */
  async flush(timeoutMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([this.chat?.flush(), this.feed?.flush(), this.cards?.flush()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    if (this.phase === 'off' || this.phase === 'stopped') return;
    // The race card's last state (a race ended by the shutdown) gets a short chance to go out.
    if (this.phase === 'ready') await this.cards?.finish(CARD_FINISH_MS);
    if ((this.phase as BridgeState) === 'stopped') return;
    this.phase = 'stopped';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.health?.close();
    this.chat?.close();
    this.feed?.close();
    this.cards?.close();
    this.closeIdentity();
    const client = this.client;
    this.client = undefined;
    await client?.destroy();
  }

  /** Nobody can be asked and levels come from nowhere any more (stopped, or failed for good). */
  private closeIdentity(): void {
    this.confirmations?.close();
    if (this.memberLevels !== undefined) this.options.identity?.setLevelResolver(undefined);
    this.memberLevels?.clear();
  }
}
