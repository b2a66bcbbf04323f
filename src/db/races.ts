/**
 * The race history: every race (src/races/types.ts) with its entrants and their splits, kept for
 * good. The race director keeps the live race in memory and writes it here as it changes;
 * `results`, `stats`, `leaderboard`, the HTTP API and Discord read it.
 *
 * Writes never wait and never throw: each is queued to the database's write thread in call order,
 * and a failure is logged once by the writer (a full disk must not stop a race). Ids are decided
 * here on the main thread (a race's when it is opened, a split's when it is added) and inserted
 * as they are, so a write can refer to a race that is not committed yet.
 *
 * Reads are synchronous and see every write made so far: until the write thread has answered,
 * what was written is kept in memory and laid over what the file holds (as the audit log does),
 * so `results` right after a race ends shows it. `stats` and `leaderboard` are the exception:
 * they add up what is committed, a few milliseconds behind (`flush()` waits for it).
 */
import { and, asc, count, desc, eq, inArray, max, notInArray } from 'drizzle-orm';
import type { Logger } from '../logger.js';
import { sortEntrants } from '../races/standings.js';
import type { Entrant, RaceKind, RaceSnapshot, RaceState, RouteId, Split } from '../races/types.js';
import type { Connection } from './connection.js';
import type { EntrantRow, RaceRow, SplitRow } from './operations.js';
import { ROUTE_IDS, raceEntrants, races, raceSplits } from './schema.js';
import type { Writer } from './writer.js';

export interface RaceSummary {
  id: number;
  kind: RaceKind;
  title: string;
  state: RaceState;
  openedAt: Date;
  goAt: Date | null;
  endedAt: Date | null;
  route: RouteId | null;
  entrants: number;
  finishers: number;
  winner: { name: string; time: string; timeMs: number | null; elapsedMs: number } | null;
}

export interface PlayerStats {
  name: string;
  /** Races the player ran (entered and still in when the race went; cancelled races do not count). */
  races: number;
  /** First places. */
  wins: number;
  finishes: number;
  forfeits: number;
  /**
   * Best time per route (route null = maps not on a shipped route): by SAR's time when it could
   * be read, else by the server's; shipped routes first, in ROUTE_IDS order.
   */
  best: Array<{
    route: RouteId | null;
    time: string;
    timeMs: number | null;
    elapsedMs: number;
    raceId: number;
    at: Date;
  }>;
}

export interface LeaderboardRow {
  place: number;
  name: string;
  time: string;
  timeMs: number | null;
  elapsedMs: number;
  raceId: number;
  at: Date;
}

export interface RaceHistory {
  /**
   * The id the next opened race gets: the highest stored id + 1 at start-up, then counting. Each
   * call hands out a new id.
   */
  nextId(): number;
  /** The race's header (kind, title, state, who opened it, times, countdown, route), not its entrants. */
  saveRace(race: RaceSnapshot): void;
  /** Stores the entrant, or replaces the one of that name in the race. Its splits are not in it: see addSplit. */
  saveEntrant(raceId: number, entrant: Entrant): void;
  addSplit(raceId: number, entrantName: string, split: Split): void;
  /** Forgets an entrant who left the race before its go (and any splits stored under that name). */
  removeEntrant(raceId: number, name: string): void;
  /** Resolves once everything written so far is committed (or has failed and been logged). */
  flush(): Promise<void>;
  /** The latest `limit` races, newest first, live ones included. */
  recent(limit?: number): RaceSummary[];
  /** A race with its entrants in standing order (src/races/standings.ts), each with its splits. */
  get(id: number): RaceSnapshot | undefined;
  /** The most recent finished race (for `results`). */
  latestEnded(): RaceSnapshot | undefined;
  /** A player's record; names compare exactly, as SAR names are case-sensitive. */
  stats(name: string): PlayerStats;
  /** The name that raced for a name typed in any case (see RACED_NAME_SQL); undefined if none did. */
  racedName(typed: string): string | undefined;
  /**
   * A Discord member's record: every name linked to them (player_links) counted together, a
   * race once even if two of their names ran it. `name` is what the caller calls them.
   */
  memberStats(discordId: string, name: string): PlayerStats & { names: string[] };
  /**
   * One row per player (their best finish on the route; null = unknown maps), best first. The
   * names linked to one Discord member are one player: their best finish under any of them.
   */
  leaderboard(route: RouteId | null, limit?: number): LeaderboardRow[];
  /**
   * At start-up: ends the races a crash left open, counting down or running, and returns them as
   * they are now. A race that had its go is finished (whoever was still running is dnf); one
   * that had not is cancelled. `endedAt` is `now`.
   */
  recover(now: Date): RaceSnapshot[];
}

/** Reads SAR's time text ("12.345", "1:02.345", "1:02:03.456") as milliseconds. */
export function parseFinishTime(text: string): number | null {
  const match = /^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (match === null) return null;
  const [, first, second, seconds] = match;
  const hours = second !== undefined ? Number(first) : 0;
  const minutes = second !== undefined ? Number(second) : Number(first ?? 0);
  return Math.round(((hours * 60 + minutes) * 60 + Number(seconds)) * 1000);
}

type RaceHeader = Omit<RaceSnapshot, 'entrants'>;
type StoredRace = typeof races.$inferSelect;
type StoredEntrant = typeof raceEntrants.$inferSelect;

/** What has been sent to the write thread for one race and not answered yet. */
interface PendingRace {
  /** Writes out for this race; the entry is dropped at 0. */
  writes: number;
  header: { race: RaceHeader; writes: number } | undefined;
  /** null: removed. */
  entrants: Map<string, { entrant: Entrant | null; writes: number }>;
  /** By split id: a split both committed and still here is shown once. */
  splits: Map<number, { name: string; split: Split }>;
}

const LIVE_STATES: RaceState[] = ['open', 'counting_down', 'running'];
/** Whoever is still in when a race ends without them finishing: dnf (as the director does). */
const UNFINISHED = new Set(['ready', 'running']);
const DEFAULT_RECENT = 20;
const DEFAULT_LEADERBOARD = 10;

const copyDate = (date: Date | null): Date | null => (date === null ? null : new Date(date.getTime()));

function copyHeader(race: RaceHeader): RaceHeader {
  return {
    id: race.id,
    kind: race.kind,
    title: race.title,
    state: race.state,
    openedBy: race.openedBy,
    openedAt: new Date(race.openedAt.getTime()),
    countdownSeconds: race.countdownSeconds ?? null,
    startedAt: copyDate(race.startedAt ?? null),
    goAt: copyDate(race.goAt ?? null),
    endedAt: copyDate(race.endedAt ?? null),
    route: race.route ?? null,
  };
}

/** The entrant without its splits (they are stored on their own). */
function copyEntrant(entrant: Entrant): Entrant {
  const { finish } = entrant;
  return {
    name: entrant.name,
    clientId: entrant.clientId ?? null,
    status: entrant.status,
    map: entrant.map,
    splits: [],
    finish:
      finish === null || finish === undefined
        ? null
        : {
            time: finish.time,
            timeMs: finish.timeMs ?? null,
            elapsedMs: finish.elapsedMs,
            place: finish.place,
            at: new Date(finish.at.getTime()),
          },
    forfeitedAtMs: entrant.forfeitedAtMs ?? null,
  };
}

function copySplit(split: Split): Split {
  return {
    fromMap: split.fromMap,
    toMap: split.toMap,
    ticks: split.ticks ?? null,
    ticksTotal: split.ticksTotal ?? null,
    elapsedMs: split.elapsedMs,
    at: new Date(split.at.getTime()),
  };
}

function headerOf(row: StoredRace): RaceHeader {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    state: row.state,
    openedBy: row.openedBy,
    openedAt: row.openedAt,
    countdownSeconds: row.countdownSeconds,
    startedAt: row.startedAt,
    goAt: row.goAt,
    endedAt: row.endedAt,
    route: row.route,
  };
}

function entrantOf(row: StoredEntrant): Entrant {
  const finished =
    row.finishTime !== null && row.finishElapsedMs !== null && row.finishPlace !== null && row.finishedAt !== null;
  return {
    name: row.name,
    clientId: row.clientId,
    status: row.status,
    map: row.map,
    splits: [],
    finish: finished
      ? {
          time: row.finishTime!,
          timeMs: row.finishTimeMs,
          elapsedMs: row.finishElapsedMs!,
          place: row.finishPlace!,
          at: row.finishedAt!,
        }
      : null,
    forfeitedAtMs: row.forfeitedAtMs,
  };
}

function raceRow(race: RaceHeader): RaceRow {
  return { ...race };
}

function entrantRow(raceId: number, entrant: Entrant): EntrantRow {
  const { finish } = entrant;
  return {
    raceId,
    name: entrant.name,
    clientId: entrant.clientId,
    status: entrant.status,
    map: entrant.map,
    finishTime: finish?.time ?? null,
    finishTimeMs: finish?.timeMs ?? null,
    finishElapsedMs: finish?.elapsedMs ?? null,
    finishPlace: finish?.place ?? null,
    finishedAt: finish?.at ?? null,
    forfeitedAtMs: entrant.forfeitedAtMs,
  };
}

/** `entrants`: all of them, or only the winner with `counts` given. */
function summaryOf(
  race: RaceHeader,
  entrants: readonly Entrant[],
  counts?: { entrants: number; finishers: number },
): RaceSummary {
  const winner = entrants.find((entrant) => entrant.finish?.place === 1);
  const finish = winner?.finish ?? null;
  return {
    id: race.id,
    kind: race.kind,
    title: race.title,
    state: race.state,
    openedAt: race.openedAt,
    goAt: race.goAt,
    endedAt: race.endedAt,
    route: race.route,
    entrants: counts?.entrants ?? entrants.length,
    finishers: counts?.finishers ?? entrants.filter((entrant) => entrant.finish !== null).length,
    winner:
      winner !== undefined && finish !== null
        ? { name: winner.name, time: finish.time, timeMs: finish.timeMs, elapsedMs: finish.elapsedMs }
        : null,
  };
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number ≥ 0');
}

const SPLITS_SQL = `
  SELECT id, entrant_name, from_map, to_map, ticks, ticks_total, elapsed_ms, at
  FROM race_splits WHERE race_id = ? ORDER BY id`;

type SplitColumns = [number, string, string, string, number | null, number | null, number, number];

const ENTRANTS_SQL = `
  SELECT race_id AS raceId, name, client_id AS clientId, status, map, finish_time AS finishTime,
    finish_time_ms AS finishTimeMs, finish_elapsed_ms AS finishElapsedMs, finish_place AS finishPlace,
    finished_at AS finishedAt, forfeited_at_ms AS forfeitedAtMs
  FROM race_entrants WHERE race_id = ?`;

type EntrantColumns = Omit<StoredEntrant, 'finishedAt'> & { finishedAt: number | null };

const dateOf = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** The best finish first: SAR's time when it could be read, else the server's; then the earlier. */
const BEST_FIRST = `coalesce(e.finish_time_ms, e.finish_elapsed_ms), e.finished_at, e.race_id`;

const STATS_SQL = `
  SELECT count(*) AS races,
         coalesce(sum(e.finish_place = 1), 0) AS wins,
         count(e.finish_place) AS finishes,
         coalesce(sum(e.status = 'forfeited'), 0) AS forfeits
  FROM race_entrants e JOIN races r ON r.id = e.race_id
  WHERE e.name = ? AND r.state IN ('running', 'finished') AND e.status IN ('running', 'finished', 'forfeited', 'dnf')`;

/**
 * The name a race counts under for what someone typed: the exact name if it raced, else the name
 * equal but for case that raced most (ties: the first in BINARY order). Read per command, not per
 * packet, so a scan of the entrants is fine.
 */
const RACED_NAME_SQL = `
  SELECT e.name FROM race_entrants e JOIN races r ON r.id = e.race_id
  WHERE e.name = ? COLLATE NOCASE AND r.state IN ('running', 'finished')
    AND e.status IN ('running', 'finished', 'forfeited', 'dnf')
  GROUP BY e.name
  ORDER BY e.name = ? DESC, count(*) DESC, e.name
  LIMIT 1`;

const BEST_SQL = `
  SELECT route, finish_time, finish_time_ms, finish_elapsed_ms, race_id, finished_at FROM (
    SELECT r.route, e.*, row_number() OVER (PARTITION BY r.route ORDER BY ${BEST_FIRST}) AS nth
    FROM race_entrants e JOIN races r ON r.id = e.race_id
    WHERE e.name = ? AND e.finish_place IS NOT NULL
  ) WHERE nth = 1`;

/** The names of a Discord member (`?`), read when the query runs: a link made later counts at once. */
const MEMBER_NAMES = `(SELECT name FROM player_links WHERE discord_id = ?)`;

/** As STATS_SQL; a race counts once even if two names of the member ran it. */
const MEMBER_STATS_SQL = `
  SELECT count(DISTINCT e.race_id) AS races,
         count(DISTINCT CASE WHEN e.finish_place = 1 THEN e.race_id END) AS wins,
         count(DISTINCT CASE WHEN e.finish_place IS NOT NULL THEN e.race_id END) AS finishes,
         count(DISTINCT CASE WHEN e.status = 'forfeited' THEN e.race_id END) AS forfeits
  FROM race_entrants e JOIN races r ON r.id = e.race_id
  WHERE e.name IN ${MEMBER_NAMES} AND r.state IN ('running', 'finished')
    AND e.status IN ('running', 'finished', 'forfeited', 'dnf')`;

const MEMBER_BEST_SQL = `
  SELECT route, finish_time, finish_time_ms, finish_elapsed_ms, race_id, finished_at FROM (
    SELECT r.route, e.*, row_number() OVER (PARTITION BY r.route ORDER BY ${BEST_FIRST}) AS nth
    FROM race_entrants e JOIN races r ON r.id = e.race_id
    WHERE e.name IN ${MEMBER_NAMES} AND e.finish_place IS NOT NULL
  ) WHERE nth = 1`;

/** A linked name's player is its member ('m' + id), any other name's is itself ('n' + name). */
const LEADERBOARD_SQL = `
  SELECT name, finish_time, finish_time_ms, finish_elapsed_ms, race_id, finished_at FROM (
    SELECT e.*, row_number() OVER (
      PARTITION BY coalesce('m' || l.discord_id, 'n' || e.name) ORDER BY ${BEST_FIRST}) AS nth
    FROM races r JOIN race_entrants e ON e.race_id = r.id LEFT JOIN player_links l ON l.name = e.name
    WHERE r.route IS ? AND e.finish_place IS NOT NULL
  ) AS e WHERE nth = 1
  ORDER BY ${BEST_FIRST}
  LIMIT ?`;

interface StatsCounts {
  races: number;
  wins: number;
  finishes: number;
  forfeits: number;
}

interface BestRow {
  route?: RouteId | null;
  name?: string;
  finish_time: string;
  finish_time_ms: number | null;
  finish_elapsed_ms: number;
  race_id: number;
  finished_at: number;
}

export function createRaceHistory(connection: Connection, writer: Writer, logger?: Logger): RaceHistory {
  const { orm, sqlite } = connection;

  const pending = new Map<number, PendingRace>();

  const highest = connection.read(() => {
    const race =
      orm
        .select({ id: max(races.id) })
        .from(races)
        .get()?.id ?? 0;
    const split =
      orm
        .select({ id: max(raceSplits.id) })
        .from(raceSplits)
        .get()?.id ?? 0;
    // AUTOINCREMENT remembers ids of races that were deleted (by hand): never hand one out again.
    const sequence = sqlite.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'races'`).pluck().get() as
      number | undefined;
    return { race: Math.max(race, sequence ?? 0), split };
  });
  let nextRaceId = highest.race + 1;
  let nextSplitId = highest.split + 1;

  const splitsQuery = sqlite.prepare(SPLITS_SQL).raw();
  const entrantsQuery = sqlite.prepare(ENTRANTS_SQL);
  const statsQuery = sqlite.prepare(STATS_SQL);
  const racedNameQuery = sqlite.prepare(RACED_NAME_SQL).pluck();
  const bestQuery = sqlite.prepare(BEST_SQL);
  const leaderboardQuery = sqlite.prepare(LEADERBOARD_SQL);
  const memberStatsQuery = sqlite.prepare(MEMBER_STATS_SQL);
  const memberBestQuery = sqlite.prepare(MEMBER_BEST_SQL);
  const memberNamesQuery = sqlite.prepare(`SELECT name FROM player_links WHERE discord_id = ? ORDER BY name`).pluck();

  /**
   * Races that have ended and have nothing waiting for the disk do not change any more, and
   * reading one with all its splits (500 runners × 60 maps) takes tens of milliseconds on the
   * main thread: the last few read are kept. Any write to a race forgets its copy.
   */
  const endedRaces = new Map<number, RaceSnapshot>();
  const ENDED_RACES_KEPT = 8;

  function pendingOf(raceId: number): PendingRace {
    endedRaces.delete(raceId);
    let race = pending.get(raceId);
    if (race === undefined) {
      race = { writes: 0, header: undefined, entrants: new Map(), splits: new Map() };
      pending.set(raceId, race);
    }
    return race;
  }

  /** Sends one write for `raceId`; `answered` forgets its row once the thread has answered. */
  function send(race: PendingRace, raceId: number, write: Promise<unknown>, answered: () => void): void {
    race.writes++;
    void write.then(() => {
      answered();
      if (--race.writes === 0 && pending.get(raceId) === race) pending.delete(raceId);
    });
  }

  /** Lays an entrant written (or removed: null) over the stored one until the thread has answered. */
  function putEntrant(raceId: number, name: string, entrant: Entrant | null, write: Promise<unknown>): void {
    const over = pendingOf(raceId);
    const slot = over.entrants.get(name) ?? { entrant, writes: 0 };
    slot.entrant = entrant;
    slot.writes++;
    over.entrants.set(name, slot);
    send(over, raceId, write, () => {
      if (--slot.writes === 0 && over.entrants.get(name) === slot) over.entrants.delete(name);
    });
  }

  /** Never throws into the race director: input it cannot store is logged and dropped. */
  function safely(what: string, raceId: unknown, work: () => void): void {
    try {
      work();
    } catch (error) {
      logger?.error({ err: error, raceId }, `race history: cannot save ${what}: ${(error as Error).message}`);
    }
  }

  function readHeader(id: number): RaceHeader | undefined {
    const over = pending.get(id)?.header;
    if (over !== undefined) return copyHeader(over.race);
    const row = connection.read(() => orm.select().from(races).where(eq(races.id, id)).get());
    return row === undefined ? undefined : headerOf(row);
  }

  /** The race's entrants as written so far (committed or not), without splits. */
  function readEntrants(id: number): Map<string, Entrant> {
    const rows = connection.read(() => entrantsQuery.all(id) as EntrantColumns[]);
    const entrants = new Map(rows.map((row) => [row.name, entrantOf({ ...row, finishedAt: dateOf(row.finishedAt) })]));
    for (const [name, { entrant }] of pending.get(id)?.entrants ?? []) {
      if (entrant === null) entrants.delete(name);
      else entrants.set(name, copyEntrant(entrant));
    }
    return entrants;
  }

  function read(id: number): RaceSnapshot | undefined {
    const header = readHeader(id);
    if (header === undefined) return undefined;
    const entrants = readEntrants(id);
    // The one read that can be large (500 entrants × 60 maps): raw rows, no per-row mapping by drizzle.
    const rows = connection.read(() => splitsQuery.all(id) as SplitColumns[]);
    const splits = rows.map(([splitId, name, fromMap, toMap, ticks, ticksTotal, elapsedMs, when]) => ({
      id: splitId,
      name,
      split: { fromMap, toMap, ticks, ticksTotal, elapsedMs, at: new Date(when) },
    }));
    const over = pending.get(id)?.splits;
    if (over !== undefined && over.size > 0) {
      const stored = new Set(splits.map((one) => one.id));
      for (const [splitId, { name, split }] of over) {
        if (!stored.has(splitId)) splits.push({ id: splitId, name, split: copySplit(split) });
      }
      splits.sort((a, b) => a.id - b.id);
    }
    const byName = new Map<string, Split[]>();
    for (const { name, split } of splits) {
      const list = byName.get(name);
      if (list === undefined) byName.set(name, [split]);
      else list.push(split);
    }
    const list = [...entrants.values()].map((entrant) => ({ ...entrant, splits: byName.get(entrant.name) ?? [] }));
    return { ...header, entrants: sortEntrants(list, header.route) };
  }

  const bestOf = (row: BestRow) => ({
    time: row.finish_time,
    timeMs: row.finish_time_ms,
    elapsedMs: row.finish_elapsed_ms,
    raceId: row.race_id,
    at: new Date(row.finished_at),
  });

  /** Shipped routes first, in ROUTE_IDS order, then other maps. */
  const bestByRoute = (rows: BestRow[]) => {
    const best = rows.map((row) => ({ route: row.route ?? null, ...bestOf(row) }));
    const order = (route: RouteId | null) => (route === null ? ROUTE_IDS.length : ROUTE_IDS.indexOf(route));
    return best.sort((a, b) => order(a.route) - order(b.route));
  };

  const history: RaceHistory = {
    nextId() {
      return nextRaceId++;
    },

    saveRace(race) {
      safely('race', race?.id, () => {
        const header = copyHeader(race);
        if (!Number.isSafeInteger(header.id) || header.id < 1) throw new RangeError(`bad race id ${header.id}`);
        nextRaceId = Math.max(nextRaceId, header.id + 1);
        const over = pendingOf(header.id);
        const slot = over.header ?? { race: header, writes: 0 };
        slot.race = header;
        slot.writes++;
        over.header = slot;
        send(over, header.id, writer.fire('races.save', raceRow(header)), () => {
          if (--slot.writes === 0 && over.header === slot) over.header = undefined;
        });
      });
    },

    saveEntrant(raceId, entrant) {
      safely('entrant', raceId, () => {
        const copy = copyEntrant(entrant);
        putEntrant(raceId, copy.name, copy, writer.fire('races.saveEntrant', entrantRow(raceId, copy)));
      });
    },

    removeEntrant(raceId, name) {
      safely('entrant removal', raceId, () => {
        if (typeof name !== 'string') throw new TypeError('the name must be a string');
        putEntrant(raceId, name, null, writer.fire('races.removeEntrant', { raceId, name }));
      });
    },

    addSplit(raceId, entrantName, split) {
      safely('split', raceId, () => {
        const copy = copySplit(split);
        const id = nextSplitId++;
        const row: SplitRow = { id, raceId, entrantName, ...copy };
        const over = pendingOf(raceId);
        over.splits.set(id, { name: entrantName, split: copy });
        send(over, raceId, writer.fire('races.addSplit', row), () => over.splits.delete(id));
      });
    },

    flush: () => writer.flush(),

    recent(limit = DEFAULT_RECENT) {
      checkLimit(limit);
      if (limit === 0) return [];
      const rows = connection.read(() => orm.select().from(races).orderBy(desc(races.id)).limit(limit).all());
      // Races with an entrant or header still being written are summed up from what was written.
      const rewritten = new Set(
        [...pending].flatMap(([id, race]) => (race.header !== undefined || race.entrants.size > 0 ? [id] : [])),
      );
      const stored = rows.filter((row) => !rewritten.has(row.id));
      const ids = stored.map((row) => row.id);
      const [counts, winners] = connection.read(() =>
        ids.length === 0
          ? [[], []]
          : [
              orm
                .select({ raceId: raceEntrants.raceId, entrants: count(), finishers: count(raceEntrants.finishPlace) })
                .from(raceEntrants)
                .where(inArray(raceEntrants.raceId, ids))
                .groupBy(raceEntrants.raceId)
                .all(),
              orm
                .select()
                .from(raceEntrants)
                .where(and(inArray(raceEntrants.raceId, ids), eq(raceEntrants.finishPlace, 1)))
                .all(),
            ],
      );
      const countsOf = new Map(counts.map((row) => [row.raceId, row]));
      const winnerOf = new Map(winners.map((row) => [row.raceId, entrantOf(row)]));
      const summaries = stored.map((row) => {
        const winner = winnerOf.get(row.id);
        return summaryOf(headerOf(row), winner !== undefined ? [winner] : [], countsOf.get(row.id));
      });
      for (const id of rewritten) {
        const header = readHeader(id);
        if (header !== undefined) summaries.push(summaryOf(header, [...readEntrants(id).values()]));
      }
      return summaries.sort((a, b) => b.id - a.id).slice(0, limit);
    },

    get(id) {
      if (!Number.isSafeInteger(id)) return undefined;
      const kept = pending.has(id) ? undefined : endedRaces.get(id);
      if (kept !== undefined) return kept;
      const race = read(id);
      if (race !== undefined && (race.state === 'finished' || race.state === 'cancelled') && !pending.has(id)) {
        endedRaces.set(id, race);
        if (endedRaces.size > ENDED_RACES_KEPT) endedRaces.delete(endedRaces.keys().next().value!);
      }
      return race;
    },

    latestEnded() {
      const notFinished: number[] = [];
      let newest = 0;
      for (const [id, race] of pending) {
        if (race.header === undefined) continue;
        if (race.header.race.state === 'finished') newest = Math.max(newest, id);
        else notFinished.push(id);
      }
      const stored = connection.read(
        () =>
          orm
            .select({ id: races.id })
            .from(races)
            .where(
              notFinished.length === 0
                ? eq(races.state, 'finished')
                : and(eq(races.state, 'finished'), notInArray(races.id, notFinished)),
            )
            .orderBy(desc(races.id))
            .limit(1)
            .get()?.id ?? 0,
      );
      newest = Math.max(newest, stored);
      return newest === 0 ? undefined : read(newest);
    },

    stats(name) {
      return connection.read(() => ({
        name,
        ...(statsQuery.get(name) as StatsCounts),
        best: bestByRoute(bestQuery.all(name) as BestRow[]),
      }));
    },

    racedName(typed) {
      return connection.read(() => racedNameQuery.get(typed, typed) as string | undefined);
    },

    memberStats(discordId, name) {
      return connection.read(() => ({
        name,
        names: memberNamesQuery.all(discordId) as string[],
        ...(memberStatsQuery.get(discordId) as StatsCounts),
        best: bestByRoute(memberBestQuery.all(discordId) as BestRow[]),
      }));
    },

    leaderboard(route, limit = DEFAULT_LEADERBOARD) {
      checkLimit(limit);
      if (route !== null && !ROUTE_IDS.includes(route)) return [];
      return connection.read(() =>
        (leaderboardQuery.all(route, limit) as BestRow[]).map((row, index) => ({
          place: index + 1,
          name: row.name!,
          ...bestOf(row),
        })),
      );
    },

    recover(now) {
      const stored = connection.read(() =>
        orm
          .select({ id: races.id })
          .from(races)
          .where(inArray(races.state, LIVE_STATES))
          .orderBy(asc(races.id))
          .all()
          .map((row) => row.id),
      );
      const ids = new Set([...stored, ...[...pending.keys()].sort((a, b) => a - b)]);
      const ended: RaceSnapshot[] = [];
      for (const id of ids) {
        const race = read(id);
        if (race === undefined || !LIVE_STATES.includes(race.state)) continue;
        const hadGo = race.goAt !== null || race.state === 'running';
        history.saveRace({ ...race, state: hadGo ? 'finished' : 'cancelled', endedAt: now });
        if (hadGo) {
          for (const entrant of race.entrants) {
            if (UNFINISHED.has(entrant.status)) history.saveEntrant(id, { ...entrant, status: 'dnf' });
          }
        }
        ended.push(read(id)!);
      }
      return ended;
    },
  };
  return history;
}
