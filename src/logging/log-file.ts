/**
 * The log file (`[logging] file = true`). It is opened synchronously at start-up, so a path that
 * cannot be written stops start-up with one line, and then written asynchronously (sonic-boom)
 * so that a slow disk never holds up the tick. A file that stops taking writes (a full disk, a
 * file size limit, an I/O error) never stalls or stops the server:
 * - the failure is reported once, and so is the recovery, with the number of lines lost;
 * - at most MAX_BUFFERED_BYTES of lines wait for the file; later lines are dropped and counted;
 * - while writes fail, each new line and a retry every RETRY_INTERVAL_MS try again, so what
 *   waited is written once the file takes writes, even if nothing more is logged (a line that
 *   arrives while a failing write is still in flight does not start an attempt of its own);
 * - closing makes one attempt, bounded in time, to write what is left, then gives up.
 *
 * SonicBoom is used directly rather than through pino.destination(): for an asynchronous file
 * pino registers an exit handler that calls flushSync(), and sonic-boom's flushSync() retries a
 * write that fails with anything other than EAGAIN/EBUSY forever, sleeping 100 ms between tries.
 * On a full disk that loop is what kept the process from ever exiting.
 */
import { closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import sonicBoom from 'sonic-boom';

// sonic-boom is CommonJS; its class is also its own `SonicBoom` property.
const { SonicBoom } = sonicBoom;

/** How many bytes of lines may wait for a file that is slow or failing; the rest are dropped. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How often a file whose writes fail is tried again when no new line does it. */
export const RETRY_INTERVAL_MS = 1000;
/** How long closing waits for the last lines to reach the file. */
export const CLOSE_TIMEOUT_MS = 1000;

/** The log file cannot be opened: the caller stops start-up with its message (one line). */
export class LogFileError extends Error {
  override readonly name = 'LogFileError';
}

/**
 * "no space left on device (ENOSPC)" from Node's "ENOSPC: no space left on device, write":
 * the words and the code, without the system call and the path (the caller names the file).
 */
export function describeFileError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code } = error as NodeJS.ErrnoException;
  if (code === undefined) return error.message;
  const prefix = `${code}: `;
  if (!error.message.startsWith(prefix)) return `${error.message} (${code})`;
  return `${error.message.slice(prefix.length).replace(/, [a-z]+( '.*')?$/, '')} (${code})`;
}

function describeBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export type LogFileReport = (
  level: 'error' | 'warn',
  message: string,
  fields: { file: string; code?: string; droppedLines?: number },
) => void;

export interface LogFile {
  readonly path: string;
  /** What pino writes to: never throws, whatever the file does. */
  readonly stream: { write(line: string): void };
  /** Lines dropped since the file was opened (it could not be written, or not fast enough). */
  readonly droppedLines: number;
  /**
   * Writes out what is still waiting and closes the file: one attempt, at most `timeoutMs`.
   * Never rejects; lines logged after it settles are dropped.
   */
  close(timeoutMs?: number): Promise<void>;
}

export interface LogFileOptions {
  maxBufferedBytes?: number;
}

/**
 * Appending, creating the file. O_NONBLOCK changes nothing for a regular file; for a named pipe
 * it makes "no reader" an error (ENXIO) at once instead of an open that never returns, and a
 * full pipe a failed write (EAGAIN) instead of a stuck one.
 */
const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK;

/** Opens `path` for appending; creates its folder only when that is what is missing. */
function openOrCreate(path: string): number {
  try {
    return openSync(path, APPEND_FLAGS, 0o666);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  makeFolders(dirname(path));
  return openSync(path, APPEND_FLAGS, 0o666);
}

/**
 * `mkdir -p`, one folder at a time. Not mkdirSync({ recursive: true }): under /proc a mkdir
 * answers ENOENT although the parent exists, and Node's recursive mkdir then retries forever
 * at 100 % CPU. Here every missing folder gets one mkdir, and the first failure is the answer.
 */
export function makeFolders(folder: string): void {
  const missing: string[] = [];
  for (let current = folder; ; current = dirname(current)) {
    try {
      statSync(current);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const current of missing.reverse()) {
    try {
      mkdirSync(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new Error(`cannot create folder ${current}: ${describeFileError(error)}`, { cause: error });
    }
  }
}

/** Opens (creating its folder if missing) `path` for appending; throws LogFileError if it cannot. */
export function openLogFile(path: string, report: LogFileReport, options: LogFileOptions = {}): LogFile {
  const maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  let fd: number;
  try {
    fd = openOrCreate(path);
  } catch (error) {
    throw new LogFileError(`cannot open log file ${path}: ${describeFileError(error)}`, { cause: error });
  }

  let boom: InstanceType<typeof SonicBoom> & { destroyed?: boolean };
  try {
    boom = new SonicBoom({
      fd,
      sync: false,
      maxLength: maxBufferedBytes,
      // A regular file never answers EAGAIN; should anything else, it is a failure like any other
      // (reported, lines kept up to the limit) rather than a retry loop.
      retryEAGAIN: () => false,
    });
  } catch (error) {
    closeSync(fd);
    throw new LogFileError(`cannot open log file ${path}: ${describeFileError(error)}`, { cause: error });
  }

  // ok: writes succeed. failing: the last write failed. behind: lines are dropped because the
  // file does not keep up, without a failed write.
  let state: 'ok' | 'failing' | 'behind' = 'ok';
  let dropped = 0;
  let droppedBeforeTrouble = 0;
  let lastError: unknown;
  let accepting = true;
  const bufferedText = describeBytes(maxBufferedBytes);

  const enterTrouble = (next: 'failing' | 'behind') => {
    if (state === 'ok') droppedBeforeTrouble = dropped;
    state = next;
  };

  let retryTimer: NodeJS.Timeout | undefined;
  const retry = () => {
    retryTimer = undefined;
    if (state !== 'failing' || !accepting || boom.destroyed === true) return;
    try {
      // An empty line starts a write of what waits, unless one is already in flight.
      boom.write('');
    } catch {
      // Destroyed meanwhile: nothing left to retry.
    }
  };
  const scheduleRetry = () => {
    if (retryTimer !== undefined || !accepting) return;
    retryTimer = setTimeout(retry, RETRY_INTERVAL_MS);
    retryTimer.unref();
  };

  boom.on('error', (error: unknown) => {
    lastError = error;
    scheduleRetry();
    if (state === 'failing') return;
    enterTrouble('failing');
    const code = (error as NodeJS.ErrnoException).code;
    report(
      'error',
      `cannot write log file ${path}: ${describeFileError(error)}; holding up to ${bufferedText} of lines for it and ` +
        'dropping the rest until it can be written again',
      { file: path, ...(code !== undefined ? { code } : {}) },
    );
  });
  boom.on('drop', () => {
    dropped++;
    if (state !== 'ok') return;
    enterTrouble('behind');
    report('warn', `log file ${path} cannot keep up: more than ${bufferedText} waiting, dropping lines`, {
      file: path,
    });
  });
  // 'drain': everything that waited has been written.
  boom.on('drain', () => {
    if (state === 'ok') return;
    state = 'ok';
    const lost = dropped - droppedBeforeTrouble;
    report('warn', `log file ${path} is written again; ${lost} line${lost === 1 ? ' was' : 's were'} dropped`, {
      file: path,
      droppedLines: lost,
    });
  });

  let closing: Promise<void> | undefined;
  return {
    path,
    stream: {
      write(line: string) {
        if (!accepting || boom.destroyed === true) {
          dropped++;
          return;
        }
        try {
          boom.write(line);
        } catch {
          dropped++;
        }
      },
    },
    get droppedLines() {
      return dropped;
    },
    close(timeoutMs = CLOSE_TIMEOUT_MS) {
      closing ??= new Promise<void>((resolve) => {
        const settle = (outcome: 'closed' | 'failed' | 'timed out') => {
          clearTimeout(timer);
          clearTimeout(retryTimer);
          boom.off('close', onClose);
          boom.off('error', onError);
          accepting = false;
          if (outcome !== 'closed') {
            const why = outcome === 'failed' ? describeFileError(lastError) : `not done within ${timeoutMs} ms`;
            report('error', `gave up writing the last lines to log file ${path}: ${why}`, {
              file: path,
              droppedLines: dropped,
            });
          } else if (state !== 'ok' || dropped > 0) {
            report('warn', `log file ${path} closed; ${dropped} line${dropped === 1 ? ' was' : 's were'} dropped`, {
              file: path,
              droppedLines: dropped,
            });
          }
          resolve();
        };
        const onClose = () => settle('closed');
        const onError = () => settle('failed');
        const timer = setTimeout(() => settle('timed out'), timeoutMs);
        boom.once('close', onClose);
        boom.once('error', onError);
        try {
          boom.end();
        } catch (error) {
          lastError = error;
          settle('failed');
        }
      });
      return closing;
    },
  };
}
