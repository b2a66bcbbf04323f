/**
 * The management API: the operations a hosting panel needs (players, settings, countdown,
 * server message, ban, disconnect, whitelist), as JSON over HTTP. Every change goes through the
 * same command registry as the console and Discord, so it is validated, logged and audited the
 * same way (source "http").
 */
import type { OperationsTarget } from './target.js';
import type { ArgumentValues, CommandResult, Invoker } from '../commands/registry.js';

export const HTTP_INVOKER: Invoker = { source: 'http', name: 'http', permission: 'admin' };

/** A failure that becomes a JSON error response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiRequest {
  body: Record<string, unknown>;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export type ApiHandler = (app: OperationsTarget, request: ApiRequest) => Promise<ApiResponse>;

/** Runs a registry command; a failed command is a 400 with its message. */
async function run(app: OperationsTarget, name: string, args: ArgumentValues = {}): Promise<CommandResult> {
  const result = await app.commands.run(name, args, HTTP_INVOKER);
  if (!result.ok) throw new HttpError(400, result.text);
  return result;
}

function text(body: Record<string, unknown>, key: string, required = true): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) throw new HttpError(400, `missing "${key}"`);
    return undefined;
  }
  if (typeof value !== 'string' && typeof value !== 'number') throw new HttpError(400, `"${key}" must be a string`);
  return String(value);
}

function flag(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new HttpError(400, `"${key}" must be true or false`);
  return value;
}

/** Which of id / name / ip the request names (exactly one). */
function target(body: Record<string, unknown>): { by: 'id' | 'name' | 'ip'; value: string } {
  const given = (['id', 'name', 'ip'] as const).filter((key) => body[key] !== undefined);
  if (given.length !== 1) throw new HttpError(400, 'give exactly one of "id", "name" or "ip"');
  return { by: given[0]!, value: text(body, given[0]!)! };
}

function settings(app: OperationsTarget) {
  return {
    countdown: {
      duration: app.countdown.delay,
      preCommands: app.countdown.preCommands,
      postCommands: app.countdown.postCommands,
    },
    acceptingPlayers: app.server.acceptingPlayers,
    acceptingSpectators: app.server.acceptingSpectators,
    whitelistEnabled: app.store.whitelist.isEnabled(),
  };
}

export const routes: Record<string, ApiHandler> = {
  'GET /api/players': async (app) => ({ status: 200, body: { players: app.server.listClients() } }),

  'GET /api/settings': async (app) => ({ status: 200, body: settings(app) }),

  'PATCH /api/settings': async (app, { body }) => {
    const countdown = (body.countdown ?? {}) as Record<string, unknown>;
    if (typeof countdown !== 'object') throw new HttpError(400, '"countdown" must be an object');
    const duration = countdown.duration;
    if (duration !== undefined) await run(app, 'countdown_set', { seconds: text(countdown, 'duration')! });
    if (countdown.preCommands !== undefined)
      await run(app, 'countdown pre', { commands: text(countdown, 'preCommands')! });
    if (countdown.postCommands !== undefined)
      await run(app, 'countdown post', { commands: text(countdown, 'postCommands')! });
    const players = flag(body, 'acceptingPlayers');
    if (players !== undefined) await run(app, players ? 'accept' : 'refuse', { who: 'players' });
    const spectators = flag(body, 'acceptingSpectators');
    if (spectators !== undefined) await run(app, spectators ? 'accept' : 'refuse', { who: 'spectators' });
    const whitelist = flag(body, 'whitelistEnabled');
    if (whitelist !== undefined) await run(app, whitelist ? 'whitelist on' : 'whitelist off');
    return { status: 200, body: settings(app) };
  },

  'POST /api/countdown': async (app, { body }) => {
    const args: ArgumentValues = {};
    const duration = text(body, 'duration', false);
    if (duration !== undefined) args['seconds or preset'] = duration;
    const pre = text(body, 'preCommands', false);
    if (pre !== undefined) args.pre = pre;
    const post = text(body, 'postCommands', false);
    if (post !== undefined) args.post = post;
    const result = await run(app, 'countdown start', args);
    return { status: 200, body: { message: result.text, countdown: result.data } };
  },

  'POST /api/message': async (app, { body }) => {
    const result = await run(app, 'say', { message: text(body, 'text')! });
    return { status: 200, body: { message: result.text } };
  },

  'POST /api/ban': async (app, { body }) => {
    const { by, value } = target(body);
    const reason = text(body, 'reason', false);
    const result = await run(app, `ban ${by}`, { [by]: value, ...(reason !== undefined ? { reason } : {}) });
    return { status: 200, body: { message: result.text, ...(result.data as object) } };
  },

  'GET /api/bans': async (app) => ({ status: 200, body: { bans: app.store.bans.list() } }),

  'DELETE /api/bans': async (app, { body }) => {
    const value = text(body, 'ip', false) ?? text(body, 'name', false);
    if (value === undefined) throw new HttpError(400, 'give "ip" or "name"');
    const result = await run(app, 'unban', { 'ip or name': value });
    return { status: 200, body: { message: result.text } };
  },

  'POST /api/disconnect': async (app, { body }) => {
    const { by, value } = target(body);
    const result = await run(app, `kick ${by}`, { [by]: value });
    return { status: 200, body: { message: result.text, ...(result.data as object) } };
  },

  'GET /api/whitelist': async (app) => ({
    status: 200,
    body: { enabled: app.store.whitelist.isEnabled(), entries: app.store.whitelist.list() },
  }),

  'POST /api/whitelist': async (app, { body }) => {
    await run(app, 'whitelist add', { kind: text(body, 'kind')!, value: text(body, 'value')! });
    return { status: 201, body: { enabled: app.store.whitelist.isEnabled(), entries: app.store.whitelist.list() } };
  },

  'DELETE /api/whitelist': async (app, { body }) => {
    await run(app, 'whitelist remove', { kind: text(body, 'kind')!, value: text(body, 'value')! });
    return { status: 200, body: { enabled: app.store.whitelist.isEnabled(), entries: app.store.whitelist.list() } };
  },

  'PUT /api/whitelist/enabled': async (app, { body }) => {
    const enabled = flag(body, 'enabled');
    if (enabled === undefined) throw new HttpError(400, 'missing "enabled"');
    await run(app, enabled ? 'whitelist on' : 'whitelist off');
    return { status: 200, body: { enabled } };
  },
};
