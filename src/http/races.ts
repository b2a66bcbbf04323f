/**
 * Races as the API shows them: the recent list (`GET /api/races`) and one whole race
 * (`GET /api/races/:id`). The race that is live now comes from the race director, every other
 * from the history in the database.
 *
 * Every field is copied by name, never spread: what a race object grows later (a client's
 * address, say) reaches the API only when it is added here. Times are ISO 8601 strings,
 * durations whole milliseconds.
 */
import { standings, type Standing } from '../races/standings.js';
import type { Entrant, RaceSnapshot, Split } from '../races/types.js';
import { HttpError } from './errors.js';
import type { OperationsTarget } from './target.js';

export const DEFAULT_RACE_LIMIT = 20;
export const MAX_RACE_LIMIT = 100;

type StoredSummary = ReturnType<OperationsTarget['store']['races']['recent']>[number];

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

function winnerOf(race: RaceSnapshot): Entrant | undefined {
  return race.entrants.find((entrant) => entrant.finish?.place === 1);
}

/** One line of the recent list. */
function summary(from: StoredSummary) {
  const { winner } = from;
  return {
    id: from.id,
    kind: from.kind,
    title: from.title,
    state: from.state,
    openedAt: iso(from.openedAt),
    goAt: iso(from.goAt),
    endedAt: iso(from.endedAt),
    route: from.route,
    entrants: from.entrants,
    finishers: from.finishers,
    winner:
      winner === null
        ? null
        : { name: winner.name, time: winner.time, timeMs: winner.timeMs, elapsedMs: winner.elapsedMs },
  };
}

/** The live race as a line of the recent list. */
function liveSummary(race: RaceSnapshot): StoredSummary {
  const winner = winnerOf(race);
  return {
    id: race.id,
    kind: race.kind,
    title: race.title,
    state: race.state,
    openedAt: race.openedAt,
    goAt: race.goAt,
    endedAt: race.endedAt,
    route: race.route,
    entrants: race.entrants.length,
    finishers: race.entrants.filter((entrant) => entrant.finish !== null).length,
    winner:
      winner?.finish == null
        ? null
        : {
            name: winner.name,
            time: winner.finish.time,
            timeMs: winner.finish.timeMs,
            elapsedMs: winner.finish.elapsedMs,
          },
  };
}

/** `GET /api/races`: the live race (if any) and the stored ones, newest first, at most `limit`. */
export function recentRaces(app: OperationsTarget, limit: number) {
  const live = app.races.current();
  const stored = app.store.races.recent(limit).filter((race) => race.id !== live?.id);
  const all = live === undefined ? stored : [liveSummary(live), ...stored];
  return {
    races: all
      .sort((a, b) => b.id - a.id)
      .slice(0, limit)
      .map(summary),
  };
}

function split(from: Split) {
  return {
    fromMap: from.fromMap,
    toMap: from.toMap,
    ticks: from.ticks,
    ticksTotal: from.ticksTotal,
    elapsedMs: from.elapsedMs,
    at: iso(from.at),
  };
}

function entrant({ entrant: from, position, gapMs }: Standing, live: boolean) {
  const { finish } = from;
  return {
    position,
    name: from.name,
    status: from.status,
    place: finish?.place ?? null,
    map: from.map,
    /** Connected to the server now; false once the race is history. */
    connected: live && from.clientId !== null,
    time: finish?.time ?? null,
    timeMs: finish?.timeMs ?? null,
    elapsedMs: finish?.elapsedMs ?? null,
    gapMs,
    finishedAt: iso(finish?.at ?? null),
    forfeitedAtMs: from.forfeitedAtMs,
    splits: from.splits.map(split),
  };
}

/** One whole race, entrants in standing order; `live`: the director's race, not the history's. */
export function raceDetail(race: RaceSnapshot, live: boolean) {
  return {
    id: race.id,
    kind: race.kind,
    title: race.title,
    state: race.state,
    openedBy: race.openedBy,
    openedAt: iso(race.openedAt),
    countdownSeconds: race.countdownSeconds,
    startedAt: iso(race.startedAt),
    goAt: iso(race.goAt),
    endedAt: iso(race.endedAt),
    route: race.route,
    entrants: standings(race).map((standing) => entrant(standing, live)),
  };
}

/** `GET /api/races/:id`: the live race when the id is its, else the stored one; 404 if neither. */
export function findRace(app: OperationsTarget, id: number) {
  const live = app.races.current();
  if (live?.id === id) return { race: raceDetail(live, true) };
  const stored = app.store.races.get(id);
  if (stored === undefined) throw new HttpError('not_found', `no race ${id}`);
  return { race: raceDetail(stored, false) };
}
