/**
 * The persistence layer's entry point: openDatabase() opens (or creates) the SQLite file, brings
 * its schema up to date and hands back the stores. Everything is synchronous (better-sqlite3):
 * each call is a complete read or a committed transaction by the time it returns.
 *
 * Every failure is a DatabaseError whose message names the file and the reason, e.g.
 * "cannot open database data/ghosting.db: SQLITE_CANTOPEN (unable to open database file)".
 */
import { createAuditLog, type AuditLog } from './audit.js';
import { createBanStore, type BanStore } from './bans.js';
import { openConnection } from './connection.js';
import { applyMigrations } from './migrate.js';
import { createWhitelistStore, type WhitelistStore } from './whitelist.js';
import { createGrantStore, type GrantStore } from './grants.js';
import { createRaceStore, type RaceStore } from './races.js';
import { createPluginDataStore, type PluginDataStore } from './plugin-data.js';

export { DatabaseError } from './errors.js';
export { MIGRATIONS_FOLDER } from './migrate.js';
export type { Ban, BanStore, NewBan } from './bans.js';
export type { WhitelistEntry, WhitelistKind, WhitelistStore } from './whitelist.js';
export type { PluginDataStore } from './plugin-data.js';
export type { Grant, GrantStore, GrantSubject, PermissionLevel } from './grants.js';
export { parseFinishTime, type Finish, type Race, type RaceStore } from './races.js';
export { AUDIT_SOURCES, type AuditEntry, type AuditInput, type AuditLog, type AuditSource } from './audit.js';

export interface Store {
  readonly path: string;
  readonly bans: BanStore;
  readonly whitelist: WhitelistStore;
  readonly audit: AuditLog;
  readonly grants: GrantStore;
  readonly races: RaceStore;
  readonly pluginData: PluginDataStore;
  /** Closes the file; later calls on the stores throw DatabaseError. Safe to call twice. */
  close(): void;
}

/**
 * Opens the database at `path` (":memory:" for a throwaway one), creating the file and its parent
 * directory if missing, and applies pending migrations from drizzle/. On any failure the handle
 * is closed and a DatabaseError is thrown: the caller should stop start-up with its message.
 */
export function openDatabase(path: string): Store {
  const connection = openConnection(path);
  try {
    applyMigrations(connection);
  } catch (error) {
    connection.sqlite.close();
    throw error;
  }
  return {
    path,
    bans: createBanStore(connection),
    whitelist: createWhitelistStore(connection),
    audit: createAuditLog(connection),
    grants: createGrantStore(connection),
    races: createRaceStore(connection),
    pluginData: createPluginDataStore(connection),
    close() {
      if (connection.sqlite.open) connection.sqlite.close();
    },
  };
}
