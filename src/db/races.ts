/**
 * Races and their finishes. Each countdown starts a race; every SPEEDRUN_FINISH until the next
 * countdown belongs to it (finishes before any countdown have no race). Results are ordered by
 * the finish time SAR reported, when it can be read, then by when they arrived.
 */
import { asc, desc, eq, sql } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { finishes, races } from './schema.js';

export type Race = typeof races.$inferSelect;
export type Finish = typeof finishes.$inferSelect;

export interface RaceStore {
  start(duration: number): Race;
  /** The most recent race, if any. */
  latest(): Race | undefined;
  get(id: number): Race | undefined;
  recordFinish(finish: { raceId: number | null; player: string; clientId: number; time: string }): Finish;
  /** A race's finishes, fastest first. */
  results(raceId: number): Finish[];
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

export function createRaceStore(connection: Connection): RaceStore {
  const { orm } = connection;
  return {
    start(duration) {
      return connection.write(() => orm.insert(races).values({ startedAt: new Date(), duration }).returning().get());
    },

    latest() {
      return connection.read(() => orm.select().from(races).orderBy(desc(races.id)).limit(1).get());
    },

    get(id) {
      return connection.read(() => orm.select().from(races).where(eq(races.id, id)).get());
    },

    recordFinish(finish) {
      const row = { ...finish, timeMs: parseFinishTime(finish.time), finishedAt: new Date() };
      return connection.write(() => orm.insert(finishes).values(row).returning().get());
    },

    results(raceId) {
      return connection.read(() =>
        orm
          .select()
          .from(finishes)
          .where(eq(finishes.raceId, raceId))
          // Unreadable times sort last.
          .orderBy(sql`${finishes.timeMs} IS NULL`, asc(finishes.timeMs), asc(finishes.id))
          .all(),
      );
    },
  };
}
