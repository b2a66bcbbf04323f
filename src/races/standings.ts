/**
 * The order of a race's entrants, the same everywhere it is shown (in game, the console, the
 * Discord card, the web pages, the API):
 *
 * 1. finishers, by place (the order they finished, by the server's clock);
 * 2. runners, by progress: how far along the route their current map is (for a route the
 *    project ships, see routes.ts), or how many different maps they have reached (otherwise);
 *    between two runners equally far, whoever got there first;
 * 3. forfeited, then did not finish.
 * While the race is open: ready, then not ready, by name.
 */
import { routeIndex } from './routes.js';
import type { Entrant, EntrantStatus, RaceSnapshot, RouteId } from './types.js';

const GROUP: Record<EntrantStatus, number> = {
  finished: 0,
  running: 1,
  ready: 2,
  not_ready: 3,
  forfeited: 4,
  dnf: 5,
};

/**
 * How far an entrant has come, and when it got there (ms since the go): on a shipped route, the
 * furthest map of the route it has reached (going back to a hub or a menu loses nothing); on
 * other maps, how many different maps it has reached.
 */
export function progressOf(entrant: Entrant, route: RouteId | null): { progress: number; reachedMs: number } {
  if (route !== null) {
    let progress = routeIndex(route, entrant.map);
    let reachedMs = 0;
    for (const split of entrant.splits) {
      const index = routeIndex(route, split.toMap);
      if (index > progress || (index === progress && reachedMs === 0)) {
        progress = index;
        reachedMs = split.elapsedMs;
      }
    }
    return { progress, reachedMs };
  }
  const maps = new Set<string>();
  let reachedMs = 0;
  for (const split of entrant.splits) {
    if (maps.has(split.toMap)) continue;
    maps.add(split.toMap);
    reachedMs = split.elapsedMs;
  }
  return { progress: maps.size, reachedMs };
}

/** The entrants of `race`, sorted into standing order (a new array; the entrants are not copied). */
export function sortEntrants(entrants: readonly Entrant[], route: RouteId | null): Entrant[] {
  const keyed = entrants.map((entrant) => {
    const { progress, reachedMs } =
      entrant.status === 'running' ? progressOf(entrant, route) : { progress: 0, reachedMs: 0 };
    return { entrant, group: GROUP[entrant.status], progress, reached: reachedMs };
  });
  keyed.sort(
    (a, b) =>
      a.group - b.group ||
      (a.entrant.finish?.place ?? 0) - (b.entrant.finish?.place ?? 0) ||
      b.progress - a.progress ||
      a.reached - b.reached ||
      (a.entrant.forfeitedAtMs ?? 0) - (b.entrant.forfeitedAtMs ?? 0) ||
      compareNames(a.entrant.name, b.entrant.name),
  );
  return keyed.map((key) => key.entrant);
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface Standing {
  entrant: Entrant;
  /** 1, 2, 3… down the list (finishers keep their place; everybody else their position). */
  position: number;
  /** For finishers: milliseconds behind the winner by the server's clock (0 for the winner). */
  gapMs: number | null;
  progress: number;
}

/** The race's standings, with positions and gaps (entrants must already be in standing order). */
export function standings(race: RaceSnapshot): Standing[] {
  const winner = race.entrants.find((entrant) => entrant.finish?.place === 1)?.finish ?? null;
  return race.entrants.map((entrant, index) => ({
    entrant,
    position: entrant.finish?.place ?? index + 1,
    gapMs: entrant.finish !== null && winner !== null ? entrant.finish.elapsedMs - winner.elapsedMs : null,
    progress: entrant.status === 'running' ? progressOf(entrant, race.route).progress : 0,
  }));
}
