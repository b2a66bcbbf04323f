/**
 * Server objects turned into what the public pages may show (shared/types.ts). Each field is
 * copied by name: a client's address, who opened a race (a Discord account) or anything the
 * management API keeps behind its token never reaches a page, whatever those objects grow later.
 */
import type { ClientInfo } from '../events.js';
import { mapInfo, routeIndex, ROUTES } from '../races/routes.js';
import { standings, type Standing } from '../races/standings.js';
import type { RaceSnapshot, RouteId, Split } from '../races/types.js';
import type { MapPlace, PublicEntrant, PublicPlayer, PublicRace, PublicSplit, RaceSummary } from './shared/types.js';

export function placeOf(map: string): MapPlace | null {
  const info = mapInfo(map);
  return info === undefined ? null : { chapter: info.chapter, chapterTitle: info.chapterTitle, title: info.title };
}

export function publicPlayer(client: ClientInfo): PublicPlayer {
  return {
    id: client.id,
    name: client.name,
    map: client.map,
    place: placeOf(client.map),
    spectator: client.spectator,
  };
}

/**
 * A split with the height the chart draws it at: the furthest point of the route reached so far
 * (as standings count it), or, off the shipped routes, how many different maps were reached.
 */
export function publicSplits(splits: readonly Split[], route: RouteId | null): PublicSplit[] {
  let furthest = 0;
  const seen = new Set<string>();
  return splits.map((split) => {
    if (route !== null) furthest = Math.max(furthest, routeIndex(route, split.toMap));
    else {
      seen.add(split.toMap.toLowerCase());
      furthest = seen.size;
    }
    return {
      fromMap: split.fromMap,
      fromPlace: placeOf(split.fromMap),
      toMap: split.toMap,
      toPlace: placeOf(split.toMap),
      ticks: split.ticks,
      ticksTotal: split.ticksTotal,
      elapsedMs: split.elapsedMs,
      progress: furthest,
    };
  });
}

function publicEntrant({ entrant, position, gapMs, progress }: Standing, route: RouteId | null, withSplits: boolean) {
  const { finish } = entrant;
  const view: PublicEntrant = {
    position,
    name: entrant.name,
    status: entrant.status,
    place: finish?.place ?? null,
    map: entrant.map,
    mapPlace: placeOf(entrant.map),
    progress,
    time: finish?.time ?? null,
    timeMs: finish?.timeMs ?? null,
    elapsedMs: finish?.elapsedMs ?? null,
    gapMs,
    forfeitedAtMs: entrant.forfeitedAtMs,
    splitCount: entrant.splits.length,
  };
  if (withSplits) view.splits = publicSplits(entrant.splits, route);
  return view;
}

/**
 * A race for the pages; `withSplits` for a race page (the live `race` event leaves splits out:
 * they grow with every map change, and each one travels once as a `split` event).
 */
export function publicRace(race: RaceSnapshot, withSplits: boolean, now = Date.now()): PublicRace {
  const end = race.endedAt?.getTime() ?? now;
  return {
    id: race.id,
    kind: race.kind,
    title: race.title,
    state: race.state,
    openedAt: race.openedAt.toISOString(),
    countdownSeconds: race.countdownSeconds,
    goAt: race.goAt?.toISOString() ?? null,
    endedAt: race.endedAt?.toISOString() ?? null,
    route: race.route,
    routeLength: race.route === null ? null : ROUTES[race.route].maps.length,
    elapsedMs: race.goAt === null ? null : Math.max(0, end - race.goAt.getTime()),
    entrants: standings(race).map((standing) => publicEntrant(standing, race.route, withSplits)),
  };
}

/** One split of a live race, as the `split` event carries it (its height counted like publicSplits). */
export function publicSplit(race: RaceSnapshot, name: string, split: Split): PublicSplit {
  const entrant = race.entrants.find((candidate) => candidate.name === name);
  const splits = entrant?.splits ?? [split];
  const views = publicSplits(splits, race.route);
  const index = splits.indexOf(split);
  return views[index >= 0 ? index : views.length - 1]!;
}

/** A line of the recent races list, from the API's summary (src/http/races.ts), copied by name. */
export function publicSummary(from: RaceSummary): RaceSummary {
  return {
    id: from.id,
    kind: from.kind,
    title: from.title,
    state: from.state,
    openedAt: from.openedAt,
    goAt: from.goAt,
    endedAt: from.endedAt,
    route: from.route,
    entrants: from.entrants,
    finishers: from.finishers,
    winner:
      from.winner === null
        ? null
        : {
            name: from.winner.name,
            time: from.winner.time,
            timeMs: from.winner.timeMs,
            elapsedMs: from.winner.elapsedMs,
          },
  };
}
