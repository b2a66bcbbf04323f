/**
 * Chat both ways between SAR and one Discord channel.
 *
 * SAR → Discord: each player's MESSAGE is posted under the player's name through a webhook when
 * the bot may manage webhooks in that channel, otherwise as `**name**: text` lines. Nothing
 * relayed may ping anyone (`allowedMentions: { parse: [] }` on every send), and names and text
 * stay on their line (format.ts).
 * Discord → SAR: a member's message in the channel reaches every SAR client as a server message
 * `[Discord] name: text`. Messages from bots and webhooks — including our own relays — are
 * ignored, so the bridge can never echo itself.
 */
import { PermissionFlagsBits, type Client, type GuildTextBasedChannel, type Message, type Webhook } from 'discord.js';
import type { DiscordSettings } from '../config.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import {
  chatLine,
  discordToSar,
  nextGroup,
  nextMessage,
  NO_MENTIONS,
  webhookUsername,
  type ChatLine,
} from './format.js';
import { Outbox } from './outbox.js';
import type { Backoff } from './retry.js';

const WEBHOOK_NAME = 'ghosting chat';

export interface ChatRelayOptions {
  settings: DiscordSettings;
  bus: EventBus;
  /** Sends a server message to every SAR client. */
  broadcast(text: string): void;
  logger: Logger;
  /** How long to wait before re-sending what a REST outage held back. */
  retry: Backoff;
  /** Told about each failed send (REST health). */
  onError(error: unknown): void;
}

export class ChatRelay {
  private channel: GuildTextBasedChannel | undefined;
  private webhook: Webhook | undefined;
  private readonly outbox: Outbox<ChatLine>;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: ChatRelayOptions) {
    this.outbox = new Outbox({
      name: 'chat',
      capacity: options.settings.max_queued_messages,
      send: (batch) => this.post(batch),
      retry: options.retry,
      log: options.logger,
      onError: options.onError,
    });
    this.unsubscribe = options.bus.on('clientMessage', ({ client, text }) => {
      if (this.channel !== undefined) this.outbox.push({ name: client.name, text });
    });
  }

  get queued(): number {
    return this.outbox.length;
  }

  /** Called once the Discord client is ready: finds the channel and, if allowed, a webhook. */
  async attach(client: Client<true>): Promise<void> {
    const { chat_channel_id: channelId, use_webhooks: useWebhooks } = this.options.settings;
    const log = this.options.logger;
    if (channelId === '') return;
    const channel = await client.channels.fetch(channelId).catch(() => null);
    if (channel === null || !channel.isTextBased() || channel.isDMBased()) {
      log.warn({ channel: channelId }, 'chat_channel_id is not a text channel the bot can see; chat relay off');
      return;
    }
    this.channel = channel;
    this.webhook = useWebhooks ? await this.findWebhook(client, channel) : undefined;
    log.info({ channel: channelId, webhook: this.webhook !== undefined }, 'Discord chat relay on');
  }

  private async findWebhook(client: Client<true>, channel: GuildTextBasedChannel): Promise<Webhook | undefined> {
    const log = this.options.logger;
    const permissions = channel.permissionsFor(client.user);
    if (!permissions?.has(PermissionFlagsBits.ManageWebhooks) || !('fetchWebhooks' in channel)) {
      log.info('no Manage Webhooks permission in the chat channel: posting as "**name**: text"');
      return undefined;
    }
    try {
      const existing = await channel.fetchWebhooks();
      const ours = existing.find((hook) => hook.owner?.id === client.user.id && hook.name === WEBHOOK_NAME);
      return ours ?? (await channel.createWebhook({ name: WEBHOOK_NAME, reason: 'SAR chat relay' }));
    } catch (error) {
      log.warn({ err: error }, 'cannot use a webhook in the chat channel: posting as "**name**: text"');
      return undefined;
    }
  }

  /** A message seen in any channel; relays the ones from people in the chat channel. */
  onDiscordMessage(message: Message): void {
    if (this.channel === undefined || message.channelId !== this.channel.id) return;
    if (message.author.bot || message.webhookId !== null || message.system) return;
    const content = message.cleanContent.trim();
    if (content === '') return;
    const author = message.member?.displayName ?? message.author.displayName ?? message.author.username;
    this.options.broadcast(discordToSar(author, content, this.options.settings.max_message_length));
  }

  private async post(pending: ChatLine[]): Promise<void> {
    const channel = this.channel;
    if (channel === undefined) return;
    const webhook = this.webhook;
    while (pending.length > 0) {
      if (webhook !== undefined) {
        const { group, count } = nextGroup(pending)!;
        // Blank chat would be refused as an empty message (and take the rest of the batch along).
        if (group.text.trim() !== '') {
          await webhook.send({
            content: group.text,
            username: webhookUsername(group.name),
            allowedMentions: NO_MENTIONS,
          });
        }
        pending.splice(0, count);
      } else {
        const { content, count } = nextMessage(pending.slice(0, 500).map(chatLine));
        await channel.send({ content, allowedMentions: NO_MENTIONS });
        pending.splice(0, count);
      }
    }
  }

  flush(): Promise<void> {
    return this.outbox.flush();
  }

  close(): void {
    this.unsubscribe();
    this.outbox.close();
  }
}
