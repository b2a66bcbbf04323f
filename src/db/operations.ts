/**
 * Every change to the database, as a fixed set of named operations that the write thread
 * (src/db/write-worker.ts) runs. The main thread never writes: a store method sends the name
 * and its arguments to the thread (`writer.run(name, args)`), which runs whatever is queued in
 * one IMMEDIATE transaction, each operation in its own savepoint, and replies once it is
 * committed.
 *
 * Arguments and results cross between threads by structured clone: plain objects, strings,
 * numbers, booleans, null and Date — no functions, no class instances. Every time and id that
 * a result needs is decided here or by the caller (for example `createdAt`), so that what the
 * caller gets back is exactly the stored row.
 *
 * To add an operation (issue 12 adds map changes and splits this way):
 *  1. add a function below: `'things.add': (db, args: { ... }) => ...`, synchronous, using only
 *     `db.orm` (drizzle) or `db.sqlite`; throw to fail it — only its own savepoint is rolled
 *     back, the other operations of the batch are committed;
 *  2. add a store method on the main thread that calls `writer.run('things.add', args)` and
 *     awaits it (it rejects with a DatabaseError when the operation, the commit, the queue or
 *     the thread fails), or `writer.fire(...)` for writes nobody waits for (failures are logged
 *     once by the writer, never thrown);
 *  3. to tie a row to the race being run, take a `RaceRef` from the caller and turn it into an
 *     id with `raceIdOf(db, ref)`, as `races.finish` does: a race started a moment ago may not be
 *     committed yet, so the main thread only knows it by its token.
 * Names and argument types are checked by TypeScript on both sides (OperationName, ArgsOf,
 * ResultOf).
 */
import { and, eq, gt, isNull, or, type SQL } from 'drizzle-orm';
import type BetterSqlite3 from 'better-sqlite3';
import type { Orm } from './connection.js';
import {
  auditLog,
  bans,
  discordGrants,
  finishes,
  pluginData,
  races,
  settings,
  whitelistEntries,
  type AuditSource,
  type GrantSubject,
  type WhitelistKind,
} from './schema.js';

/** What an operation runs against: the write thread's connection and what it remembers. */
export interface WriteSession {
  orm: Orm;
  sqlite: BetterSqlite3.Database;
  /** Races started by this process, by the token the main thread gave them (see RaceRef). */
  raceTokens: Map<number, number>;
}

/**
 * A race as the main thread knows it: by id once stored, or by the token of a `races.start`
 * that may still be queued. A token whose start failed resolves to no race (null).
 */
export type RaceRef = { id: number } | { token: number } | null;

/** How many race tokens the write thread remembers: only the latest is ever referred to. */
const RACE_TOKENS_KEPT = 16;

export function raceIdOf(session: WriteSession, ref: RaceRef): number | null {
  if (ref === null) return null;
  if ('id' in ref) return ref.id;
  return session.raceTokens.get(ref.token) ?? null;
}

function activeAt(now: Date): SQL {
  return or(isNull(bans.expiresAt), gt(bans.expiresAt, now))!;
}

const pluginKey = (plugin: string, key: string) => and(eq(pluginData.plugin, plugin), eq(pluginData.key, key));
const grantOf = (subject: GrantSubject, subjectId: string) =>
  and(eq(discordGrants.subject, subject), eq(discordGrants.subjectId, subjectId));

export const WHITELIST_ENABLED_KEY = 'whitelist_enabled';
/** Written by the start-up probe: proves the file can be written, and says when it last was. */
export const LAST_OPENED_KEY = 'last_opened_at';

export const operations = {
  'bans.add': (db: WriteSession, row: typeof bans.$inferInsert) => db.orm.insert(bans).values(row).returning().get(),

  /** Deletes every ban on this ip or name; returns how many of them were active at `now`. */
  'bans.remove': (db: WriteSession, args: { by: 'ip' | 'name'; value: string; now: Date }) => {
    const match = args.by === 'ip' ? eq(bans.ip, args.value) : eq(bans.name, args.value);
    const active = db.orm
      .select({ id: bans.id })
      .from(bans)
      .where(and(match, activeAt(args.now)))
      .all().length;
    db.orm.delete(bans).where(match).run();
    return active;
  },

  'bans.removeById': (db: WriteSession, args: { id: number }) =>
    db.orm.delete(bans).where(eq(bans.id, args.id)).run().changes > 0,

  'whitelist.setEnabled': (db: WriteSession, args: { enabled: boolean }) => {
    const value = args.enabled ? '1' : '0';
    db.orm
      .insert(settings)
      .values({ key: WHITELIST_ENABLED_KEY, value })
      .onConflictDoUpdate({ target: settings.key, set: { value } })
      .run();
  },

  'whitelist.add': (db: WriteSession, row: { kind: WhitelistKind; value: string; addedBy: string; addedAt: Date }) =>
    db.orm
      .insert(whitelistEntries)
      .values(row)
      .onConflictDoNothing({ target: [whitelistEntries.kind, whitelistEntries.value] })
      .run().changes > 0,

  'whitelist.remove': (db: WriteSession, args: { kind: WhitelistKind; value: string }) =>
    db.orm
      .delete(whitelistEntries)
      .where(and(eq(whitelistEntries.kind, args.kind), eq(whitelistEntries.value, args.value)))
      .run().changes > 0,

  /** Returns the entry's id. */
  'audit.record': (
    db: WriteSession,
    row: { at: Date; actor: string; source: AuditSource; action: string; detail: string | null },
  ) => db.orm.insert(auditLog).values(row).returning({ id: auditLog.id }).get().id,

  'grants.grant': (db: WriteSession, row: typeof discordGrants.$inferInsert) => {
    db.orm.delete(discordGrants).where(grantOf(row.subject, row.subjectId)).run();
    db.orm.insert(discordGrants).values(row).run();
  },

  'grants.revoke': (db: WriteSession, args: { subject: GrantSubject; subjectId: string }) =>
    db.orm.delete(discordGrants).where(grantOf(args.subject, args.subjectId)).run().changes > 0,

  /** Stores a race and remembers its id under the main thread's token. */
  'races.start': (db: WriteSession, args: { token: number; startedAt: Date; duration: number }) => {
    const race = db.orm.insert(races).values({ startedAt: args.startedAt, duration: args.duration }).returning().get();
    db.raceTokens.set(args.token, race.id);
    for (const token of db.raceTokens.keys()) {
      if (db.raceTokens.size <= RACE_TOKENS_KEPT) break;
      db.raceTokens.delete(token);
    }
    return race;
  },

  'races.finish': (
    db: WriteSession,
    args: {
      race: RaceRef;
      player: string;
      clientId: number;
      time: string;
      timeMs: number | null;
      finishedAt: Date;
    },
  ) => {
    const { race, ...row } = args;
    return db.orm
      .insert(finishes)
      .values({ ...row, raceId: raceIdOf(db, race) })
      .returning()
      .get();
  },

  'pluginData.set': (db: WriteSession, args: { plugin: string; key: string; value: string }) => {
    db.orm.delete(pluginData).where(pluginKey(args.plugin, args.key)).run();
    db.orm.insert(pluginData).values(args).run();
  },

  'pluginData.delete': (db: WriteSession, args: { plugin: string; key: string }) =>
    db.orm.delete(pluginData).where(pluginKey(args.plugin, args.key)).run().changes > 0,

  /** The start-up probe: a real committed write, so a file that cannot be written stops start-up. */
  'settings.lastOpened': (db: WriteSession, args: { at: Date }) => {
    const value = args.at.toISOString();
    db.orm
      .insert(settings)
      .values({ key: LAST_OPENED_KEY, value })
      .onConflictDoUpdate({ target: settings.key, set: { value } })
      .run();
  },
};

export type Operations = typeof operations;
export type OperationName = keyof Operations;
export type ArgsOf<N extends OperationName> = Parameters<Operations[N]>[1];
export type ResultOf<N extends OperationName> = ReturnType<Operations[N]>;
