/**
 * One root pino logger for the process; subsystems take `logger.child({ module })`.
 * The console gets human-readable lines when it is a terminal and JSON lines otherwise (for
 * journald, Docker and log shippers); the file, when enabled, always gets JSON lines.
 */
import { pino, type Logger, type DestinationStream, type StreamEntry } from 'pino';
import pretty from 'pino-pretty';
import type { LoggingSettings, LogLevel } from './config.js';

export type { Logger };

/** pino calls the most severe level "fatal"; operators know it as "critical" from GhostServer. */
function pinoLevel(level: LogLevel): pino.Level {
  return level === 'critical' ? 'fatal' : level;
}

export interface LogOutput {
  logger: Logger;
  /** Writes out anything still buffered; call before the process exits. */
  flush(): void;
}

export function createLogger(settings: LoggingSettings, console: { isTTY: boolean } = process.stdout): LogOutput {
  const level = pinoLevel(settings.level);
  const streams: StreamEntry[] = [];
  const flushers: Array<() => void> = [];

  if (settings.console) {
    const stream: DestinationStream = console.isTTY
      ? pretty({
          colorize: true,
          singleLine: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
          sync: true,
        })
      : pino.destination({ dest: 1, sync: true });
    streams.push({ level, stream });
  }
  if (settings.file) {
    const file = pino.destination({ dest: settings.filename, mkdir: true, sync: false });
    streams.push({ level, stream: file });
    flushers.push(() => file.flushSync());
  }

  const logger =
    streams.length === 0 ? pino({ enabled: false }) : pino({ level, base: undefined }, pino.multistream(streams));
  return {
    logger,
    flush() {
      for (const flushOne of flushers) {
        try {
          flushOne();
        } catch {
          // Nothing sensible is left to report a failed flush to while exiting.
        }
      }
    },
  };
}

/** A logger that discards everything (tests, embedding code that brings its own logging). */
export function silentLogger(): Logger {
  return pino({ enabled: false });
}
