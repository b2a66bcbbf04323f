/**
 * The path of a chat message once it passed its sender's rate limit: the chat filters (chat
 * commands, then plugins' `beforeChat`), then the relay to everyone else.
 *
 * Filters may be slow, so a client's messages wait for them in a queue of their own, one after
 * another (they stay in order). That queue is bounded: a filter that hangs until its timeout must
 * not let one sender pile up messages without end. Filters fail closed: one that throws or
 * answers something that is not a valid verdict drops the message, and nothing a filter returns
 * can reach the packet encoder unchecked.
 */
import type { ClientInfo, EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { Broadcaster } from './broadcaster.js';
import type { GhostClient } from './client.js';
import { encodeServerPacket } from './protocol/packets.js';

/** What a chat filter decides: relay as is, relay other text, or drop (e.g. a chat command). */
export type ChatVerdict = { action: 'allow' } | { action: 'rewrite'; text: string } | { action: 'drop' };

/**
 * Looks at a chat message before it is relayed. Filters run in the order they were added; the
 * first that rewrites changes the text the later ones see, the first that drops ends it.
 */
export type ChatFilter = (client: ClientInfo, text: string) => ChatVerdict | Promise<ChatVerdict>;

/**
 * Messages of one client waiting for the filters; past this, new ones are dropped. Above the chat
 * rate limit's default, so a burst a filter handles at once is never cut.
 */
export const MAX_PENDING_CHAT = 20;
/** Longest text a filter may rewrite a message to, in characters. */
export const MAX_REWRITTEN_CHAT_LENGTH = 1024;

export interface ChatDeps {
  broadcaster: Broadcaster;
  /** Whether the client is still joined (it may leave while its message is filtered). */
  isJoined(client: GhostClient): boolean;
  reportViolation(client: GhostClient, kind: string, detail: string): void;
  log: Logger;
  bus: EventBus;
}

export class ChatPipeline {
  private readonly filters: ChatFilter[] = [];

  constructor(private readonly deps: ChatDeps) {}

  addFilter(filter: ChatFilter): void {
    this.filters.push(filter);
  }

  handle(client: GhostClient, text: string, payload: Buffer): void {
    if (this.filters.length === 0) {
      this.relay(client, text, payload);
      return;
    }
    if (client.chatPending >= MAX_PENDING_CHAT) {
      this.deps.reportViolation(
        client,
        'chat_queue_full',
        `more than ${MAX_PENDING_CHAT} chat messages waiting for the chat filters; extra ones dropped`,
      );
      return;
    }
    client.chatPending++;
    client.chatQueue = client.chatQueue
      .then(() => this.filterAndRelay(client, text, payload))
      .catch((error: unknown) => this.deps.log.error({ err: error, id: client.id }, 'chat message dropped'))
      .finally(() => client.chatPending--);
  }

  private async filterAndRelay(client: GhostClient, text: string, payload: Buffer): Promise<void> {
    let current = text;
    for (const filter of this.filters) {
      let verdict: unknown;
      try {
        verdict = await filter(client.info(), current);
      } catch (error) {
        this.deps.log.error({ err: error, id: client.id }, 'chat filter failed; message dropped');
        return;
      }
      const checked = readVerdict(verdict);
      if (typeof checked === 'string') {
        this.deps.log.error({ id: client.id, verdict: describe(verdict) }, `chat filter ${checked}; message dropped`);
        return;
      }
      if (checked.action === 'drop') return;
      if (checked.action === 'rewrite') current = checked.text;
    }
    if (!this.deps.isJoined(client)) return;
    const relayed = current === text ? payload : encodeServerPacket({ type: 'message', id: client.id, text: current });
    this.relay(client, current, relayed);
  }

  private relay(client: GhostClient, text: string, payload: Buffer): void {
    this.deps.log.info({ id: client.id, player: client.name, text }, 'chat');
    this.deps.broadcaster.toOthers(client, payload);
    this.deps.bus.emit('clientMessage', { client: client.info(), text });
  }
}

/** A valid verdict, or what is wrong with it. */
function readVerdict(verdict: unknown): ChatVerdict | string {
  if (typeof verdict !== 'object' || verdict === null) return 'answered no verdict';
  const { action, text } = verdict as { action?: unknown; text?: unknown };
  if (action === 'allow' || action === 'drop') return { action };
  if (action !== 'rewrite') return 'answered an unknown action';
  if (typeof text !== 'string') return 'rewrote a message without a text';
  if (text.length > MAX_REWRITTEN_CHAT_LENGTH)
    return `rewrote a message to over ${MAX_REWRITTEN_CHAT_LENGTH} characters`;
  return { action, text };
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    return String(value);
  }
}
