/**
 * Text shaping between SAR and Discord. SAR shows one line per message and has no markdown;
 * Discord renders markdown and would ping on @mentions.
 *
 * Everything a player chose (a name, a finish time, chat) reaches Discord through one of these
 * functions: control characters become visible escapes (`printable`, so a newline in a name
 * cannot start a line of its own), and where Discord renders markdown the markdown and the `<…>`
 * mention syntax are escaped too. Pings are stopped separately, by `NO_MENTIONS` on every send.
 */
import { escapeMarkdown, type MessageCreateOptions } from 'discord.js';
import { printable, printableLines } from '../text/printable.js';

export const DISCORD_MESSAGE_LIMIT = 2000;

/** Put on every message, webhook execution and interaction reply: nobody is ever pinged. */
export const NO_MENTIONS = { parse: [] } as const satisfies MessageCreateOptions['allowedMentions'];

export interface ChatLine {
  name: string;
  text: string;
}

/**
 * Untrusted text as one line of literal Discord markdown: `x_Alice_x` stays `x_Alice_x` rather
 * than italics, `**` cannot close a bold name early, `<@id>` shows as typed instead of as a
 * mention, and a newline shows as `\n`.
 */
export function discordText(text: string): string {
  return escapeMarkdown(printable(text), {
    heading: true,
    bulletedList: true,
    numberedList: true,
    maskedLink: true,
  }).replace(/</g, '\\<');
}

/** A player's name in bold, on one line, literal. */
export function boldName(name: string): string {
  return `**${discordText(name)}**`;
}

/**
 * A command's result as a reply. Discord renders markdown: several lines go in a code block
 * (shown as they are, one line each: no ``` inside can end the block), a single line is escaped.
 */
export function replyText(text: string): string {
  if (!text.includes('\n')) {
    const line = discordText(text);
    return line.length <= DISCORD_MESSAGE_LIMIT ? line : `${line.slice(0, DISCORD_MESSAGE_LIMIT - 1)}…`;
  }
  const body = printableLines(text).replace(/```/g, "'''");
  const fits = DISCORD_MESSAGE_LIMIT - 8; // the fences and their newlines
  return `\`\`\`\n${body.length <= fits ? body : `${body.slice(0, fits - 1)}…`}\n\`\`\``;
}

/** A Discord message as SAR will print it: one line, no control characters, bounded length. */
export function discordToSar(author: string, content: string, maxLength: number): string {
  const flat = printable(`[Discord] ${author}: ${content}`.replace(/\s+/g, ' ').trim());
  return flat.length <= maxLength ? flat : `${flat.slice(0, Math.max(0, maxLength - 1))}…`;
}

/**
 * `**name**: text` lines for when the bot cannot post through a webhook. The text keeps its
 * markdown (players use it on purpose) but stays on its line.
 */
export function chatLine(line: ChatLine): string {
  return `${boldName(line.name)}: ${printable(line.text)}`;
}

/** How many of `lines`, from the front, go into the next message, and that message. */
export function nextMessage(
  lines: readonly string[],
  limit = DISCORD_MESSAGE_LIMIT,
): { content: string; count: number } {
  const clamp = (line: string) => (line.length > limit ? `${line.slice(0, limit - 1)}…` : line);
  let content = '';
  let count = 0;
  for (const raw of lines) {
    const line = clamp(raw);
    if (count > 0 && content.length + 1 + line.length > limit) break;
    content = count === 0 ? line : `${content}\n${line}`;
    count++;
  }
  return { content, count };
}

/**
 * The next webhook message: consecutive lines from the same player, each on its own line, and
 * how many chat lines it takes from the front of `lines`.
 */
export function nextGroup(lines: readonly ChatLine[]): { group: ChatLine; count: number } | undefined {
  const first = lines[0];
  if (first === undefined) return undefined;
  let text = printable(first.text).slice(0, DISCORD_MESSAGE_LIMIT);
  let count = 1;
  for (const line of lines.slice(1)) {
    const next = printable(line.text);
    if (line.name !== first.name || text.length + 1 + next.length > DISCORD_MESSAGE_LIMIT) break;
    text = `${text}\n${next}`;
    count++;
  }
  return { group: { name: first.name, text }, count };
}

/**
 * Webhook usernames are plain text (no markdown) of 1–80 characters that may not contain
 * "discord" or "clyde"; shown on one line.
 */
export function webhookUsername(name: string): string {
  const cleaned = printable(name)
    .replace(/discord/gi, 'd1scord')
    .replace(/clyde/gi, 'clyd3')
    .trim()
    .slice(0, 80)
    .trim();
  return cleaned === '' ? 'Player' : cleaned;
}
