/**
 * Applies the SQL migrations that drizzle-kit generated into drizzle/ at the repository root.
 * The folder is resolved relative to this module, which sits two levels below the root both as
 * src/db/migrate.ts (tests, tsx) and as dist/db/migrate.js (built), so it works from either.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Connection } from './connection.js';
import { DatabaseError, describeError } from './errors.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle/', import.meta.url));

/** drizzle's bookkeeping table: one row per applied migration, created_at = its journal time. */
const MIGRATIONS_TABLE = '__drizzle_migrations';

/**
 * Brings the schema up to date in one transaction (drizzle's migrator rolls back on failure).
 * Throws DatabaseError "database <path>: migration failed: <reason>".
 */
export function applyMigrations(connection: Connection, folder = MIGRATIONS_FOLDER): void {
  const fail = (reason: string, cause?: unknown): never => {
    throw new DatabaseError(`database ${connection.path}: migration failed: ${reason}`, { cause });
  };
  if (!existsSync(join(folder, 'meta', '_journal.json'))) {
    fail(`no migrations found: ${join(folder, 'meta', '_journal.json')} is missing`);
  }
  let latestKnown = 0;
  let latestApplied = 0;
  let broken: number | undefined;
  const { sqlite } = connection;
  // drizzle-kit changes a table by building a new copy, dropping the old one and renaming the
  // copy, which a foreign key pointing at the old one forbids. SQLite ignores `foreign_keys`
  // inside a transaction (the `PRAGMA foreign_keys=OFF` in such a migration does nothing), so
  // the keys are off around the migrator, as SQLite's own procedure for table changes says, and
  // checked once it has applied something.
  sqlite.pragma('foreign_keys = OFF');
  try {
    for (const migration of readMigrationFiles({ migrationsFolder: folder })) {
      latestKnown = Math.max(latestKnown, migration.folderMillis);
    }
    const appliedBefore = countApplied(connection);
    migrate(connection.orm, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE });
    const row = sqlite.prepare(`SELECT max(created_at) AS latest FROM "${MIGRATIONS_TABLE}"`).get() as
      { latest: number | null } | undefined;
    latestApplied = Number(row?.latest ?? 0);
    if (countApplied(connection) !== appliedBefore) broken = (sqlite.pragma('foreign_key_check') as unknown[]).length;
  } catch (error) {
    fail(describeError(error), error);
  } finally {
    if (sqlite.open) sqlite.pragma('foreign_keys = ON');
  }
  if (broken !== undefined && broken > 0) {
    fail(`${broken} row${broken === 1 ? ' refers' : 's refer'} to rows that do not exist (PRAGMA foreign_key_check)`);
  }
  // drizzle only applies migrations newer than the last one recorded, so a database written by a
  // newer ghosting would otherwise be used silently with a schema this version does not know.
  if (latestApplied > latestKnown) {
    fail('the database was written by a newer version of ghosting (it has migrations this version does not know)');
  }
}

/** How many migrations the database has recorded (0 for a new file). */
function countApplied(connection: Connection): number {
  const table = connection.sqlite
    .prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`)
    .pluck()
    .get(MIGRATIONS_TABLE) as number;
  if (table === 0) return 0;
  return connection.sqlite.prepare(`SELECT count(*) FROM "${MIGRATIONS_TABLE}"`).pluck().get() as number;
}
