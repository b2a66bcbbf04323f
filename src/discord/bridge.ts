/**
 * The Discord bot, in the same process as the ghost server and joined to it only through the
 * event bus and a few server methods. It must never take the ghost server down: login happens in
 * the background, every discord.js error is caught and logged once, sends go through bounded
 * outboxes, and discord.js itself reconnects the gateway and retries rate-limited requests.
 *
 * With no DISCORD_TOKEN, or `[discord] enabled = false`, it logs one line and does nothing.
 */
import { Client, Events, GatewayIntentBits, type ClientOptions } from 'discord.js';
import type { DiscordSettings } from '../config.js';
import type { Logger } from '../logger.js';
import type { GhostServer } from '../ghost/server.js';
import type { AdminContext } from '../commands/context.js';
import type { CommandRegistry } from '../commands/registry.js';
import type { Store } from '../db/database.js';
import { ChatRelay, NO_MENTIONS } from './chat-relay.js';
import { EventFeed } from './event-feed.js';
import { InteractionHandler } from './interactions.js';

export interface DiscordBridgeOptions {
  settings: DiscordSettings;
  /** From the DISCORD_TOKEN environment variable; never logged, never stored in config.toml. */
  token: string | undefined;
  server: GhostServer;
  commands: CommandRegistry<AdminContext>;
  store: Store;
  logger: Logger;
  /** Extra discord.js client options (embedding code, tests). */
  clientOptions?: Partial<ClientOptions>;
}

export type BridgeState = 'off' | 'connecting' | 'ready' | 'failed' | 'stopped';

export class DiscordBridge {
  state: BridgeState = 'off';
  private client: Client | undefined;
  private chat: ChatRelay | undefined;
  private feed: EventFeed | undefined;
  private interactions: InteractionHandler | undefined;
  private readonly log: Logger;

  constructor(private readonly options: DiscordBridgeOptions) {
    this.log = options.logger.child({ module: 'discord' });
  }

  /** Why Discord is off, or undefined when it should start. */
  static offReason(settings: DiscordSettings, token: string | undefined): string | undefined {
    if (!settings.enabled) return 'Discord is off ([discord] enabled = false)';
    if (token === undefined || token.trim() === '') return 'Discord is off (no DISCORD_TOKEN in the environment)';
    if (settings.guild_id === '') return 'Discord is off ([discord] guild_id is not set)';
    return undefined;
  }

  /** Messages waiting to go to Discord (chat and events). */
  get queued(): number {
    return (this.chat?.queued ?? 0) + (this.feed?.queued ?? 0);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Starts logging in in the background; resolves at once. */
  start(): void {
    const { settings, token, server } = this.options;
    const off = DiscordBridge.offReason(settings, token);
    if (off !== undefined) {
      this.log.info(off);
      return;
    }
    this.state = 'connecting';
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
      allowedMentions: NO_MENTIONS,
      ...(settings.api_url !== '' ? { rest: { api: settings.api_url } } : {}),
      ...this.options.clientOptions,
    });
    this.client = client;
    this.chat = new ChatRelay({
      settings,
      bus: server.bus,
      broadcast: (text) => server.broadcastServerMessage(text),
      logger: this.log,
    });
    this.feed = new EventFeed(settings, server.bus, this.log);
    const interactions = new InteractionHandler({
      commands: this.options.commands,
      store: this.options.store,
      server,
      feed: this.feed,
      logger: this.log,
    });
    this.interactions = interactions;

    // Without an 'error' listener an error event would end the process.
    client.on(Events.Error, (error) => this.log.warn({ err: error }, 'Discord client error'));
    client.on(Events.ShardDisconnect, (event) => this.log.warn({ code: event.code }, 'Discord gateway disconnected'));
    client.on(Events.ShardResume, () => this.log.info('Discord gateway resumed'));
    client.on(Events.MessageCreate, (message) => {
      try {
        this.chat?.onDiscordMessage(message);
      } catch (error) {
        this.log.warn({ err: error }, 'cannot relay a Discord message');
      }
    });
    client.on(Events.InteractionCreate, (interaction) => void interactions.handle(interaction));
    client.once(Events.ClientReady, (ready) => {
      void this.onReady(ready);
    });
    client.login(token).catch((error: unknown) => {
      this.state = 'failed';
      this.log.error({ err: error }, 'Discord login failed; the ghost server carries on without Discord');
      void client.destroy();
    });
  }

  private async onReady(client: Client<true>): Promise<void> {
    try {
      if (!client.guilds.cache.has(this.options.settings.guild_id)) {
        this.log.warn({ guild: this.options.settings.guild_id }, 'the bot is not in the configured guild');
      }
      await Promise.all([this.chat?.attach(client), this.feed?.attach(client), this.registerCommands(client)]);
      this.state = 'ready';
      this.log.info({ user: client.user.tag }, 'Discord bot ready');
    } catch (error) {
      this.log.error({ err: error }, 'Discord set-up failed; the ghost server carries on');
    }
  }

  /** Replaces the guild's slash commands with the ones generated from the registry. */
  private async registerCommands(client: Client<true>): Promise<void> {
    const bodies = this.interactions?.slash.bodies ?? [];
    try {
      await client.application.commands.set(bodies, this.options.settings.guild_id);
      this.log.info({ commands: bodies.length }, 'Discord slash commands registered');
    } catch (error) {
      this.log.warn({ err: error }, 'cannot register slash commands; chat and events still work');
    }
  }

  /** Waits until queued chat and events have been sent (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([this.chat?.flush(), this.feed?.flush()]);
  }

  async stop(): Promise<void> {
    if (this.client === undefined) return;
    this.chat?.close();
    this.feed?.close();
    this.state = 'stopped';
    await this.client.destroy();
    this.client = undefined;
  }
}
