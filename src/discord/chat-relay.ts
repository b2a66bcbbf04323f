/**
 * Chat both ways between SAR and one Discord channel.
 *
 * SAR → Discord: each player's MESSAGE is posted under the player's name through a webhook when
 * the bot may manage webhooks in that channel, otherwise as `**name**: text` lines. Nothing
 * relayed may ping anyone (`allowedMentions: { parse: [] }` on every send).
 * Discord → SAR: a member's message in the channel reaches every SAR client as a server message
 * `[Discord] name: text`. Messages from bots and webhooks — including our own relays — are
 * ignored, so the bridge can never echo itself.
 */
import {
  PermissionFlagsBits,
  type Client,
  type GuildTextBasedChannel,
  type Message,
  type MessageCreateOptions,
  type Webhook,
} from 'discord.js';
import type { DiscordSettings } from '../config.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { chatLine, discordToSar, groupByAuthor, packLines, webhookUsername, type ChatLine } from './format.js';
import { Outbox } from './outbox.js';

export const NO_MENTIONS = { parse: [] } as const satisfies MessageCreateOptions['allowedMentions'];
const WEBHOOK_NAME = 'ghosting chat';

export interface ChatRelayOptions {
  settings: DiscordSettings;
  bus: EventBus;
  /** Sends a server message to every SAR client. */
  broadcast(text: string): void;
  logger: Logger;
}

export class ChatRelay {
  private channel: GuildTextBasedChannel | undefined;
  private webhook: Webhook | undefined;
  private readonly outbox: Outbox<ChatLine>;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: ChatRelayOptions) {
    this.outbox = new Outbox('chat', options.settings.max_queued_messages, (batch) => this.post(batch), options.logger);
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

  private async post(batch: ChatLine[]): Promise<void> {
    const channel = this.channel;
    if (channel === undefined) return;
    if (this.webhook !== undefined) {
      for (const group of groupByAuthor(batch)) {
        await this.webhook.send({
          content: group.text,
          username: webhookUsername(group.name),
          allowedMentions: NO_MENTIONS,
        });
      }
      return;
    }
    for (const content of packLines(batch.map(chatLine))) {
      await channel.send({ content, allowedMentions: NO_MENTIONS });
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
