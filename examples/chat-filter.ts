/**
 * Keeps the in-game chat clean with a `beforeChat` hook. A message containing a blocked phrase
 * (invite links, scams) is not relayed at all, and its sender is told why; words on the masked
 * list are replaced by asterisks ("darn it" → "**** it") and the rest of the message goes through.
 * Matching ignores case; masked words match whole words only. Edit the two lists to taste.
 *
 * Enable it in config.toml:  [plugins] modules = ["./examples/chat-filter.ts"]
 */
import { Plugin, type ChatDecision, type IClient, type PluginHooks } from 'ghosting';

const BLOCKED = ['discord.gg/', 'free nitro'];
const MASKED = ['darn', 'heck'];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const maskedWords = new RegExp(`\\b(?:${MASKED.map(escape).join('|')})\\b`, 'gi');

export class ChatFilterPlugin extends Plugin implements PluginHooks {
  override name = 'Chat Filter';
  override version = '1.0.0';
  override authors = ['ghosting'];
  override license = 'MIT';

  async beforeChat(client: IClient, text: string): Promise<ChatDecision> {
    const lower = text.toLowerCase();
    const blocked = BLOCKED.find((phrase) => lower.includes(phrase));
    if (blocked !== undefined) {
      this.log.info({ player: client.name, text }, 'chat message dropped');
      await this.respondToClient(client, `Your message was not sent: "${blocked}" is not allowed here.`);
      return { action: 'drop' };
    }
    const masked = text.replace(maskedWords, (word) => '*'.repeat(word.length));
    return masked === text ? { action: 'allow' } : { action: 'rewrite', text: masked };
  }
}
