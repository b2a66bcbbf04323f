/**
 * The persistence layer's entry point: openDatabase() opens (or creates) the SQLite file, brings
 * its schema up to date and hands back the stores.
 *
 * Reads are synchronous, on the main thread's connection: a complete read by the time they
 * return. Every change is made by the write thread (src/db/writer.ts, src/db/write-worker.ts),
 * so the tick never waits for the disk: a write method returns a Promise that resolves once the
 * change is committed (synchronous = FULL: it survives kill -9 and a power cut) and rejects with
 * a DatabaseError if it is not. Writes nobody waits for (audit lines, race history, plugin
 * storage) never reject; their failures are logged once by the writer.
 *
 * Every failure is a DatabaseError whose message names the file and the reason, e.g.
 * "cannot open database data/ghosting.db: SQLITE_CANTOPEN (unable to open database file)".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { createAuditLog, type AuditLog } from './audit.js';
import { createBanStore, type BanStore } from './bans.js';
import { identityOf, openConnection } from './connection.js';
import { applyMigrations } from './migrate.js';
import { createWhitelistStore, type WhitelistStore } from './whitelist.js';
import { createGrantStore, type GrantStore } from './grants.js';
import { createRaceHistory, type RaceHistory } from './races.js';
import { createPluginDataStore, type PluginDataStore } from './plugin-data.js';
import { createIdentityStore, type IdentityStore } from './identity.js';
import { createRaceCardStore, type RaceCardStore } from './race-cards.js';
import { Writer, type WriteStats } from './writer.js';

export { DatabaseError } from './errors.js';
export { MIGRATIONS_FOLDER } from './migrate.js';
export type { Ban, BanStore, NewBan } from './bans.js';
export type { WhitelistEntry, WhitelistKind, WhitelistStore } from './whitelist.js';
export type { PluginDataStore } from './plugin-data.js';
export type { IdentityStore, MemberLink } from './identity.js';
export type { RaceCardMessage, RaceCardStore } from './race-cards.js';
export type { Grant, GrantStore, GrantSubject, PermissionLevel } from './grants.js';
export { parseFinishTime, type LeaderboardRow, type PlayerStats, type RaceHistory, type RaceSummary } from './races.js';
export { AUDIT_SOURCES, type AuditEntry, type AuditInput, type AuditLog, type AuditSource } from './audit.js';
export type { WriteStats } from './writer.js';

export interface DatabaseOptions {
  /** Where write failures are logged (once per outage). */
  logger?: Logger;
  /** How many writes may wait for the disk before new ones are refused (`[database] max_queued_writes`). */
  maxQueuedWrites?: number;
  /** Where `backup` puts copies named by a relative path (`[database] backup_directory`). */
  backupDirectory?: string;
}

export const DEFAULT_MAX_QUEUED_WRITES = 10_000;
export const DEFAULT_BACKUP_DIRECTORY = 'data/backups';

export interface Store {
  readonly path: string;
  readonly bans: BanStore;
  readonly whitelist: WhitelistStore;
  readonly audit: AuditLog;
  readonly grants: GrantStore;
  /** Races, their entrants and splits (src/db/races.ts). */
  readonly races: RaceHistory;
  readonly pluginData: PluginDataStore;
  /** SAR names linked to Discord members, their confirmed addresses, banned members (src/db/identity.ts). */
  readonly identity: IdentityStore;
  /** The Discord message of each race's card (src/db/race-cards.ts). */
  readonly raceCards: RaceCardStore;
  /** `[database] backup_directory`: where copies named by a relative path go. */
  readonly backupDirectory: string;
  /** Writes waiting, committed, failed, refused; transactions run. */
  readonly writes: WriteStats;
  /** The write thread itself (counters, flush, and `kill` for tests of a crashed thread). */
  readonly writer: Writer;
  /**
   * Resolves once the write thread has opened the file and committed a probe write; rejects
   * with a DatabaseError ("database data/ghosting.db cannot be written: SQLITE_READONLY ...")
   * otherwise. Nothing that writes should serve anyone before this.
   */
  ready(): Promise<void>;
  /** Resolves once every write queued so far has been committed or has failed. */
  flush(): Promise<void>;
  /**
   * Copies the database to `destination` (a path that must not exist yet) with SQLite's online
   * backup, on the write thread: writes go on meanwhile. Resolves with the copy's size in bytes.
   */
  backup(destination: string): Promise<number>;
  /**
   * Closes the file: reads throw a DatabaseError at once, writes already queued are committed,
   * later ones fail; resolves once the write thread has stopped. Never rejects; safe to call
   * twice.
   */
  close(): Promise<void>;
}

/**
 * Opens the database at `path` (":memory:" for a throwaway one, kept in a temporary file until
 * close), creating the file and its parent directory if missing, applies pending migrations
 * from drizzle/ and starts the write thread. On any failure the handle is closed and a
 * DatabaseError is thrown: the caller should stop start-up with its message. Await `ready()`
 * before serving: a file that opens but cannot be written fails there.
 */
export function openDatabase(path: string, options: DatabaseOptions = {}): Store {
  const throwaway = path === ':memory:' || path === '' ? mkdtempSync(join(tmpdir(), 'ghosting-memory-')) : undefined;
  const file = throwaway !== undefined ? join(throwaway, 'ghosting.db') : path;
  const discard = () => {
    if (throwaway !== undefined) rmSync(throwaway, { recursive: true, force: true });
  };
  let connection;
  try {
    connection = openConnection(file, path);
    applyMigrations(connection);
  } catch (error) {
    connection?.sqlite.close();
    discard();
    throw error;
  }
  const reader = connection;
  // The main thread only reads from here on; every change goes through the write thread.
  reader.sqlite.pragma('query_only = ON');
  const identity = identityOf(file);
  const writer = new Writer({
    data: { path: file, label: path, ...(identity !== undefined ? { identity } : {}) },
    maxQueuedWrites: options.maxQueuedWrites ?? DEFAULT_MAX_QUEUED_WRITES,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  let closing: Promise<void> | undefined;
  return {
    path,
    bans: createBanStore(reader, writer),
    whitelist: createWhitelistStore(reader, writer),
    audit: createAuditLog(reader, writer),
    grants: createGrantStore(reader, writer),
    races: createRaceHistory(reader, writer, options.logger),
    pluginData: createPluginDataStore(reader, writer),
    identity: createIdentityStore(reader, writer),
    raceCards: createRaceCardStore(reader, writer),
    backupDirectory: options.backupDirectory ?? DEFAULT_BACKUP_DIRECTORY,
    get writes() {
      return writer.stats;
    },
    writer,
    ready: () => writer.ready(),
    flush: () => writer.flush(),
    backup: (destination) => writer.backup(destination),
    close() {
      // Reads stop at once; the write thread then commits what is queued and closes its side.
      if (reader.sqlite.open) reader.sqlite.close();
      closing ??= writer.close().finally(discard);
      return closing;
    },
  };
}
