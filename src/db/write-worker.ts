/**
 * The write thread: owns the only connection that changes the database, so that waiting for
 * the disk (synchronous = FULL syncs the WAL on every commit) never holds up the main thread's
 * tick. The main thread's side is src/db/writer.ts; the operations are in src/db/operations.ts.
 *
 * Start-up: open the file (WAL, synchronous = FULL, foreign keys), check it is the file the main
 * thread opened, and commit a probe write; reply `ready`, or `failed` with one line and exit.
 *
 * Then, whatever has been queued since the last commit runs as one batch: one IMMEDIATE
 * transaction, each operation in its own savepoint, so a failing operation is rolled back alone
 * and reported; if the commit fails, every operation of the batch fails. Before and after the
 * commit the file at the configured path must still be the one open (same device and inode):
 * if it was deleted or replaced, the batch is rolled back or not acknowledged, and every later
 * write fails, because what is written to a deleted file is lost at the next start.
 */
import { closeSync, openSync, rmSync, statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { identityOf, openConnection, type Connection, type FileIdentity } from './connection.js';
import { describeError } from './errors.js';
import { operations, type OperationName, type WriteSession } from './operations.js';
import type { FromWriter, ToWriter, WriterData, WriteResult } from './writer.js';

const port = parentPort!;
const data = workerData as WriterData;
const post = (message: FromWriter) => port.postMessage(message);

function sameFile(expected: FileIdentity): boolean {
  const now = identityOf(data.path);
  return now !== undefined && now.dev === expected.dev && now.ino === expected.ino;
}

const replacedMessage = `database file ${data.label} was removed or replaced; restart the server`;

class ReplacedError extends Error {}

function start(): { connection: Connection; identity: FileIdentity; session: WriteSession } | undefined {
  let connection: Connection;
  try {
    connection = openConnection(data.path, data.label);
  } catch (error) {
    post({ type: 'failed', message: (error as Error).message });
    return undefined;
  }
  const identity = identityOf(data.path);
  if (identity === undefined || (data.identity !== undefined && !sameFile(data.identity))) {
    connection.sqlite.close();
    post({ type: 'failed', message: replacedMessage });
    return undefined;
  }
  const session: WriteSession = { orm: connection.orm, sqlite: connection.sqlite };
  try {
    connection.sqlite.transaction(() => operations['settings.lastOpened'](session, { at: new Date() })).immediate();
    if (!sameFile(identity)) throw new ReplacedError(replacedMessage);
  } catch (error) {
    connection.sqlite.close();
    post({
      type: 'failed',
      message:
        error instanceof ReplacedError
          ? error.message
          : `database ${data.label} cannot be written: ${describeError(error)}`,
    });
    return undefined;
  }
  return { connection, identity, session };
}

const opened = start();

if (opened === undefined) {
  port.close();
} else {
  const { connection, identity, session } = opened;
  const { sqlite } = connection;
  type Write = Extract<ToWriter, { type: 'write' }>;
  const queue: Write[] = [];
  let scheduled = false;
  let broken: string | undefined;
  let closing = false;
  const backups = new Set<Promise<void>>();

  // Called inside the batch's transaction, a better-sqlite3 transaction is a savepoint: a failure
  // rolls back that one operation.
  const savepoint = sqlite.transaction((run: () => unknown) => run());
  const runOperations = sqlite.transaction((batch: Write[], results: WriteResult[]) => {
    for (const write of batch) {
      try {
        const operation = operations[write.name as OperationName] as (db: WriteSession, args: unknown) => unknown;
        if (operation === undefined) throw new Error(`unknown operation "${write.name}"`);
        const value = savepoint(() => operation(session, write.args));
        results.push({ seq: write.seq, ok: true, value });
      } catch (error) {
        // SQLite rolls the whole transaction back itself after some errors (a full disk, an I/O
        // error): then nothing of this batch can be committed.
        if (!sqlite.inTransaction) throw error;
        results.push({
          seq: write.seq,
          ok: false,
          message: `database ${data.label}: write failed: ${describeError(error)}`,
        });
      }
    }
    if (!sameFile(identity)) throw new ReplacedError(replacedMessage);
  });

  const failAll = (batch: Write[], message: string): WriteResult[] =>
    batch.map((write) => ({ seq: write.seq, ok: false, message }));

  const flush = () => {
    scheduled = false;
    const batch = queue.splice(0);
    if (batch.length === 0) return;
    let results: WriteResult[] = [];
    if (broken !== undefined) {
      results = failAll(batch, broken);
    } else {
      try {
        runOperations.immediate(batch, results);
        // Committed, but to the file the configured path still names? If not, it is lost.
        if (!sameFile(identity)) throw new ReplacedError(replacedMessage);
      } catch (error) {
        if (error instanceof ReplacedError) broken = error.message;
        results = failAll(
          batch,
          error instanceof ReplacedError
            ? error.message
            : `database ${data.label}: write failed: ${describeError(error)}`,
        );
      }
    }
    post({ type: 'done', results, ...(broken !== undefined ? { broken } : {}) });
  };

  const backup = async (seq: number, destination: string) => {
    let created = false;
    try {
      // Claims the name first (O_CREAT | O_EXCL): an existing file or link is never overwritten.
      closeSync(openSync(destination, 'wx'));
      created = true;
      await sqlite.backup(destination);
      post({ type: 'backup', seq, ok: true, bytes: statSync(destination).size });
    } catch (error) {
      if (created) rmSync(destination, { force: true });
      post({ type: 'backup', seq, ok: false, message: `backup to ${destination} failed: ${describeError(error)}` });
    }
  };

  const close = async () => {
    closing = true;
    flush();
    await Promise.all(backups);
    sqlite.close();
    post({ type: 'closed' });
    port.close();
  };

  port.on('message', (message: ToWriter) => {
    switch (message.type) {
      case 'write':
        if (closing) {
          post({ type: 'done', results: failAll([message], `database ${data.label} is closed`) });
          return;
        }
        queue.push(message);
        if (!scheduled) {
          scheduled = true;
          // Runs after every message that has already arrived: they make one batch.
          setImmediate(flush);
        }
        return;
      case 'backup': {
        const running = backup(message.seq, message.destination);
        backups.add(running);
        void running.finally(() => backups.delete(running));
        return;
      }
      case 'close':
        void close();
        return;
    }
  });
  post({ type: 'ready' });
}
