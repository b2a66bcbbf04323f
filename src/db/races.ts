/**
 * Races and their finishes. Each countdown starts a race; every SPEEDRUN_FINISH until the next
 * countdown belongs to it (finishes before any countdown have no race). Results are ordered by
 * the finish time SAR reported, when it can be read, then by when they arrived.
 *
 * Writes never wait and never fail the caller (a failure is logged by the write thread's
 * writer): `start` hands back a RaceRef at once, and a finish recorded with it is stored with
 * the race's id, in the order they were made, even before the race itself is committed.
 */
import { asc, desc, eq, sql } from 'drizzle-orm';
import type { Connection } from './connection.js';
import type { RaceRef } from './operations.js';
import { finishes, races } from './schema.js';
import type { Writer } from './writer.js';

export type { RaceRef };
export type Race = typeof races.$inferSelect;
export type Finish = typeof finishes.$inferSelect;

export interface NewFinish {
  /** The race it belongs to: what `start` returned, `{ id }` of a stored race, or null for none. */
  race: RaceRef;
  player: string;
  clientId: number;
  time: string;
}

export interface RaceStore {
  /**
   * Queues a new race. `race` names it for the finishes that follow; `stored` resolves with the
   * stored race, or undefined if it could not be stored (its finishes then have no race).
   */
  start(duration: number): { race: RaceRef; stored: Promise<Race | undefined> };
  /** The most recent stored race, if any. */
  latest(): Race | undefined;
  get(id: number): Race | undefined;
  /** Queues a finish; resolves with the stored row, or undefined if it could not be stored. */
  recordFinish(finish: NewFinish): Promise<Finish | undefined>;
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

export function createRaceStore(connection: Connection, writer: Writer): RaceStore {
  const { orm } = connection;
  let tokens = 0;
  return {
    start(duration) {
      const token = ++tokens;
      return { race: { token }, stored: writer.fire('races.start', { token, startedAt: new Date(), duration }) };
    },

    latest() {
      return connection.read(() => orm.select().from(races).orderBy(desc(races.id)).limit(1).get());
    },

    get(id) {
      return connection.read(() => orm.select().from(races).where(eq(races.id, id)).get());
    },

    recordFinish(finish) {
      return writer.fire('races.finish', { ...finish, timeMs: parseFinishTime(finish.time), finishedAt: new Date() });
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
