/**
 * Text shaping between SAR and Discord. SAR shows one line per message and has no markdown;
 * Discord renders markdown and would ping on @mentions (mentions are disabled on every send,
 * see chat-relay.ts; names are escaped here so an underscore in a name is not italics).
 */
import { escapeMarkdown } from 'discord.js';

export const DISCORD_MESSAGE_LIMIT = 2000;

export interface ChatLine {
  name: string;
  text: string;
}

/** A Discord message as SAR will print it: one line, bounded length. */
export function discordToSar(author: string, content: string, maxLength: number): string {
  const flat = `[Discord] ${author}: ${content}`.replace(/\s+/g, ' ').trim();
  return flat.length <= maxLength ? flat : `${flat.slice(0, Math.max(0, maxLength - 1))}…`;
}

/** `**name**: text` lines for when the bot cannot post through a webhook. */
export function chatLine(line: ChatLine): string {
  return `**${escapeMarkdown(line.name)}**: ${line.text}`;
}

/** Joins lines into as few messages as fit Discord's length limit, in order. */
export function packLines(lines: string[], limit = DISCORD_MESSAGE_LIMIT): string[] {
  const messages: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.length > limit ? `${raw.slice(0, limit - 1)}…` : raw;
    if (current !== '' && current.length + 1 + line.length > limit) {
      messages.push(current);
      current = '';
    }
    current = current === '' ? line : `${current}\n${line}`;
  }
  if (current !== '') messages.push(current);
  return messages;
}

/** Consecutive lines from the same player become one webhook message. */
export function groupByAuthor(lines: ChatLine[]): ChatLine[] {
  const groups: ChatLine[] = [];
  for (const line of lines) {
    const last = groups[groups.length - 1];
    if (
      last !== undefined &&
      last.name === line.name &&
      last.text.length + 1 + line.text.length <= DISCORD_MESSAGE_LIMIT
    ) {
      last.text = `${last.text}\n${line.text}`;
    } else {
      groups.push({ ...line });
    }
  }
  return groups;
}

/** Webhook usernames must be 1–80 characters and may not contain "discord" or "clyde". */
export function webhookUsername(name: string): string {
  const cleaned = name
    .replace(/discord/gi, 'd1scord')
    .replace(/clyde/gi, 'clyd3')
    .trim()
    .slice(0, 80);
  return cleaned === '' ? 'Player' : cleaned;
}

export { escapeMarkdown };
