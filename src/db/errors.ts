/**
 * DatabaseError: every failure of the persistence layer, with a message that names the database
 * file and the reason, so the caller can print it as one line (and stop start-up on open).
 */
import BetterSqlite3 from 'better-sqlite3';

export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
}

/**
 * "SQLITE_FULL (database or disk is full)", "ENOTDIR (...)" or just the message. drizzle wraps
 * some SQLite errors in one whose message is the whole multi-line query, so the SQLite error is
 * looked for along the cause chain first.
 */
export function describeError(error: unknown): string {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof BetterSqlite3.SqliteError) return `${cause.code} (${cause.message})`;
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.startsWith(code) ? `${code} (${error.message})` : error.message;
  }
  return String(error);
}

/**
 * Runs one database operation and turns any failure into a DatabaseError such as
 * "database data/ghosting.db: write failed: SQLITE_FULL (database or disk is full)".
 */
export function guarded<T>(path: string, what: string, operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    if (error instanceof DatabaseError) throw error;
    throw new DatabaseError(`database ${path}: ${what} failed: ${describeError(error)}`, { cause: error });
  }
}
