/**
 * One open SQLite file: the better-sqlite3 handle, the drizzle wrapper over it, and the two ways
 * the stores touch it (read, write) so that every failure becomes a DatabaseError naming the file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { DatabaseError, describeError, guarded } from './errors.js';
import * as schema from './schema.js';

export type Orm = BetterSQLite3Database<typeof schema>;

export interface Connection {
  readonly path: string;
  readonly sqlite: BetterSqlite3.Database;
  readonly orm: Orm;
  /**
   * Runs `work` in one IMMEDIATE transaction (the write lock is taken up front, so two processes
   * cannot deadlock upgrading a read lock). If anything fails — SQLITE_FULL, SQLITE_IOERR, a
   * constraint — the transaction is rolled back, leaving the file unchanged, and a DatabaseError
   * is thrown. `work` must be synchronous.
   */
  write<T>(work: () => T): T;
  /** Runs a query, turning failures (closed handle, I/O error, corruption) into a DatabaseError. */
  read<T>(work: () => T): T;
}

/** How long a statement waits for another process holding the lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '';
}

/** mkdir -p of the file's directory; says plainly when part of that path is a regular file. */
function createParentDirectory(path: string): void {
  const directory = dirname(path);
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new Error(`${code} (${directory} is not a directory)`);
    throw error;
  }
}

/**
 * Opens (creating if needed) the file and sets the pragmas. Migrations are applied separately.
 * Throws DatabaseError "cannot open database <path>: <reason>"; the handle is closed on failure.
 */
export function openConnection(path: string): Connection {
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    if (!isInMemory(path)) createParentDirectory(path);
    sqlite = new BetterSqlite3(path);
    // The first statement reads the header, so a file that is not SQLite fails here (SQLITE_NOTADB).
    sqlite.pragma('journal_mode = WAL');
    // FULL syncs the WAL on every commit: a committed ban survives a power cut, not just a crash.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (error) {
    sqlite?.close();
    throw new DatabaseError(`cannot open database ${path}: ${describeError(error)}`, { cause: error });
  }
  const handle = sqlite;
  return {
    path,
    sqlite: handle,
    orm: drizzle({ client: handle, schema }),
    write: (work) => guarded(path, 'write', () => handle.transaction(work).immediate()),
    read: (work) => guarded(path, 'read', work),
  };
}
