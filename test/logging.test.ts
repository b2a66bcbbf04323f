/**
 * The log file through createLogger, the unit the entry point uses: real files, /dev/full for a
 * disk that is full on every write. test/cli.test.ts covers the same through the real process.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoggingSettings } from '../src/config.js';
import { createLogger, LogFileError } from '../src/logger.js';

function tempDir(): string {
  return mkdtempSync(joinPath(tmpdir(), 'ghosting-logging-'));
}

function fileOnly(filename: string): LoggingSettings {
  return { level: 'info', console: false, file: true, filename };
}

/** A stand-in for stderr that keeps what was written, line by line. */
function capture() {
  const lines: string[] = [];
  return {
    lines,
    write(text: string) {
      lines.push(...text.split('\n').filter((line) => line !== ''));
      return true;
    },
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('log file', () => {
  it('a file it cannot open is one LogFileError naming the file and the reason', () => {
    const dir = tempDir();
    const notADirectory = joinPath(dir, 'plain-file');
    writeFileSync(notADirectory, '');
    const under = joinPath(notADirectory, 'ghosting.log');
    expect(() => createLogger(fileOnly(under))).toThrow(
      new LogFileError(`cannot open log file ${under}: not a directory (ENOTDIR)`),
    );
    expect(() => createLogger(fileOnly(dir))).toThrow(
      new LogFileError(`cannot open log file ${dir}: illegal operation on a directory (EISDIR)`),
    );
  });

  it('a healthy file gets every line, and closing reports nothing', async () => {
    const path = joinPath(tempDir(), 'logs', 'ghosting.log');
    const stderr = capture();
    const { logger, close, droppedFileLines } = createLogger(fileOnly(path), { stderr });
    for (let i = 0; i < 5000; i++) logger.info({ i }, 'line');
    await close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5000);
    expect(JSON.parse(lines[4999]!)).toMatchObject({ i: 4999, msg: 'line' });
    expect(droppedFileLines).toBe(0);
    expect(stderr.lines).toEqual([]);
  });

  it('a full disk is reported once, holds at most the bound, drops and counts the rest, and closing gives up at once', async () => {
    const stderr = capture();
    const maxBufferedBytes = 64 * 1024;
    const output = createLogger(fileOnly('/dev/full'), { stderr, file: { maxBufferedBytes } });
    const text = 'x'.repeat(200);
    const lineBytes = JSON.stringify({ level: 30, time: Date.now(), i: 1000, msg: text }).length + 1;

    output.logger.info({ i: 0 }, text);
    await until(() => stderr.lines.length > 0, 'the failure to be reported');
    expect(stderr.lines).toEqual([
      `ghosting: cannot write log file /dev/full: no space left on device (ENOSPC); holding up to 64 KiB of lines for it and dropping the rest until it can be written again`,
    ]);

    // Every line below is one more write attempt that fails; none is reported again.
    const lines = 2000;
    for (let i = 1; i <= lines; i++) {
      output.logger.info({ i }, text);
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(stderr.lines).toHaveLength(1);
    // What is held stays within the bound: everything beyond it was dropped (and counted).
    const held = Math.floor(maxBufferedBytes / lineBytes);
    expect(output.droppedFileLines).toBeGreaterThanOrEqual(lines + 1 - held - 1);
    expect(output.droppedFileLines).toBeLessThanOrEqual(lines);

    const started = Date.now();
    await output.close(5000);
    expect(Date.now() - started).toBeLessThan(1000); // one try, then give up: not the 5 s allowed
    expect(stderr.lines.slice(1)).toEqual([
      'ghosting: gave up writing the last lines to log file /dev/full: no space left on device (ENOSPC)',
    ]);
    // Logging after the file is closed neither throws nor reports.
    expect(() => output.logger.info('after close')).not.toThrow();
    expect(stderr.lines).toHaveLength(2);
  });

  it('a named pipe without a reader is refused at once; one whose reader stops reading never blocks', async () => {
    const fifo = joinPath(tempDir(), 'pipe.log');
    execFileSync('mkfifo', [fifo]);
    expect(() => createLogger(fileOnly(fifo))).toThrow(
      new LogFileError(`cannot open log file ${fifo}: no such device or address (ENXIO)`),
    );

    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // and never reads
    try {
      const stderr = capture();
      const output = createLogger(fileOnly(fifo), { stderr });
      const text = 'y'.repeat(1000);
      for (let i = 0; i < 200; i++) output.logger.info({ i }, text); // 200 KB: over a 64 KB pipe
      await until(() => stderr.lines.length > 0, 'the full pipe to be reported');
      expect(stderr.lines).toEqual([
        expect.stringMatching(/^ghosting: cannot write log file .*: resource temporarily unavailable \(EAGAIN\);/),
      ]);
      const started = Date.now();
      await output.close(5000);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      closeSync(reader);
    }
  });

  it('a file that takes writes again gets what waited without another line being logged', async () => {
    const fifo = joinPath(tempDir(), 'pipe.log');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stderr = capture();
      const output = createLogger(fileOnly(fifo), { stderr });
      const text = 'w'.repeat(1000);
      for (let i = 0; i < 200; i++) output.logger.info({ i }, text); // 200 KB: over a 64 KB pipe
      await until(() => stderr.lines.length > 0, 'the full pipe to be reported');
      // The reader comes back and empties the pipe; the server logs nothing more meanwhile.
      const received: Buffer[] = [];
      const chunk = Buffer.alloc(64 * 1024);
      const drain = () => {
        for (;;) {
          let read = 0;
          try {
            read = readSync(reader, chunk);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return;
            throw error;
          }
          if (read === 0) return;
          received.push(Buffer.from(chunk.subarray(0, read)));
        }
      };
      await until(
        () => {
          drain();
          return stderr.lines.some((line) => line.includes('is written again'));
        },
        'the waiting lines to be written',
        5000,
      );
      drain();
      const lines = Buffer.concat(received).toString('utf8').trim().split('\n');
      expect(lines.map((line) => JSON.parse(line).i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(stderr.lines).toEqual([
        expect.stringMatching(/cannot write log file .*\(EAGAIN\)/),
        `ghosting: log file ${fifo} is written again; 0 lines were dropped`,
      ]);
      await output.close(1000);
    } finally {
      closeSync(reader);
    }
  });

  it('closing gives up when the last lines take longer than allowed', async () => {
    const path = joinPath(tempDir(), 'ghosting.log');
    const stderr = capture();
    const output = createLogger(fileOnly(path), { stderr, file: { maxBufferedBytes: 64 * 1024 * 1024 } });
    const text = 'z'.repeat(1000);
    for (let i = 0; i < 16_000; i++) output.logger.info({ i }, text); // 16 MB: a thousand 16 KB writes
    const started = Date.now();
    await output.close(1);
    expect(Date.now() - started).toBeLessThan(500);
    expect(stderr.lines).toEqual([
      `ghosting: gave up writing the last lines to log file ${path}: not done within 1 ms`,
    ]);
    expect(() => output.logger.info('after close')).not.toThrow();
  });
});
