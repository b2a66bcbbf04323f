/**
 * Asking the owner of a linked name on Discord (src/identity/identity.ts `setConfirmer`): a
 * direct message with Confirm / Deny buttons, whose custom ids carry the request id. Only the
 * member it was sent to may answer; the answer goes to `identity.answer`, and the message then
 * shows the outcome instead of the buttons (also once the request has timed out).
 *
 * Asking fails (and the service counts the owner as unreachable) when the bot is not logged in,
 * the member's DMs are closed, or Discord does not take the message. Names are shown literally
 * and nothing pings (format.ts).
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  MessageFlags,
  type ButtonInteraction,
  type Client,
  type Message,
} from 'discord.js';
import type { ConfirmationRequest, Identity } from '../identity/identity.js';
import type { Logger } from '../logger.js';
import { boldName, discordText, NO_MENTIONS } from './format.js';
import { describeError } from './health.js';

/** What the Discord side needs of the identity service. */
export type IdentityHooks = Pick<Identity, 'setConfirmer' | 'answer' | 'setLevelResolver'>;

const PREFIX = 'identity';

/** `identity:confirm:<request id>` or `identity:deny:<request id>`. */
export function confirmationButtonId(requestId: string, confirm: boolean): string {
  return `${PREFIX}:${confirm ? 'confirm' : 'deny'}:${requestId}`;
}

/** The request and the answer a button stands for, or undefined for anyone else's button. */
export function parseConfirmationButton(customId: string): { requestId: string; confirm: boolean } | undefined {
  const match = /^identity:(confirm|deny):(.+)$/.exec(customId);
  return match === null ? undefined : { requestId: match[2]!, confirm: match[1] === 'confirm' };
}

/** The question, on its own line(s), without the buttons. */
export function confirmationText(request: ConfirmationRequest): string {
  const unix = Math.floor(request.expiresAt.getTime() / 1000);
  return [
    `${boldName(request.name)}, a name linked to you, is playing on the ghost server from an address you have not confirmed.`,
    `Is it you? Answer <t:${unix}:R>.`,
  ].join('\n');
}

interface Asked {
  request: ConfirmationRequest;
  message: Message;
  /** Shows "no answer in time" once the request has expired unanswered. */
  expiry: NodeJS.Timeout;
}

export interface ConfirmationsOptions {
  identity: IdentityHooks;
  logger: Logger;
  /** Told when editing a message fails (REST health). */
  onError(error: unknown): void;
}

export class Confirmations {
  private client: Client<true> | undefined;
  private readonly asked = new Map<string, Asked>();

  constructor(private readonly options: ConfirmationsOptions) {}

  /** Becomes the service's confirmer; DMs go out once a client is attached. */
  register(): void {
    this.options.identity.setConfirmer((request) => this.ask(request));
  }

  /** The logged-in client to send with (or none: asking fails until there is one again). */
  attach(client: Client<true> | undefined): void {
    this.client = client;
  }

  /** No longer the confirmer; forgets what was asked (their buttons answer "over" if clicked). */
  close(): void {
    this.options.identity.setConfirmer(undefined);
    this.client = undefined;
    for (const asked of this.asked.values()) clearTimeout(asked.expiry);
    this.asked.clear();
  }

  /** DMs the owner; rejects when that is not possible, so the service treats them as unreachable. */
  async ask(request: ConfirmationRequest): Promise<void> {
    const client = this.client;
    if (client === undefined) throw new Error('the Discord bot is not connected');
    const channel = await client.users.createDM(request.discordId);
    const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder()
        .setCustomId(confirmationButtonId(request.id, true))
        .setLabel('Confirm')
        .setStyle(ButtonStyle.Success),
      new ButtonBuilder()
        .setCustomId(confirmationButtonId(request.id, false))
        .setLabel('Deny')
        .setStyle(ButtonStyle.Danger),
    );
    const message = await channel.send({
      content: confirmationText(request),
      components: [buttons],
      allowedMentions: NO_MENTIONS,
    });
    const expiry = setTimeout(
      () => void this.expire(request.id),
      Math.max(0, request.expiresAt.getTime() - Date.now()),
    );
    expiry.unref();
    this.asked.set(request.id, { request, message, expiry });
  }

  /** Handles a click on a confirmation button; false for any other button. */
  async onButton(interaction: ButtonInteraction): Promise<boolean> {
    const parsed = parseConfirmationButton(interaction.customId);
    if (parsed === undefined) return false;
    const asked = this.asked.get(parsed.requestId);
    if (asked !== undefined && interaction.user.id !== asked.request.discordId) {
      await interaction.reply({
        content: 'Only the member this was sent to can answer it.',
        flags: MessageFlags.Ephemeral,
        allowedMentions: NO_MENTIONS,
      });
      return true;
    }
    await interaction.deferUpdate();
    let outcome: { ok: boolean; text: string };
    try {
      outcome = await this.options.identity.answer(parsed.requestId, interaction.user.id, parsed.confirm);
    } catch (error) {
      // The database could not remember the address: the player stays unconfirmed.
      this.options.logger.warn({ reason: describeError(error) }, 'cannot record a confirmation');
      outcome = { ok: false, text: `Not recorded: ${describeError(error)}` };
    }
    if (asked !== undefined) {
      clearTimeout(asked.expiry);
      this.asked.delete(parsed.requestId);
    }
    const question = asked !== undefined ? confirmationText(asked.request) : interaction.message.content;
    await interaction.editReply({
      content: `${question}\n${outcome.ok ? '✅' : '⚠️'} ${discordText(outcome.text)}`,
      components: [],
      allowedMentions: NO_MENTIONS,
    });
    return true;
  }

  /** Unanswered in time: the service has ended the request; the DM says so instead of the buttons. */
  private async expire(requestId: string): Promise<void> {
    const asked = this.asked.get(requestId);
    if (asked === undefined) return;
    this.asked.delete(requestId);
    try {
      await asked.message.edit({
        content: `${confirmationText(asked.request)}\n⌛ No answer in time.`,
        components: [],
        allowedMentions: NO_MENTIONS,
      });
    } catch (error) {
      this.options.onError(error);
      this.options.logger.warn({ reason: describeError(error) }, 'cannot mark a confirmation as expired');
    }
  }
}
