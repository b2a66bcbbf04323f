/**
 * The race's commands, in the one registry (console, Discord, HTTP, plugins, in-game chat):
 * `race open|start|cancel|end|status` for organisers, `ready`, `unready`, `forfeit` (`ff`) for
 * players in game, and `results`, `stats`, `leaderboard` reading the race history.
 */
import type { AdminContext } from '../commands/context.js';
import type { PlayerStats } from '../db/database.js';
import { fail, ok, type CommandDefinition, type Invoker } from '../commands/registry.js';
import { oneLine, printable } from '../text/printable.js';
import { ROUTES } from './routes.js';
import { formatDuration, raceLines } from './text.js';
import type { RaceSnapshot, RouteId } from './types.js';

type Definition = CommandDefinition<AdminContext>;

/** What the commands read of the race history (src/db/races.ts). */
export interface RaceReader {
  get(id: number): RaceSnapshot | undefined;
  latestEnded(): RaceSnapshot | undefined;
  stats(name: string): {
    name: string;
    races: number;
    wins: number;
    finishes: number;
    forfeits: number;
    best: Array<{ route: RouteId | null; time: string; timeMs: number | null; elapsedMs: number; raceId: number }>;
  };
  leaderboard(
    route: RouteId | null,
    limit?: number,
  ): Array<{ place: number; name: string; time: string; timeMs: number | null; elapsedMs: number; raceId: number }>;
}

/** Who ran a command, as a race remembers it: "console", "discord:Alice#1", "http". */
function actor(invoker: Invoker): string {
  return invoker.source === invoker.name ? invoker.source : `${invoker.source}:${invoker.name}`;
}

const IN_GAME_ONLY = (what: string) => `only a player in game can ${what}: type /${what} in SAR's chat`;

/** The route argument: a shipped route, or `other` for maps that are on none. */
const ROUTE_CHOICES = [...(Object.keys(ROUTES) as RouteId[]), 'other'] as const;

function routeName(route: RouteId | null): string {
  return route === null ? 'other maps' : ROUTES[route].name;
}

export const raceCommands: Definition[] = [
  {
    name: 'race open',
    summary: 'Open a race: players type /ready in game, then race start counts them down',
    arguments: [{ name: 'title', type: 'rest', optional: true, description: 'what the race is, e.g. "Friday any%"' }],
    permission: 'moderator',
    mutates: true,
    run: (context, args, invoker) => context.races.open(String(args.title ?? '').trim(), actor(invoker)),
  },
  {
    name: 'race start',
    summary: 'Count down the players who are ready (refused if nobody is)',
    arguments: [{ name: 'seconds', type: 'integer', optional: true, min: 1, description: 'countdown length' }],
    permission: 'moderator',
    mutates: true,
    run(context, args, invoker) {
      const seconds = args.seconds as number | undefined;
      if (seconds !== undefined && seconds > context.countdown.maxDelay) {
        return fail('bad_arguments', `the countdown must last 1 to ${context.countdown.maxDelay} seconds`);
      }
      return context.races.start(seconds, actor(invoker));
    },
  },
  {
    name: 'race cancel',
    summary: 'Cancel the race that is open, counting down or running',
    permission: 'moderator',
    mutates: true,
    run: (context, _args, invoker) => context.races.cancel(actor(invoker)),
  },
  {
    name: 'race end',
    summary: 'End the running race: whoever has not finished did not finish (DNF)',
    permission: 'moderator',
    mutates: true,
    run: (context, _args, invoker) => context.races.end(actor(invoker)),
  },
  {
    name: 'race status',
    aliases: ['race'],
    summary: 'The current race: who is ready, who is where, who finished',
    permission: 'everyone',
    run: (context) => context.races.status(),
  },
  {
    name: 'ready',
    summary: 'Enter the open race and say you are ready (in game)',
    permission: 'everyone',
    sources: ['chat'],
    run(context, _args, invoker) {
      if (invoker.clientId === undefined) return fail('refused', IN_GAME_ONLY('ready'));
      return context.races.ready(invoker.clientId);
    },
  },
  {
    name: 'unready',
    summary: 'Say you are not ready after all (in game)',
    permission: 'everyone',
    sources: ['chat'],
    run(context, _args, invoker) {
      if (invoker.clientId === undefined) return fail('refused', IN_GAME_ONLY('unready'));
      return context.races.unready(invoker.clientId);
    },
  },
  {
    name: 'forfeit',
    aliases: ['ff'],
    summary: 'Give up the race you are running (in game)',
    permission: 'everyone',
    sources: ['chat'],
    run(context, _args, invoker) {
      if (invoker.clientId === undefined) return fail('refused', IN_GAME_ONLY('forfeit'));
      return context.races.forfeit(invoker.clientId);
    },
  },
  {
    name: 'results',
    summary: 'Final standings of a race with times (default: the latest that ended)',
    arguments: [{ name: 'race', type: 'integer', optional: true, min: 1 }],
    permission: 'everyone',
    run(context, args) {
      const id = args.race as number | undefined;
      const live = context.races.current();
      const race =
        id === undefined ? context.store.races.latestEnded() : live?.id === id ? live : context.store.races.get(id);
      if (race === undefined) return fail('not_found', id !== undefined ? `no race ${id}` : 'no race yet');
      return ok(raceLines(race).join('\n'), { race });
    },
  },
  {
    name: 'stats',
    summary: "A player's races, wins and best time per route (of every name linked to the same Discord member)",
    arguments: [{ name: 'player', type: 'rest', complete: 'player-name' }],
    permission: 'everyone',
    run(context, args) {
      const typed = String(args.player);
      // SAR names are case-sensitive, people typing them are not: "alpha" finds Alpha's races.
      const player =
        context.identity.memberOf(typed) !== undefined ? typed : (context.store.races.racedName(typed) ?? typed);
      // A linked name counts every name of its member: the same person across renames.
      const member = context.identity.memberOf(player);
      const stats: PlayerStats & { names?: string[] } =
        member === undefined
          ? context.store.races.stats(player)
          : context.store.races.memberStats(member.discordId, player);
      if (stats.races === 0) return fail('not_found', oneLine`${player} has not raced here yet`);
      const best = stats.best.map(
        (entry) => `best ${routeName(entry.route)}: ${printable(entry.time)} (race ${entry.raceId})`,
      );
      const names = stats.names !== undefined && stats.names.length > 1 ? oneLine` (as ${stats.names.join(', ')})` : '';
      return ok(
        [
          oneLine`${stats.name}${names}: ${stats.races} race${stats.races === 1 ? '' : 's'}, ${stats.wins} win${stats.wins === 1 ? '' : 's'}, ${stats.finishes} finished, ${stats.forfeits} forfeited`,
          ...best,
        ].join('\n'),
        { stats },
      );
    },
  },
  {
    name: 'leaderboard',
    summary: 'Best times per player on a route (sp, coop, or other maps)',
    arguments: [{ name: 'route', type: 'word', optional: true, choices: ROUTE_CHOICES }],
    permission: 'everyone',
    run(context, args) {
      const choice = (args.route as (typeof ROUTE_CHOICES)[number] | undefined) ?? 'sp';
      const route = choice === 'other' ? null : choice;
      const rows = context.store.races.leaderboard(route, 10);
      if (rows.length === 0) return ok(`No finishes on ${routeName(route)} yet.`, { route, rows });
      const lines = rows.map(
        (row) =>
          `${row.place}. ${printable(row.name)} — ${printable(row.time)} (server ${formatDuration(row.elapsedMs)}, race ${row.raceId})`,
      );
      return ok([`Leaderboard, ${routeName(route)}:`, ...lines].join('\n'), { route, rows });
    },
  },
];
