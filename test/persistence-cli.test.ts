/**
 * The database through the real entry point (dist/index.js, built by the global setup): files
 * it cannot write stop start-up with one line and exit status 1, a removed database is never
 * written to as if nothing happened, and an acknowledged ban survives kill -9.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const children: ChildProcess[] = [];
const directories: string[] = [];

afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A temporary folder any user may enter (an unprivileged server must reach its files). */
function tempDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'ghosting-persistence-cli-'));
  chmodSync(directory, 0o755);
  directories.push(directory);
  return directory;
}

function writeConfig(directory: string, databasePath: string): string {
  const path = join(directory, 'config.toml');
  writeFileSync(
    path,
    `[server]\nhostname = "127.0.0.1"\nport = 0\n[database]\npath = ${JSON.stringify(databasePath)}\n`,
  );
  return path;
}

/**
 * How to run a command as a user that cannot write a file it does not own. As root, chmod does
 * not stop writes, so the server runs as nobody (setpriv, else runuser); as anyone else, as is.
 */
function unprivileged(command: string[]): string[] {
  if (process.getuid?.() !== 0) return command;
  if (spawnSync('setpriv', ['--version']).status === 0) {
    return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...command];
  }
  if (spawnSync('runuser', ['--version']).status === 0) return ['runuser', '-u', 'nobody', '--', ...command];
  throw new Error('running as root, and neither setpriv nor runuser is available to drop privileges');
}

interface Running {
  child: ChildProcess;
  output: () => string;
  command(line: string): void;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts the entry point with a console on a pipe; resolves once it listens. */
function start(configPath: string, cwd: string): Promise<Running> {
  const child = spawn(process.execPath, [entry, '--config', configPath], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const waiters: (() => void)[] = [];
  const onData = (text: string) => {
    output += text;
    for (const waiter of waiters.splice(0)) waiter();
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (text: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const check = () => {
        if (output.includes(text)) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  const running: Running = {
    child,
    output: () => output,
    command: (line) => child.stdin!.write(`${line}\n`),
    waitFor,
    exited,
  };
  return Promise.race([
    waitFor('"msg":"ghosting ready"').then(() => running),
    exited.then((code) => Promise.reject(new Error(`exited with ${code}:\n${output}`))),
  ]);
}

/** Runs the entry point to its end (10 s at most) and returns its status and output. */
function runToEnd(command: string[], cwd: string) {
  const [program, ...args] = command;
  return spawnSync(program!, args, { cwd, encoding: 'utf8', timeout: 10_000, input: '' });
}

describe('a database the server cannot write', () => {
  it.each(['/proc/ghosting/ghosting.db', '/proc/self/x/ghosting.db'])(
    'under /proc (%s) stops start-up with one line and exit status 1',
    (path) => {
      const directory = tempDir();
      const result = runToEnd([process.execPath, entry, '--config', writeConfig(directory, path)], directory);
      expect(result.error, 'it hung').toBeUndefined();
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(`^ghosting: cannot open database ${path}: ENOENT \\(cannot create directory /proc/[^\\n]*\\)\\n$`),
      );
      expect(result.stdout).not.toContain('ghost server listening');
    },
  );

  it('read-only (the server runs as a user who may not write it) stops start-up with one line and exit status 1', async () => {
    const directory = tempDir();
    const data = join(directory, 'data');
    mkdirSync(data);
    // The folder stays writable (SQLite may make its -wal and -shm files there); the file is not.
    chmodSync(data, 0o777);
    const databasePath = join(data, 'ghosting.db');
    const config = writeConfig(directory, databasePath);
    const first = await start(config, directory);
    first.command('stop');
    expect(await first.exited).toBe(0);
    chmodSync(databasePath, 0o444);

    const result = runToEnd(unprivileged([process.execPath, entry, '--config', config, '--no-cli']), directory);
    expect(result.error, 'it kept running').toBeUndefined();
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `ghosting: database ${databasePath} cannot be written: SQLITE_READONLY (attempt to write a readonly database)\n`,
    );
    expect(result.stdout).not.toContain('ghost server listening');
    expect(result.stdout).not.toContain('ghosting ready');
  });
});

describe('a database removed while the server runs', () => {
  it('is noticed before a ban is acknowledged: the ban is refused with a clear message, logged', async () => {
    const directory = tempDir();
    const data = join(directory, 'data');
    const databasePath = join(data, 'ghosting.db');
    const server = await start(writeConfig(directory, databasePath), directory);
    server.command('ban name First');
    await server.waitFor('Banned name "First"');

    rmSync(data, { recursive: true, force: true });
    server.command('ban name Second');
    const message = `database file ${databasePath} was removed or replaced; restart the server`;
    await server.waitFor(`error: "ban name" could not be done: ${message}`);
    // Logged as an error, and the ban was never reported as done.
    const logged = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; module?: string });
    expect(logged).toContainEqual(expect.objectContaining({ level: 50, module: 'database', msg: message }));
    expect(server.output()).not.toContain('Banned name "Second"');

    server.command('stop');
    expect(await server.exited).toBe(0);
  });
});

describe('an acknowledged ban', () => {
  it('survives kill -9 right after the console said "Banned"', async () => {
    const directory = tempDir();
    const databasePath = join(directory, 'data', 'ghosting.db');
    const server = await start(writeConfig(directory, databasePath), directory);
    const names = Array.from({ length: 40 }, (_, i) => `Player${i}`);
    for (const name of names) server.command(`ban name ${name}`);
    await server.waitFor(`Banned name "${names.at(-1)}"`);
    server.child.kill('SIGKILL');
    await server.exited;
    const db = new BetterSqlite3(databasePath);
    try {
      expect(db.prepare('SELECT name FROM bans ORDER BY id').pluck().all()).toEqual(names);
    } finally {
      db.close();
    }
  });
});
