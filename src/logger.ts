/**
 * One root pino logger for the process; subsystems take `logger.child({ module })`.
 * The console gets human-readable lines when it is a terminal and JSON lines otherwise (for
 * journald, Docker and log shippers); the file, when enabled, always gets JSON lines.
 *
 * The log file is opened here, synchronously, so a file that cannot be opened stops start-up
 * (LogFileError, one line). A file that later cannot be written never stalls or stops the
 * server: see src/logging/log-file.ts. Its troubles are reported on the console logger (module
 * "logging"), or as a `ghosting: ...` line on stderr when the console is off.
 */
import { pino, type Logger, type DestinationStream, type StreamEntry } from 'pino';
import pretty from 'pino-pretty';
import type { LoggingSettings, LogLevel } from './config.js';
import { openLogFile, type LogFile, type LogFileOptions, type LogFileReport } from './logging/log-file.js';

export type { Logger };
export { LogFileError } from './logging/log-file.js';

/** pino calls the most severe level "fatal"; operators know it as "critical" from GhostServer. */
function pinoLevel(level: LogLevel): pino.Level {
  return level === 'critical' ? 'fatal' : level;
}

export interface LogOutput {
  logger: Logger;
  /** Lines the log file has dropped since start-up (0 without a file). */
  readonly droppedFileLines: number;
  /**
   * Writes out what the log file still holds and closes it: one attempt, bounded in time (1 s
   * by default). Never rejects. Call before the process exits.
   */
  close(timeoutMs?: number): Promise<void>;
}

export interface LoggerOptions {
  /** Standard output, to choose readable lines (a terminal) or JSON lines. */
  console?: { isTTY: boolean };
  /** Where problems with the log file go when `[logging] console` is off. */
  stderr?: { write(text: string): unknown };
  /** For tests: how much may wait for the log file. */
  file?: LogFileOptions;
}

/** Throws LogFileError if `[logging] file` is on and the file cannot be opened. */
export function createLogger(settings: LoggingSettings, options: LoggerOptions = {}): LogOutput {
  const level = pinoLevel(settings.level);
  const streams: StreamEntry[] = [];

  let consoleStream: DestinationStream | undefined;
  if (settings.console) {
    consoleStream = (options.console ?? process.stdout).isTTY
      ? pretty({
          colorize: true,
          singleLine: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
          sync: true,
        })
      : pino.destination({ dest: 1, sync: true });
    streams.push({ level, stream: consoleStream });
  }

  let file: LogFile | undefined;
  if (settings.file) {
    file = openLogFile(
      settings.filename,
      fileReporter(level, consoleStream, options.stderr ?? process.stderr),
      options.file,
    );
    streams.push({ level, stream: file.stream });
  }

  const logger =
    streams.length === 0 ? pino({ enabled: false }) : pino({ level, base: undefined }, pino.multistream(streams));
  return {
    logger,
    get droppedFileLines() {
      return file?.droppedLines ?? 0;
    },
    close(timeoutMs) {
      return file?.close(timeoutMs) ?? Promise.resolve();
    },
  };
}

/**
 * Where the log file's troubles go: never into the file itself. On the console logger they are
 * shown at least down to "warn", whatever `[logging] level` says, since they tell of lost lines.
 */
function fileReporter(
  level: pino.Level,
  consoleStream: DestinationStream | undefined,
  stderr: { write(text: string): unknown },
): LogFileReport {
  if (consoleStream === undefined) {
    return (_level, message) => {
      try {
        stderr.write(`ghosting: ${message}\n`);
      } catch {
        // stderr itself is gone: nowhere left to say it.
      }
    };
  }
  const reportLevel = pino.levels.values[level]! > pino.levels.values.warn! ? 'warn' : level;
  const log = pino({ level: reportLevel, base: undefined }, consoleStream).child({ module: 'logging' });
  return (reportAt, message, fields) => log[reportAt](fields, message);
}

/** A logger that discards everything (tests, embedding code that brings its own logging). */
export function silentLogger(): Logger {
  return pino({ enabled: false });
}
