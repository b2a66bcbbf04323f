/**
 * What happens on the ghost server, as lines in the events channel: joins and departures (if
 * `announce_connections`), countdowns and speedrun finishes. Lines queue in a bounded outbox and
 * go out packed into as few messages as fit, so a mass join does not hit Discord's rate limits.
 * Names and times are the players' own text: shown literally on one line (format.ts), and no
 * post can ping.
 */
import type { Client, GuildTextBasedChannel } from 'discord.js';
import type { DiscordSettings } from '../config.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { boldName, discordText, nextMessage, NO_MENTIONS } from './format.js';
import { Outbox } from './outbox.js';
import type { Backoff } from './retry.js';

export interface EventFeedOptions {
  settings: DiscordSettings;
  bus: EventBus;
  logger: Logger;
  /** How long to wait before re-sending what a REST outage held back. */
  retry: Backoff;
  /** Told about each failed send (REST health). */
  onError(error: unknown): void;
}

export class EventFeed {
  private channel: GuildTextBasedChannel | undefined;
  private readonly outbox: Outbox<string>;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly settings: DiscordSettings;
  private readonly logger: Logger;

  constructor(options: EventFeedOptions) {
    const { settings, bus, logger } = options;
    this.settings = settings;
    this.logger = logger;
    this.outbox = new Outbox({
      name: 'events',
      capacity: settings.max_queued_messages,
      send: (lines) => this.post(lines),
      retry: options.retry,
      log: logger,
      onError: options.onError,
    });
    if (settings.announce_connections) {
      this.unsubscribers.push(
        bus.on('clientConnected', ({ client }) =>
          this.add(`➕ ${boldName(client.name)} joined${client.spectator ? ' as a spectator' : ''}`),
        ),
        bus.on('clientDisconnected', ({ client }) => this.add(`➖ ${boldName(client.name)} left`)),
      );
    }
    this.unsubscribers.push(
      bus.on('countdownStarted', ({ duration }) => this.add(`⏱️ Countdown started: ${duration} s`)),
      bus.on('speedrunFinished', ({ client, time }) =>
        this.add(`🏁 ${boldName(client.name)} finished in **${discordText(time)}**`),
      ),
    );
  }

  get queued(): number {
    return this.outbox.length;
  }

  /** The events channel, once attached (the race cards are posted there too). */
  get eventsChannel(): GuildTextBasedChannel | undefined {
    return this.channel;
  }

  /**
   * Also used for results that concern everyone, such as a ban made from Discord. `line` is
   * markdown: whatever untrusted text it holds must already be escaped (format.ts).
   */
  add(line: string): void {
    if (this.channel !== undefined) this.outbox.push(line);
  }

  async attach(client: Client<true>): Promise<void> {
    const id = this.settings.events_channel_id;
    if (id === '') return;
    const channel = await client.channels.fetch(id).catch(() => null);
    if (channel === null || !channel.isTextBased() || channel.isDMBased()) {
      this.logger.warn({ channel: id }, 'events_channel_id is not a text channel the bot can see; event feed off');
      return;
    }
    this.channel = channel;
    this.logger.info({ channel: id }, 'Discord event feed on');
  }

  private async post(pending: string[]): Promise<void> {
    const channel = this.channel;
    while (channel !== undefined && pending.length > 0) {
      const { content, count } = nextMessage(pending);
      await channel.send({ content, allowedMentions: NO_MENTIONS });
      pending.splice(0, count);
    }
  }

  flush(): Promise<void> {
    return this.outbox.flush();
  }

  close(): void {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.outbox.close();
  }
}
