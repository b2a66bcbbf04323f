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
 * To add an operation:
 *  1. add a function below: `'things.add': (db, args: { ... }) => ...`, synchronous, using only
 *     `db.orm` (drizzle) or `db.sqlite`; throw to fail it — only its own savepoint is rolled
 *     back, the other operations of the batch are committed;
 *  2. add a store method on the main thread that calls `writer.run('things.add', args)` and
 *     awaits it (it rejects with a DatabaseError when the operation, the commit, the queue or
 *     the thread fails), or `writer.fire(...)` for writes nobody waits for (failures are logged
 *     once by the writer, never thrown);
 *  3. ids a caller needs at once are decided on the main thread and inserted as they are (race
 *     ids: RaceHistory.nextId), so later writes can refer to a row that is not committed yet.
 * Names and argument types are checked by TypeScript on both sides (OperationName, ArgsOf,
 * ResultOf).
 */
import { and, asc, eq, gt, inArray, isNull, or, type SQL } from 'drizzle-orm';
import type BetterSqlite3 from 'better-sqlite3';
import type { Orm } from './connection.js';
import {
  auditLog,
  bans,
  discordGrants,
  linkAddresses,
  memberBans,
  playerLinks,
  pluginData,
  raceCards,
  raceEntrants,
  races,
  raceSplits,
  settings,
  whitelistEntries,
  type AuditSource,
  type GrantSubject,
  type WhitelistKind,
} from './schema.js';

/** What an operation runs against: the write thread's connection. */
export interface WriteSession {
  orm: Orm;
  sqlite: BetterSqlite3.Database;
}

export type RaceRow = typeof races.$inferSelect;
export type EntrantRow = typeof raceEntrants.$inferSelect;
export type SplitRow = typeof raceSplits.$inferSelect;

/**
 * Race writes come in numbers (a split and an entrant for each map change of each runner), so
 * their statements are prepared once per connection: drizzle builds and compiles a statement
 * on every call, about 250 µs on the write thread against about 10 µs for a prepared one.
 */
const prepared = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>();

function statement(db: WriteSession, text: string): BetterSqlite3.Statement {
  let cache = prepared.get(db.sqlite);
  if (cache === undefined) prepared.set(db.sqlite, (cache = new Map()));
  let compiled = cache.get(text);
  if (compiled === undefined) cache.set(text, (compiled = db.sqlite.prepare(text)));
  return compiled;
}

const ms = (date: Date | null): number | null => (date === null ? null : date.getTime());

const SAVE_RACE = `
  INSERT INTO races (id, kind, title, state, opened_by, opened_at, countdown_seconds, started_at, go_at, ended_at, route)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title, state = excluded.state,
    opened_by = excluded.opened_by, opened_at = excluded.opened_at, countdown_seconds = excluded.countdown_seconds,
    started_at = excluded.started_at, go_at = excluded.go_at, ended_at = excluded.ended_at, route = excluded.route`;

const SAVE_ENTRANT = `
  INSERT INTO race_entrants (race_id, name, client_id, status, map, finish_time, finish_time_ms, finish_elapsed_ms,
    finish_place, finished_at, forfeited_at_ms)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (race_id, name) DO UPDATE SET client_id = excluded.client_id, status = excluded.status,
    map = excluded.map, finish_time = excluded.finish_time, finish_time_ms = excluded.finish_time_ms,
    finish_elapsed_ms = excluded.finish_elapsed_ms, finish_place = excluded.finish_place,
    finished_at = excluded.finished_at, forfeited_at_ms = excluded.forfeited_at_ms`;

const ADD_SPLIT = `
  INSERT INTO race_splits (id, race_id, entrant_name, from_map, to_map, ticks, ticks_total, elapsed_ms, at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

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

  /** Stores a race's header (not its entrants), or replaces it: the id is the main thread's. */
  'races.save': (db: WriteSession, row: RaceRow) => {
    statement(db, SAVE_RACE).run(
      row.id,
      row.kind,
      row.title,
      row.state,
      row.openedBy,
      row.openedAt.getTime(),
      row.countdownSeconds,
      ms(row.startedAt),
      ms(row.goAt),
      ms(row.endedAt),
      row.route,
    );
  },

  /** Stores an entrant of a race, or replaces the one of that name in it. */
  'races.saveEntrant': (db: WriteSession, row: EntrantRow) => {
    statement(db, SAVE_ENTRANT).run(
      row.raceId,
      row.name,
      row.clientId,
      row.status,
      row.map,
      row.finishTime,
      row.finishTimeMs,
      row.finishElapsedMs,
      row.finishPlace,
      ms(row.finishedAt),
      row.forfeitedAtMs,
    );
  },

  /** Forgets an entrant (who left before the go) with any splits stored under its name. */
  'races.removeEntrant': (db: WriteSession, args: { raceId: number; name: string }) => {
    statement(db, 'DELETE FROM race_splits WHERE race_id = ? AND entrant_name = ?').run(args.raceId, args.name);
    statement(db, 'DELETE FROM race_entrants WHERE race_id = ? AND name = ?').run(args.raceId, args.name);
  },

  /** Adds one split (its id is the main thread's). */
  'races.addSplit': (db: WriteSession, row: SplitRow) => {
    statement(db, ADD_SPLIT).run(
      row.id,
      row.raceId,
      row.entrantName,
      row.fromMap,
      row.toMap,
      row.ticks,
      row.ticksTotal,
      row.elapsedMs,
      row.at.getTime(),
    );
  },

  'pluginData.set': (db: WriteSession, args: { plugin: string; key: string; value: string }) => {
    db.orm.delete(pluginData).where(pluginKey(args.plugin, args.key)).run();
    db.orm.insert(pluginData).values(args).run();
  },

  'pluginData.delete': (db: WriteSession, args: { plugin: string; key: string }) =>
    db.orm.delete(pluginData).where(pluginKey(args.plugin, args.key)).run().changes > 0,

  /**
   * Links a name to a member and confirms the address it was linked from. A name that changes
   * owner forgets the addresses its earlier owner confirmed.
   */
  'identity.link': (
    db: WriteSession,
    args: { name: string; discordId: string; discordName: string; address: string; at: Date },
  ) => {
    const earlier = db.orm
      .select({ discordId: playerLinks.discordId })
      .from(playerLinks)
      .where(eq(playerLinks.name, args.name))
      .get();
    if (earlier !== undefined && earlier.discordId !== args.discordId)
      db.orm.delete(linkAddresses).where(eq(linkAddresses.name, args.name)).run();
    const link = { discordId: args.discordId, discordName: args.discordName, linkedAt: args.at };
    db.orm
      .insert(playerLinks)
      .values({ name: args.name, ...link })
      .onConflictDoUpdate({ target: playerLinks.name, set: link })
      .run();
    db.orm
      .insert(linkAddresses)
      .values({ name: args.name, address: args.address, confirmedAt: args.at })
      .onConflictDoNothing()
      .run();
  },

  /** Forgets a link and its confirmed addresses; false if the name was not linked. */
  'identity.unlink': (db: WriteSession, args: { name: string }) => {
    db.orm.delete(linkAddresses).where(eq(linkAddresses.name, args.name)).run();
    return db.orm.delete(playerLinks).where(eq(playerLinks.name, args.name)).run().changes > 0;
  },

  /** Forgets every link of a member; returns the names it had. */
  'identity.unlinkMember': (db: WriteSession, args: { discordId: string }) => {
    const names = db.orm
      .select({ name: playerLinks.name })
      .from(playerLinks)
      .where(eq(playerLinks.discordId, args.discordId))
      .orderBy(asc(playerLinks.name))
      .all()
      .map((row) => row.name);
    if (names.length > 0) db.orm.delete(linkAddresses).where(inArray(linkAddresses.name, names)).run();
    db.orm.delete(playerLinks).where(eq(playerLinks.discordId, args.discordId)).run();
    return names;
  },

  /** Confirms an address for a linked name (nothing when the name is not linked); true if it was new. */
  'identity.confirm': (db: WriteSession, args: { name: string; address: string; at: Date }) => {
    const linked = db.orm
      .select({ name: playerLinks.name })
      .from(playerLinks)
      .where(eq(playerLinks.name, args.name))
      .get();
    if (linked === undefined) return false;
    return (
      db.orm
        .insert(linkAddresses)
        .values({ name: args.name, address: args.address, confirmedAt: args.at })
        .onConflictDoNothing()
        .run().changes > 0
    );
  },

  /** Bans a member, or replaces their ban's reason. */
  'identity.banMember': (db: WriteSession, row: typeof memberBans.$inferInsert) => {
    const set = { reason: row.reason ?? null, createdBy: row.createdBy, createdAt: row.createdAt };
    db.orm.insert(memberBans).values(row).onConflictDoUpdate({ target: memberBans.discordId, set }).run();
  },

  'identity.unbanMember': (db: WriteSession, args: { discordId: string }) =>
    db.orm.delete(memberBans).where(eq(memberBans.discordId, args.discordId)).run().changes > 0,

  /** The message of a race's card; a card posted again replaces it. */
  'raceCards.remember': (db: WriteSession, row: typeof raceCards.$inferInsert) => {
    const set = { channelId: row.channelId, messageId: row.messageId };
    db.orm.insert(raceCards).values(row).onConflictDoUpdate({ target: raceCards.raceId, set }).run();
  },

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
