/**
 * The management API: the operations a hosting panel needs (players, settings, countdown,
 * server message, ban, disconnect, whitelist, backup, races), as JSON over HTTP. Each changing route is
 * declared as the registry command(s) it runs and which JSON field fills which argument (see
 * command-route.ts), so it is validated against the command's own argument specs, logged and
 * audited like the console and Discord (source "http"). Reading routes read directly.
 */
import type { CommandResult } from '../commands/registry.js';
import type { OperationsTarget } from './target.js';
import type { ApiResponse, CommandRoute, RouteRequest, Step } from './command-route.js';
import type { RaceSnapshot } from '../races/types.js';
import { integerValue } from './paths.js';
import { DEFAULT_RACE_LIMIT, findRace, MAX_RACE_LIMIT, raceDetail, recentRaces } from './races.js';

async function settings(app: OperationsTarget) {
  return {
    countdown: {
      duration: app.countdown.delay,
      preCommands: app.countdown.preCommands,
      postCommands: app.countdown.postCommands,
    },
    acceptingPlayers: app.server.acceptingPlayers,
    acceptingSpectators: app.server.acceptingSpectators,
    whitelistEnabled: await app.store.whitelist.isEnabled(),
  };
}

async function whitelist(app: OperationsTarget) {
  return { enabled: await app.store.whitelist.isEnabled(), entries: await app.store.whitelist.list() };
}

/**
 * A route that only reads: it takes no fields (any field is refused as unknown), and no query
 * parameters but those in `query`.
 */
const read = (
  respond: (app: OperationsTarget, request: RouteRequest) => Promise<unknown> | unknown,
  query: readonly string[] = [],
): CommandRoute => ({
  query,
  steps: [],
  respond: async (app, _results, request) => ({ status: 200, body: await respond(app, request) }),
});

/** `{"message": text, "race": the race as the command left it}` after a race command. */
const raceMessage = (app: OperationsTarget, results: CommandResult[]): ApiResponse => {
  const last = results.at(-1)!;
  const race = (last.data as { race?: RaceSnapshot } | undefined)?.race;
  const live = race !== undefined && app.races.current()?.id === race.id;
  return { status: 200, body: { message: last.text, race: race === undefined ? null : raceDetail(race, live) } };
};

/** `{"message": text, ...data}` from the last command that ran. */
const message =
  (status = 200) =>
  (_app: OperationsTarget, results: CommandResult[]): ApiResponse => {
    const last = results.at(-1)!;
    const data = typeof last.data === 'object' && last.data !== null && !Array.isArray(last.data) ? last.data : {};
    return { status, body: { message: last.text, ...data } };
  };

/** One of `id`, `name`, `ip` picks "<group> id|name|ip"; `reason` goes with any of them. */
function byTarget(group: 'ban' | 'kick'): Pick<CommandRoute, 'oneOf' | 'steps'> {
  return {
    oneOf: [{ fields: ['id', 'name', 'ip'], required: true }],
    steps: (['id', 'name', 'ip'] as const).map((by): Step => ({
      command: `${group} ${by}`,
      given: by,
      args: { [by]: by, reason: 'reason' },
    })),
  };
}

/** A boolean field that turns into one of two commands. */
const toggle = (field: string, on: Omit<Step, 'flag'>, off: Omit<Step, 'flag'>): Step[] => [
  { ...on, flag: [field, true] },
  { ...off, flag: [field, false] },
];

export const routes: Record<string, CommandRoute> = {
  'GET /api/players': read((app) => ({ players: app.server.listClients() })),

  'GET /api/settings': read(settings),

  'PATCH /api/settings': {
    steps: [
      // With a duration, one command sets all three; without, each text on its own.
      {
        command: 'countdown_set',
        given: 'countdown.duration',
        args: { seconds: 'countdown.duration', pre: 'countdown.preCommands', post: 'countdown.postCommands' },
      },
      {
        command: 'countdown pre',
        given: 'countdown.preCommands',
        absent: 'countdown.duration',
        args: { commands: 'countdown.preCommands' },
      },
      {
        command: 'countdown post',
        given: 'countdown.postCommands',
        absent: 'countdown.duration',
        args: { commands: 'countdown.postCommands' },
      },
      ...toggle(
        'acceptingPlayers',
        { command: 'accept', fixed: { who: 'players' } },
        { command: 'refuse', fixed: { who: 'players' } },
      ),
      ...toggle(
        'acceptingSpectators',
        { command: 'accept', fixed: { who: 'spectators' } },
        { command: 'refuse', fixed: { who: 'spectators' } },
      ),
      ...toggle('whitelistEnabled', { command: 'whitelist on' }, { command: 'whitelist off' }),
    ],
    respond: async (app) => ({ status: 200, body: await settings(app) }),
  },

  'POST /api/countdown': {
    oneOf: [{ fields: ['duration', 'preset'], required: false }],
    steps: [
      {
        command: 'countdown start',
        given: 'preset',
        args: { 'seconds or preset': 'preset', pre: 'preCommands', post: 'postCommands' },
      },
      {
        command: 'countdown start',
        absent: 'preset',
        args: {
          'seconds or preset': { field: 'duration', integer: true, min: 1 },
          pre: 'preCommands',
          post: 'postCommands',
        },
      },
    ],
    respond: (_app, [result]) => ({ status: 200, body: { message: result!.text, countdown: result!.data } }),
  },

  'POST /api/message': {
    steps: [{ command: 'say', args: { message: 'text' } }],
    respond: (_app, [result]) => ({ status: 200, body: { message: result!.text } }),
  },

  'POST /api/ban': { ...byTarget('ban'), respond: message() },

  'GET /api/bans': read(async (app) => ({ bans: await app.store.bans.list() })),

  'DELETE /api/bans': {
    oneOf: [{ fields: ['ip', 'name'], required: true }],
    steps: [
      { command: 'unban', given: 'ip', args: { 'ip or name': 'ip' } },
      { command: 'unban', given: 'name', args: { 'ip or name': 'name' } },
    ],
    respond: (_app, [result]) => ({ status: 200, body: { message: result!.text } }),
  },

  'POST /api/disconnect': { ...byTarget('kick'), respond: message() },

  'GET /api/whitelist': read(whitelist),

  'POST /api/whitelist': {
    steps: [{ command: 'whitelist add', args: { kind: 'kind', value: 'value' } }],
    respond: async (app) => ({ status: 201, body: await whitelist(app) }),
  },

  'DELETE /api/whitelist': {
    steps: [{ command: 'whitelist remove', args: { kind: 'kind', value: 'value' } }],
    respond: async (app) => ({ status: 200, body: await whitelist(app) }),
  },

  'PUT /api/whitelist/enabled': {
    required: ['enabled'],
    steps: toggle('enabled', { command: 'whitelist on' }, { command: 'whitelist off' }),
    respond: async (app) => ({ status: 200, body: { enabled: await app.store.whitelist.isEnabled() } }),
  },

  'GET /api/races': read(
    (app, { query }) => {
      const limit = query.get('limit');
      return recentRaces(
        app,
        limit === null ? DEFAULT_RACE_LIMIT : integerValue(limit, '"limit"', { min: 1, max: MAX_RACE_LIMIT }),
      );
    },
    ['limit'],
  ),

  'GET /api/races/:id': read((app, { params }) => findRace(app, integerValue(params.id!, 'the race id'))),

  'POST /api/race/open': { steps: [{ command: 'race open', args: { title: 'title' } }], respond: raceMessage },

  'POST /api/race/start': { steps: [{ command: 'race start', args: { seconds: 'seconds' } }], respond: raceMessage },

  'POST /api/race/cancel': { steps: [{ command: 'race cancel' }], respond: raceMessage },

  'POST /api/race/end': { steps: [{ command: 'race end' }], respond: raceMessage },

  'POST /api/backup': {
    steps: [{ command: 'backup', args: { path: 'path' } }],
    respond: message(),
  },
};
