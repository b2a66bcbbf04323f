/**
 * What the bot sent that could ping someone: every request that posted or edited a message
 * (channel messages, webhook messages, interaction replies and updates, edits), and among them
 * those whose `allowed_mentions` is not exactly `{ parse: [] }`. The Discord tests check after
 * each test that the bot never sent one.
 */
import type { RecordedRequest } from './server.js';

export interface MessageRequest {
  kind: 'channel message' | 'webhook message' | 'interaction reply' | 'edit';
  request: RecordedRequest;
  /** The message fields: the request body, or an interaction callback's `data`. */
  body: { content?: unknown; allowed_mentions?: unknown };
}

/** Every request that posted or edited a message, whatever the route. */
export function messageRequests(requests: readonly RecordedRequest[]): MessageRequest[] {
  const found: MessageRequest[] = [];
  for (const request of requests) {
    const body = request.body as (MessageRequest['body'] & { type?: unknown; data?: unknown }) | null | undefined;
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) continue;
    const route = `${request.method} ${request.path}`;
    if (/^POST \/interactions\/[^/]+\/[^/]+\/callback$/.test(route)) {
      // 4: a reply, 7: an update; 5 (deferred) and 8 (autocomplete) carry no message.
      if (body.type === 4 || body.type === 7)
        found.push({ kind: 'interaction reply', request, body: body.data as MessageRequest['body'] });
    } else if (/^POST \/channels\/[^/]+\/messages$/.test(route)) {
      found.push({ kind: 'channel message', request, body });
    } else if (/^POST \/webhooks\/[^/]+\/[^/]+$/.test(route)) {
      found.push({ kind: 'webhook message', request, body });
    } else if (/^PATCH \/(?:channels|webhooks)\/.*\/messages\/[^/]+$/.test(route)) {
      found.push({ kind: 'edit', request, body });
    }
  }
  return found;
}

/** The ones whose allowed_mentions is not exactly `{ parse: [] }`, described. */
export function mayPing(requests: readonly MessageRequest[]): string[] {
  return requests
    .filter(({ body }) => JSON.stringify(body.allowed_mentions) !== JSON.stringify({ parse: [] }))
    .map(({ kind, body }) => `${kind} ${JSON.stringify(body.content)}: ${JSON.stringify(body.allowed_mentions)}`);
}
