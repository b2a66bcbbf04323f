/**
 * One open SQLite file: the better-sqlite3 handle, the drizzle wrapper over it, and a guarded
 * `read` so that every failure becomes a DatabaseError naming the file.
 *
 * Two connections are open on the database: the main thread's, which applies migrations at
 * start-up and then only reads (`query_only`), and the write thread's (src/db/write-worker.ts),
 * which makes every change. Both use the same pragmas, set here.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { DatabaseError, describeError, guarded } from './errors.js';
import * as schema from './schema.js';

export type Orm = BetterSQLite3Database<typeof schema>;

export interface Connection {
  readonly path: string;
  readonly sqlite: BetterSqlite3.Database;
  readonly orm: Orm;
  /** Runs a query, turning failures (closed handle, I/O error, corruption) into a DatabaseError. */
  read<T>(work: () => T): T;
}

/** How long a statement waits for another process holding the lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Creates a directory and its missing parents, one level at a time. (Node's recursive mkdir
 * loops forever where mkdir fails with ENOENT under an existing parent, as in /proc.) Says
 * plainly which directory could not be made and why.
 */
export function makeDirectory(directory: string): void {
  const missing: string[] = [];
  for (let current = resolve(directory); ;) {
    let stats;
    try {
      stats = statSync(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (stats !== undefined) {
      if (!stats.isDirectory()) throw new Error(`ENOTDIR (${current} is not a directory)`);
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(path).isDirectory()) continue;
      throw new Error(`${code ?? 'error'} (cannot create directory ${path})`, { cause: error });
    }
  }
}

/** Which file a path names now: device and inode, or undefined when there is none. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export function identityOf(path: string): FileIdentity | undefined {
  try {
    const stats = statSync(path);
    return { dev: stats.dev, ino: stats.ino };
  } catch {
    return undefined;
  }
}

/**
 * Opens (creating if needed) the file and sets the pragmas. Migrations are applied separately.
 * Throws DatabaseError "cannot open database <path>: <reason>"; the handle is closed on failure.
 * `label` is the path as the operator wrote it, used in messages.
 */
export function openConnection(path: string, label = path): Connection {
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    makeDirectory(dirname(path));
    sqlite = new BetterSqlite3(path);
    // The first statement reads the header, so a file that is not SQLite fails here (SQLITE_NOTADB).
    sqlite.pragma('journal_mode = WAL');
    // FULL syncs the WAL on every commit: a committed ban survives a power cut, not just a crash.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (error) {
    sqlite?.close();
    throw new DatabaseError(`cannot open database ${label}: ${describeError(error)}`, { cause: error });
  }
  const handle = sqlite;
  return {
    path: label,
    sqlite: handle,
    orm: drizzle({ client: handle, schema }),
    read: (work) => guarded(label, 'read', work),
  };
}
