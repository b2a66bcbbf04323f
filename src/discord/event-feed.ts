/**
 * What happens on the ghost server, as lines in the events channel: joins and departures (if
 * `announce_connections`), countdowns and speedrun finishes. Lines queue in a bounded outbox and
 * go out packed into as few messages as fit, so a mass join does not hit Discord's rate limits.
 */
import type { Client, GuildTextBasedChannel } from 'discord.js';
import type { DiscordSettings } from '../config.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { NO_MENTIONS } from './chat-relay.js';
import { escapeMarkdown, packLines } from './format.js';
import { Outbox } from './outbox.js';

export class EventFeed {
  private channel: GuildTextBasedChannel | undefined;
  private readonly outbox: Outbox<string>;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(
    private readonly settings: DiscordSettings,
    bus: EventBus,
    private readonly logger: Logger,
  ) {
    this.outbox = new Outbox('events', settings.max_queued_messages, (lines) => this.post(lines), logger);
    const name = (text: string) => `**${escapeMarkdown(text)}**`;
    if (settings.announce_connections) {
      this.unsubscribers.push(
        bus.on('clientConnected', ({ client }) =>
          this.add(`➕ ${name(client.name)} joined${client.spectator ? ' as a spectator' : ''}`),
        ),
        bus.on('clientDisconnected', ({ client }) => this.add(`➖ ${name(client.name)} left`)),
      );
    }
    this.unsubscribers.push(
      bus.on('countdownStarted', ({ duration }) => this.add(`⏱️ Countdown started: ${duration} s`)),
      bus.on('speedrunFinished', ({ client, time }) =>
        this.add(`🏁 ${name(client.name)} finished in **${escapeMarkdown(time)}**`),
      ),
    );
  }

  get queued(): number {
    return this.outbox.length;
  }

  /** Also used for results that concern everyone, such as a ban made from Discord. */
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

  private async post(lines: string[]): Promise<void> {
    for (const content of packLines(lines)) await this.channel?.send({ content, allowedMentions: NO_MENTIONS });
  }

  flush(): Promise<void> {
    return this.outbox.flush();
  }

  close(): void {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.outbox.close();
  }
}
