/**
 * The REST endpoints the emulator answers (paths are relative to `/api/v10`). Unknown routes get
 * a 404 and are flagged `unhandled` in the request log.
 */
import { CallbackType, InteractionType, type InteractionExchange, type InteractionHub } from './interactions.js';
import { ApiError, type Reply, type Route, type RouteRequest, type UploadedFile } from './server.js';
import {
  apiUser,
  Permissions,
  type DmChannel,
  type EmulatorState,
  type JsonObject,
  type StoredMessage,
} from './state.js';

export type MessageEvent = 'MESSAGE_CREATE' | 'MESSAGE_UPDATE' | 'MESSAGE_DELETE';

export interface RouteContext {
  state: EmulatorState;
  hub: InteractionHub;
  gatewayUrl(): string;
  /** Tells the gateway about a message (MESSAGE_CREATE etc.), unless it is ephemeral. */
  publish(event: MessageEvent, message: StoredMessage): void;
}

const EPHEMERAL = 64;
const ok = (body: unknown): Reply => ({ status: 200, body });
const noContent: Reply = { status: 204 };

function objectBody(request: RouteRequest): JsonObject {
  const body = request.body;
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 50035, 'Invalid Form Body');
  }
  return body as JsonObject;
}

function arrayBody(request: RouteRequest): JsonObject[] {
  if (!Array.isArray(request.body)) throw new ApiError(400, 50035, 'Invalid Form Body');
  return request.body as JsonObject[];
}

function formError(field: string, code: string, message: string): ApiError {
  return new ApiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code, message }] } });
}

interface MessageFields {
  content: string;
  embeds: unknown[];
  flags: number;
  allowedMentions: unknown;
  components: unknown[];
  nonce: unknown;
  messageReference: unknown;
  attachments: JsonObject[];
}

const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
  total: 6000,
};

/** Checks embeds against Discord's limits (per field and 6000 characters in all), as Discord does. */
function validateEmbeds(embeds: unknown[]): void {
  if (embeds.length > 10) throw formError('embeds', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let total = 0;
  embeds.forEach((raw, index) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw formError(`embeds.${index}`, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    }
    const embed = raw as JsonObject;
    const text = (value: unknown, field: string, max: number): void => {
      if (value === undefined || value === null) return;
      if (typeof value !== 'string')
        throw formError(`embeds.${index}.${field}`, 'BASE_TYPE_STRING', 'Must be a string.');
      if (value.length > max) {
        throw formError(`embeds.${index}.${field}`, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
      }
      total += value.length;
    };
    text(embed.title, 'title', EMBED_LIMITS.title);
    text(embed.description, 'description', EMBED_LIMITS.description);
    text((embed.footer as JsonObject | undefined)?.text, 'footer.text', EMBED_LIMITS.footer);
    text((embed.author as JsonObject | undefined)?.name, 'author.name', EMBED_LIMITS.author);
    const fields = Array.isArray(embed.fields) ? (embed.fields as JsonObject[]) : [];
    if (fields.length > EMBED_LIMITS.fields) {
      throw formError(`embeds.${index}.fields`, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    }
    fields.forEach((field, f) => {
      text(field.name, `fields.${f}.name`, EMBED_LIMITS.fieldName);
      text(field.value, `fields.${f}.value`, EMBED_LIMITS.fieldValue);
    });
    if (embed.color !== undefined && embed.color !== null) {
      const color = embed.color;
      if (typeof color !== 'number' || !Number.isInteger(color) || color < 0 || color > 0xffffff) {
        throw formError(`embeds.${index}.color`, 'NUMBER_TYPE_MAX', 'int value should be <= 16777215 and >= 0.');
      }
    }
    if (embed.timestamp !== undefined && embed.timestamp !== null) {
      if (typeof embed.timestamp !== 'string' || Number.isNaN(Date.parse(embed.timestamp))) {
        throw formError(`embeds.${index}.timestamp`, 'DATE_TIME_TYPE_PARSE', 'Could not parse the timestamp.');
      }
    }
  });
  if (total > EMBED_LIMITS.total) {
    throw formError('embeds', 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  }
}

/** Validates the fields an edit changes (content length, embeds), as Discord does. */
function validateEdit(body: JsonObject): void {
  if (typeof body.content === 'string' && body.content.length > 2000) {
    throw formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  }
  if (Array.isArray(body.embeds)) validateEmbeds(body.embeds);
}

/** Validates a message body the way Discord does (length, emptiness) and extracts its fields. */
function messageFields(
  state: EmulatorState,
  body: JsonObject,
  files: UploadedFile[],
  channelId: string,
): MessageFields {
  const content = typeof body.content === 'string' ? body.content : '';
  if (content.length > 2000) throw formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  const embeds = Array.isArray(body.embeds) ? body.embeds : [];
  validateEmbeds(embeds);
  const components = Array.isArray(body.components) ? body.components : [];
  const hasSticker = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
  if (
    content.trim() === '' &&
    embeds.length === 0 &&
    files.length === 0 &&
    components.length === 0 &&
    !hasSticker &&
    body.poll === undefined
  ) {
    throw new ApiError(400, 50006, 'Cannot send an empty message');
  }
  const attachments = files.map((file) => {
    const id = state.ids.next();
    return {
      id,
      filename: file.name,
      size: file.size,
      content_type: file.contentType,
      url: `https://cdn.discordapp.com/attachments/${channelId}/${id}/${file.name}`,
      proxy_url: `https://media.discordapp.net/attachments/${channelId}/${id}/${file.name}`,
    };
  });
  return {
    content,
    embeds,
    flags: typeof body.flags === 'number' ? body.flags : 0,
    allowedMentions: body.allowed_mentions,
    components,
    nonce: body.nonce,
    messageReference: body.message_reference,
    attachments,
  };
}

export function buildRoutes(ctx: RouteContext): Route[] {
  const { state, hub } = ctx;

  const channelOr404 = (id: string) => {
    const channel = state.channels.get(id);
    if (channel === undefined) throw new ApiError(404, 10003, 'Unknown Channel');
    if (!state.botCan(Permissions.ViewChannel, id)) throw new ApiError(403, 50001, 'Missing Access');
    return channel;
  };
  /** A channel messages live in: a guild channel the bot can see (as channelOr404), or one of its DMs. */
  const messageChannelOr404 = (id: string): { id: string; dm?: DmChannel } => {
    const dm = state.dmChannels.get(id);
    return dm !== undefined ? { id, dm } : channelOr404(id);
  };
  const guildOr404 = (id: string | undefined) => {
    if (id !== state.guildId) throw new ApiError(404, 10004, 'Unknown Guild');
  };
  const appOr404 = (id: string | undefined) => {
    if (id !== state.applicationId) throw new ApiError(404, 10002, 'Unknown Application');
  };
  const needsManageWebhooks = (channelId?: string) => {
    if (!state.botCan(Permissions.ManageWebhooks, channelId)) throw new ApiError(403, 50013, 'Missing Permissions');
  };
  const messageOr404 = (channelId: string, messageId: string) => {
    const message = state.findMessage(channelId, messageId);
    if (message === undefined) throw new ApiError(404, 10008, 'Unknown Message');
    return message;
  };
  const application = () => ({
    id: state.applicationId,
    name: state.bot.username,
    icon: null,
    description: '',
    bot_public: false,
    bot_require_code_grant: false,
    verify_key: '0'.repeat(64),
    flags: 0,
    owner: apiUser({ id: state.ownerId, username: 'owner' }),
    team: null,
    bot: apiUser(state.bot),
    approximate_guild_count: 1,
  });
  const commandRoutes = (base: string, scopeOf: (params: Record<string, string>) => string): Route[] => {
    const checkScope = (params: Record<string, string>): string => {
      appOr404(params.appId);
      const scope = scopeOf(params);
      if (scope !== 'global' && scope !== state.guildId) throw new ApiError(403, 50001, 'Missing Access');
      return scope;
    };
    const commandOr404 = (scope: string, id: string | undefined) => {
      const command = state.commandsIn(scope).find((c) => c.id === id);
      if (command === undefined) throw new ApiError(404, 10063, 'Unknown application command');
      return command;
    };
    return [
      {
        method: 'GET',
        path: base,
        auth: true,
        handle: ({ params }) => ok(state.commandsIn(checkScope(params)).map((c) => c.raw)),
      },
      {
        method: 'PUT',
        path: base,
        auth: true,
        handle: (request) => {
          const scope = checkScope(request.params);
          return ok(state.overwriteCommands(scope, arrayBody(request)).map((c) => c.raw));
        },
      },
      {
        method: 'POST',
        path: base,
        auth: true,
        handle: (request) => {
          const scope = checkScope(request.params);
          const existed = state.commandsIn(scope).some((c) => c.raw.name === objectBody(request).name);
          const command = state.upsertCommand(scope, objectBody(request));
          return { status: existed ? 200 : 201, body: command.raw };
        },
      },
      {
        method: 'GET',
        path: `${base}/:commandId`,
        auth: true,
        handle: ({ params }) => ok(commandOr404(checkScope(params), params.commandId).raw),
      },
      {
        method: 'PATCH',
        path: `${base}/:commandId`,
        auth: true,
        handle: (request) => {
          const scope = checkScope(request.params);
          const command = commandOr404(scope, request.params.commandId);
          const updated = state.upsertCommand(scope, { ...command.raw, ...objectBody(request) });
          return ok(updated.raw);
        },
      },
      {
        method: 'DELETE',
        path: `${base}/:commandId`,
        auth: true,
        handle: ({ params }) => {
          const command = commandOr404(checkScope(params), params.commandId);
          state.commands.splice(state.commands.indexOf(command), 1);
          return noContent;
        },
      },
    ];
  };

  /** POST /webhooks/:appId/:token for an interaction: a follow-up (or the deferred original). */
  const interactionFollowUp = (exchange: InteractionExchange, request: RouteRequest): Reply => {
    if (exchange.callback === undefined) throw new ApiError(404, 10015, 'Unknown Webhook');
    const body = objectBody(request);
    const fields = messageFields(state, body, request.files, exchange.channelId);
    const becomesOriginal = exchange.deferred && exchange.original === undefined;
    const flags = becomesOriginal
      ? (((exchange.callback.body.data as JsonObject | undefined)?.flags as number | undefined) ?? 0)
      : fields.flags;
    const message = state.createMessage({
      channelId: exchange.channelId,
      source: 'interaction',
      author: state.bot,
      ...fields,
      flags,
      webhookId: state.applicationId,
      type: becomesOriginal ? 20 : 0,
      interactionId: exchange.id,
      interactionUser: exchange.user,
      requestBody: body,
    });
    if (becomesOriginal) exchange.original = message;
    else exchange.followUps.push(message);
    exchange.record({ kind: 'followup', messageId: message.id, body });
    ctx.publish('MESSAGE_CREATE', message);
    return request.query.get('wait') === 'false' ? noContent : ok(message.raw);
  };

  const interactionMessage = (exchange: InteractionExchange, messageId: string): StoredMessage | undefined =>
    messageId === '@original'
      ? exchange.original?.deleted === false
        ? exchange.original
        : undefined
      : exchange.followUps.find((m) => m.id === messageId && !m.deleted);

  const webhookOr404 = (id: string | undefined, token?: string) => {
    const webhook = id === undefined ? undefined : state.webhooks.get(id);
    if (webhook === undefined) throw new ApiError(404, 10015, 'Unknown Webhook');
    if (token !== undefined && token !== webhook.token) throw new ApiError(401, 50027, 'Invalid Webhook Token');
    return webhook;
  };

  return [
    {
      method: 'GET',
      path: '/gateway',
      auth: false,
      handle: () => ok({ url: ctx.gatewayUrl() }),
    },
    {
      method: 'GET',
      path: '/gateway/bot',
      auth: true,
      handle: () =>
        ok({
          url: ctx.gatewayUrl(),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        }),
    },
    {
      method: 'GET',
      path: '/users/@me',
      auth: true,
      handle: () => ok({ ...apiUser(state.bot), verified: true, mfa_enabled: false, flags: 0 }),
    },
    {
      method: 'POST',
      path: '/users/@me/channels',
      auth: true,
      handle: (request) => {
        // Opening a DM works for any user who shares the guild, whatever their DM settings;
        // sending is what fails when they are closed.
        const recipient = objectBody(request).recipient_id;
        const member = typeof recipient === 'string' ? state.members.get(recipient) : undefined;
        if (member === undefined || member.user.bot) throw new ApiError(400, 50033, 'Invalid Recipient(s)');
        return ok(state.apiDmChannel(state.dmChannelWith(member.user.id)));
      },
    },
    {
      method: 'GET',
      path: '/users/:userId',
      auth: true,
      handle: ({ params }) => {
        const member = state.members.get(params.userId ?? '');
        if (member === undefined) throw new ApiError(404, 10013, 'Unknown User');
        return ok(apiUser(member.user));
      },
    },
    { method: 'GET', path: '/applications/@me', auth: true, handle: () => ok(application()) },
    { method: 'GET', path: '/oauth2/applications/@me', auth: true, handle: () => ok(application()) },
    ...commandRoutes('/applications/:appId/commands', () => 'global'),
    ...commandRoutes('/applications/:appId/guilds/:guildId/commands', (params) => params.guildId ?? ''),
    {
      method: 'GET',
      path: '/guilds/:guildId',
      auth: true,
      handle: ({ params }) => {
        guildOr404(params.guildId);
        return ok(state.apiGuild());
      },
    },
    {
      method: 'GET',
      path: '/guilds/:guildId/channels',
      auth: true,
      handle: ({ params }) => {
        guildOr404(params.guildId);
        return ok([...state.channels.values()].map((c) => state.apiChannel(c)));
      },
    },
    {
      method: 'GET',
      path: '/guilds/:guildId/roles',
      auth: true,
      handle: ({ params }) => {
        guildOr404(params.guildId);
        return ok([...state.roles.values()].map((r) => state.apiRole(r)));
      },
    },
    {
      method: 'GET',
      path: '/guilds/:guildId/members',
      auth: true,
      handle: ({ params, query }) => {
        guildOr404(params.guildId);
        const limit = Math.min(Math.max(Number(query.get('limit') ?? '1') || 1, 1), 1000);
        const after = BigInt(query.get('after') ?? '0');
        const members = [...state.members.values()]
          .filter((m) => BigInt(m.user.id) > after)
          .sort((a, b) => (BigInt(a.user.id) < BigInt(b.user.id) ? -1 : 1))
          .slice(0, limit);
        return ok(members.map((m) => state.apiMember(m)));
      },
    },
    {
      method: 'GET',
      path: '/guilds/:guildId/members/:userId',
      auth: true,
      handle: ({ params }) => {
        guildOr404(params.guildId);
        const member = state.members.get(params.userId ?? '');
        if (member === undefined) throw new ApiError(404, 10007, 'Unknown Member');
        return ok(state.apiMember(member));
      },
    },
    {
      method: 'GET',
      path: '/guilds/:guildId/webhooks',
      auth: true,
      handle: ({ params }) => {
        guildOr404(params.guildId);
        needsManageWebhooks();
        return ok([...state.webhooks.values()].map((w) => w.raw));
      },
    },
    {
      method: 'GET',
      path: '/channels/:channelId',
      auth: true,
      handle: ({ params }) => {
        const dm = state.dmChannels.get(params.channelId ?? '');
        return ok(dm !== undefined ? state.apiDmChannel(dm) : state.apiChannel(channelOr404(params.channelId ?? '')));
      },
    },
    {
      method: 'POST',
      path: '/channels/:channelId/typing',
      auth: true,
      handle: ({ params }) => {
        messageChannelOr404(params.channelId ?? '');
        return noContent;
      },
    },
    {
      method: 'GET',
      path: '/channels/:channelId/messages',
      auth: true,
      handle: ({ params, query }) => {
        const channel = messageChannelOr404(params.channelId ?? '');
        if (channel.dm === undefined && !state.botCan(Permissions.ReadMessageHistory, channel.id)) return ok([]);
        const limit = Math.min(Math.max(Number(query.get('limit') ?? '50') || 50, 1), 100);
        const before = query.get('before');
        const after = query.get('after');
        const list = state.messages
          .filter((m) => m.channelId === channel.id && !m.deleted && (m.flags & EPHEMERAL) === 0)
          .filter((m) => before === null || BigInt(m.id) < BigInt(before))
          .filter((m) => after === null || BigInt(m.id) > BigInt(after))
          .reverse()
          .slice(0, limit);
        return ok(list.map((m) => m.raw));
      },
    },
    {
      method: 'GET',
      path: '/channels/:channelId/messages/:messageId',
      auth: true,
      handle: ({ params }) =>
        ok(messageOr404(messageChannelOr404(params.channelId ?? '').id, params.messageId ?? '').raw),
    },
    {
      method: 'POST',
      path: '/channels/:channelId/messages',
      auth: true,
      handle: (request) => {
        const channel = messageChannelOr404(request.params.channelId ?? '');
        if (channel.dm !== undefined) {
          if (state.members.get(channel.dm.recipientId)?.dmsClosed !== false) {
            throw new ApiError(403, 50007, 'Cannot send messages to this user');
          }
        } else if (!state.botCan(Permissions.SendMessages, channel.id)) {
          throw new ApiError(403, 50013, 'Missing Permissions');
        }
        const body = objectBody(request);
        const fields = messageFields(state, body, request.files, channel.id);
        const message = state.createMessage({
          channelId: channel.id,
          source: 'bot',
          author: state.bot,
          ...fields,
          type: fields.messageReference !== undefined ? 19 : 0,
          requestBody: body,
        });
        ctx.publish('MESSAGE_CREATE', message);
        return ok(message.raw);
      },
    },
    {
      method: 'PATCH',
      path: '/channels/:channelId/messages/:messageId',
      auth: true,
      handle: (request) => {
        const message = messageOr404(
          messageChannelOr404(request.params.channelId ?? '').id,
          request.params.messageId ?? '',
        );
        if (message.authorId !== state.bot.id || message.webhookId !== null) {
          throw new ApiError(403, 50005, 'Cannot edit a message authored by another user');
        }
        const body = objectBody(request);
        validateEdit(body);
        state.editMessage(message, body);
        ctx.publish('MESSAGE_UPDATE', message);
        return ok(message.raw);
      },
    },
    {
      method: 'DELETE',
      path: '/channels/:channelId/messages/:messageId',
      auth: true,
      handle: ({ params }) => {
        const message = messageOr404(messageChannelOr404(params.channelId ?? '').id, params.messageId ?? '');
        message.deleted = true;
        ctx.publish('MESSAGE_DELETE', message);
        return noContent;
      },
    },
    {
      method: 'GET',
      path: '/channels/:channelId/webhooks',
      auth: true,
      handle: ({ params }) => {
        const channel = channelOr404(params.channelId ?? '');
        needsManageWebhooks(channel.id);
        return ok([...state.webhooks.values()].filter((w) => w.channelId === channel.id).map((w) => w.raw));
      },
    },
    {
      method: 'POST',
      path: '/channels/:channelId/webhooks',
      auth: true,
      handle: (request) => {
        const channel = channelOr404(request.params.channelId ?? '');
        needsManageWebhooks(channel.id);
        const name = objectBody(request).name;
        if (typeof name !== 'string' || name.length < 1 || name.length > 80) {
          throw formError('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 80 in length.');
        }
        if (/clyde|discord/i.test(name))
          throw formError('name', 'USERNAME_INVALID_CONTAINS', 'Username cannot contain "discord"');
        return ok(state.createWebhook(channel.id, name).raw);
      },
    },
    {
      method: 'GET',
      path: '/webhooks/:webhookId',
      auth: true,
      handle: ({ params }) => {
        const webhook = webhookOr404(params.webhookId);
        needsManageWebhooks(webhook.channelId);
        return ok(webhook.raw);
      },
    },
    {
      method: 'DELETE',
      path: '/webhooks/:webhookId',
      auth: true,
      handle: ({ params }) => {
        const webhook = webhookOr404(params.webhookId);
        needsManageWebhooks(webhook.channelId);
        state.webhooks.delete(webhook.id);
        return noContent;
      },
    },
    {
      method: 'GET',
      path: '/webhooks/:webhookId/:token',
      auth: false,
      handle: ({ params }) => {
        const { user: _user, ...rest } = webhookOr404(params.webhookId, params.token).raw;
        return ok(rest);
      },
    },
    {
      method: 'POST',
      path: '/webhooks/:webhookId/:token',
      auth: false,
      handle: (request) => {
        const { webhookId, token } = request.params;
        const exchange = hub.byToken(token ?? '');
        if (exchange !== undefined && webhookId === state.applicationId) return interactionFollowUp(exchange, request);
        const webhook = webhookOr404(webhookId, token);
        const body = objectBody(request);
        const fields = messageFields(state, body, request.files, webhook.channelId);
        const username = typeof body.username === 'string' ? body.username : webhook.name;
        if (username.length < 1 || username.length > 80) {
          throw formError('username', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 80 in length.');
        }
        if (/clyde|discord/i.test(username)) {
          throw formError('username', 'USERNAME_INVALID_CONTAINS', 'Username cannot contain "discord"');
        }
        const message = state.createMessage({
          channelId: webhook.channelId,
          source: 'webhook',
          author: { id: webhook.id, username, bot: true },
          ...fields,
          webhookId: webhook.id,
          requestBody: body,
        });
        ctx.publish('MESSAGE_CREATE', message);
        return request.query.get('wait') === 'true' ? ok(message.raw) : noContent;
      },
    },
    {
      method: 'GET',
      path: '/webhooks/:webhookId/:token/messages/:messageId',
      auth: false,
      handle: ({ params }) => {
        const exchange = hub.byToken(params.token ?? '');
        if (exchange !== undefined && params.webhookId === state.applicationId) {
          const message = interactionMessage(exchange, params.messageId ?? '');
          if (message === undefined) throw new ApiError(404, 10008, 'Unknown Message');
          return ok(message.raw);
        }
        const webhook = webhookOr404(params.webhookId, params.token);
        const message = state.findMessage(webhook.channelId, params.messageId ?? '');
        if (message === undefined || message.webhookId !== webhook.id)
          throw new ApiError(404, 10008, 'Unknown Message');
        return ok(message.raw);
      },
    },
    {
      method: 'PATCH',
      path: '/webhooks/:webhookId/:token/messages/:messageId',
      auth: false,
      handle: (request) => {
        const { webhookId, token, messageId } = request.params;
        const body = objectBody(request);
        const exchange = hub.byToken(token ?? '');
        if (exchange !== undefined && webhookId === state.applicationId) {
          let message = interactionMessage(exchange, messageId ?? '');
          if (
            message === undefined &&
            messageId === '@original' &&
            exchange.deferred &&
            exchange.original === undefined
          ) {
            // The first edit of a deferred reply fills in the "thinking…" message.
            const data = exchange.callback?.body.data as JsonObject | undefined;
            const fields = messageFields(state, body, request.files, exchange.channelId);
            message = state.createMessage({
              channelId: exchange.channelId,
              source: 'interaction',
              author: state.bot,
              ...fields,
              flags: typeof data?.flags === 'number' ? data.flags : 0,
              webhookId: state.applicationId,
              type: 20,
              interactionId: exchange.id,
              interactionUser: exchange.user,
              requestBody: body,
            });
            exchange.original = message;
            exchange.record({ kind: 'edit', messageId: message.id, body });
            ctx.publish('MESSAGE_CREATE', message);
            return ok(message.raw);
          }
          if (message === undefined) throw new ApiError(404, 10008, 'Unknown Message');
          validateEdit(body);
          state.editMessage(message, body);
          exchange.record({ kind: 'edit', messageId: message.id, body });
          ctx.publish('MESSAGE_UPDATE', message);
          return ok(message.raw);
        }
        const webhook = webhookOr404(webhookId, token);
        const message = state.findMessage(webhook.channelId, messageId ?? '');
        if (message === undefined || message.webhookId !== webhook.id)
          throw new ApiError(404, 10008, 'Unknown Message');
        validateEdit(body);
        state.editMessage(message, body);
        ctx.publish('MESSAGE_UPDATE', message);
        return ok(message.raw);
      },
    },
    {
      method: 'DELETE',
      path: '/webhooks/:webhookId/:token/messages/:messageId',
      auth: false,
      handle: ({ params }) => {
        const exchange = hub.byToken(params.token ?? '');
        let message: StoredMessage | undefined;
        if (exchange !== undefined && params.webhookId === state.applicationId) {
          message = interactionMessage(exchange, params.messageId ?? '');
          if (message !== undefined) exchange.record({ kind: 'delete', messageId: message.id, body: {} });
        } else {
          const webhook = webhookOr404(params.webhookId, params.token);
          message = state.findMessage(webhook.channelId, params.messageId ?? '');
          if (message?.webhookId !== webhook.id) message = undefined;
        }
        if (message === undefined) throw new ApiError(404, 10008, 'Unknown Message');
        message.deleted = true;
        ctx.publish('MESSAGE_DELETE', message);
        return noContent;
      },
    },
    {
      method: 'POST',
      path: '/interactions/:interactionId/:token/callback',
      auth: false,
      handle: (request) => {
        const exchange = hub.byId(request.params.interactionId ?? '');
        if (exchange === undefined || exchange.token !== request.params.token) {
          throw new ApiError(404, 10062, 'Unknown interaction');
        }
        if (exchange.callback !== undefined)
          throw new ApiError(400, 40060, 'Interaction has already been acknowledged.');
        const body = objectBody(request);
        const type = typeof body.type === 'number' ? body.type : -1;
        const data = (body.data ?? {}) as JsonObject;
        let message: StoredMessage | undefined;
        const updates = type === CallbackType.UpdateMessage || type === CallbackType.DeferredUpdateMessage;
        if (updates && (exchange.payload.type !== InteractionType.MessageComponent || exchange.message === undefined)) {
          // Only a component's message can be updated in place.
          throw new ApiError(400, 40004, 'Interaction callback type is not valid for this interaction type');
        }
        if (updates) {
          // The clicked message becomes @original: UPDATE_MESSAGE edits it now, a deferred update later.
          const clicked = exchange.message!;
          if (clicked.deleted) throw new ApiError(404, 10008, 'Unknown Message');
          exchange.original = clicked;
          if (type === CallbackType.UpdateMessage) {
            validateEdit(data);
            state.editMessage(clicked, data);
          }
        } else if (type === CallbackType.ChannelMessageWithSource) {
          const fields = messageFields(state, data, request.files, exchange.channelId);
          message = state.createMessage({
            channelId: exchange.channelId,
            source: 'interaction',
            author: state.bot,
            ...fields,
            webhookId: state.applicationId,
            type: 20,
            interactionId: exchange.id,
            interactionUser: exchange.user,
            requestBody: body,
          });
          exchange.original = message;
        } else if (
          type !== CallbackType.DeferredChannelMessageWithSource &&
          type !== CallbackType.ApplicationCommandAutocompleteResult &&
          type !== CallbackType.Modal &&
          type !== CallbackType.DeferredUpdateMessage &&
          type !== CallbackType.UpdateMessage &&
          type !== CallbackType.Pong
        ) {
          throw formError(
            'type',
            'BASE_TYPE_CHOICES',
            `Value must be one of the interaction callback types (got ${type}).`,
          );
        }
        exchange.record({ kind: 'callback', type, ...(message ? { messageId: message.id } : {}), body });
        if (message !== undefined) ctx.publish('MESSAGE_CREATE', message);
        if (type === CallbackType.UpdateMessage) ctx.publish('MESSAGE_UPDATE', exchange.message!);
        if (request.query.get('with_response') !== 'true') return noContent;
        const flags = typeof data.flags === 'number' ? data.flags : 0;
        const shown = message ?? (type === CallbackType.UpdateMessage ? exchange.message : undefined);
        return ok({
          interaction: {
            id: exchange.id,
            type: exchange.payload.type,
            activity_instance_id: null,
            response_message_id: shown?.id ?? null,
            response_message_loading: type === CallbackType.DeferredChannelMessageWithSource,
            response_message_ephemeral: (flags & EPHEMERAL) !== 0,
          },
          resource: { type, ...(shown ? { message: shown.raw } : {}) },
        });
      },
    },
  ];
}
