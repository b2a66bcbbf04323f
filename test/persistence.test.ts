/**
 * The database's write thread against real SQLite files: writes leave the main thread, are
 * batched, bounded and acknowledged only once committed; a dead thread, a removed or replaced
 * file fail loudly; plugin storage stays synchronous; `backup` makes a consistent copy.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONSOLE_INVOKER, type Invoker } from '../src/commands/registry.js';
import { DatabaseError, openDatabase, type Store } from '../src/db/database.js';
import type { RaceSnapshot, Split } from '../src/races/types.js';
import { startApp, until } from './helpers.js';

let dir: string;
let dbPath: string;
const opened: Store[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ghosting-persistence-'));
  dbPath = join(dir, 'data', 'ghosting.db');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A pino logger whose lines the test can read. */
function capturedLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function open(options: Parameters<typeof openDatabase>[1] = {}, path = dbPath): Promise<Store> {
  const store = openDatabase(path, options);
  opened.push(store);
  await store.ready?.();
  return store;
}

function count(table: string, path = dbPath): number {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** A race for the splits below to belong to (splits are the fire-and-forget write that comes in numbers). */
const RACE: RaceSnapshot = {
  id: 1,
  kind: 'race',
  title: '',
  state: 'running',
  openedBy: 'test',
  openedAt: new Date(0),
  countdownSeconds: 3,
  startedAt: new Date(0),
  goAt: new Date(3000),
  endedAt: null,
  route: null,
  entrants: [],
};
const split = (i: number): Split => ({
  fromMap: `map${i}`,
  toMap: `map${i + 1}`,
  ticks: i,
  ticksTotal: i,
  elapsedMs: i,
  at: new Date(),
});

async function withRace(store: Store): Promise<void> {
  store.races.saveRace(RACE);
  await store.flush();
}

describe('the write thread', () => {
  it('takes writes off the main thread: while the disk is held up, splits queue and the event loop runs on', async () => {
    const store = await open();
    await withRace(store);
    const before = store.writes;
    // Another connection holds the write lock, as a disk that takes its time would.
    const other = new BetterSqlite3(dbPath);
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = performance.now();
      for (let i = 0; i < 1000; i++) store.races.addSplit(RACE.id, 'P', split(i));
      expect(performance.now() - started).toBeLessThan(300);
      // The event loop turns (a timer fires) while none of them can be committed.
      const waited = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(performance.now() - waited).toBeLessThan(300);
      expect(other.prepare('SELECT count(*) FROM race_splits').pluck().get()).toBe(0);
      expect(store.writes.queued).toBe(1000);
      other.exec('ROLLBACK');
      // Answered once committed, in as few transactions (each one fsync) as the queue allowed.
      await store.flush();
      expect(count('race_splits')).toBe(1000);
      expect(store.writes).toMatchObject({ committed: before.committed + 1000, queued: 0, failed: 0 });
      expect(store.writes.batches - before.batches).toBeLessThan(10);
    } finally {
      other.close();
    }
  });

  it('runs each write of a batch in its own savepoint: one failing write fails alone', async () => {
    const store = await open();
    const db = new BetterSqlite3(dbPath);
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON bans WHEN new.name = 'Refused'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    db.close();
    const names = Array.from({ length: 50 }, (_, i) => (i === 25 ? 'Refused' : `Player${i}`));
    const results = await Promise.allSettled(names.map((name) => store.bans.add({ name, createdBy: 'test' })));
    const failed = results.flatMap((result, i) => (result.status === 'rejected' ? [[i, result.reason]] : []));
    expect(failed).toHaveLength(1);
    expect(failed[0]![0]).toBe(25);
    expect(failed[0]![1]).toBeInstanceOf(DatabaseError);
    expect((failed[0]![1] as Error).message).toBe(
      `database ${dbPath}: write failed: SQLITE_CONSTRAINT_TRIGGER (refused by the test)`,
    );
    expect(store.bans.list().map((ban) => ban.name)).toEqual(names.filter((name) => name !== 'Refused'));
    expect(store.writes.failed).toBe(1);
    expect(store.writes.batches).toBeLessThan(50);
  });

  it('refuses writes past [database] max_queued_writes with a DatabaseError, counts them, and takes them again later', async () => {
    const store = await open({ maxQueuedWrites: 5 });
    await withRace(store);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.bans.add({ name: `P${i}`, createdBy: 'test' })),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
    const refused = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
    expect(refused).toHaveLength(15);
    for (const error of refused) {
      expect(error).toBeInstanceOf(DatabaseError);
      expect(error.message).toBe(`database ${dbPath}: write refused: 5 writes are already waiting for the disk`);
    }
    expect(store.writes).toMatchObject({ refused: 15, queued: 0, committed: 6 });
    expect(store.bans.list()).toHaveLength(5);
    // Fire-and-forget writes are dropped the same way, without throwing.
    for (let i = 0; i < 8; i++) store.races.addSplit(RACE.id, 'P', split(i));
    await store.flush();
    expect(count('race_splits')).toBe(5);
    expect(store.writes.refused).toBe(18);
    expect(await store.bans.add({ name: 'Later', createdBy: 'test' })).toMatchObject({ name: 'Later' });
  });

  it('commits what is queued when closed, and fails later writes', async () => {
    const store = await open();
    await withRace(store);
    for (let i = 0; i < 300; i++) store.races.addSplit(RACE.id, 'P', split(i));
    void store.audit.record({ actor: 'a', source: 'console', action: 'last words' });
    await store.close();
    expect(count('race_splits')).toBe(300);
    expect(count('audit_log')).toBe(1);
    await expect(store.bans.add({ name: 'Late', createdBy: 'test' })).rejects.toThrow(DatabaseError);
  });

  it('when it dies, every waiting and later write fails with one clear error, logged once', async () => {
    const { logger, lines } = capturedLogger();
    const store = await open({ logger });
    await store.bans.add({ name: 'Before', createdBy: 'test' });
    await store.writer.kill();
    const message = new RegExp(
      `^database ${dbPath}: the write thread stopped \\(.*\\); changes cannot be saved until the server restarts$`,
    );
    await expect(store.bans.add({ name: 'After', createdBy: 'test' })).rejects.toThrow(message);
    await expect(store.whitelist.setEnabled(true)).rejects.toThrow(message);
    expect(await store.audit.record({ actor: 'a', source: 'console', action: 'x' })).toBeUndefined();
    const failed = store.writes.failed;
    store.races.addSplit(RACE.id, 'P', split(1));
    expect(store.writes.failed).toBe(failed + 1);
    expect(() => store.pluginData.set('p', 'k', 1)).toThrow(message);
    expect(lines.filter((line) => line.level >= 50)).toHaveLength(1);
    expect(lines.find((line) => line.level >= 50)?.msg).toMatch(message);
    // Reads still work, and close does not hang.
    expect(store.bans.list().map((ban) => ban.name)).toEqual(['Before']);
    await store.close();
  });

  it('logs a failure that repeats once, and once more when writes work again', async () => {
    const { logger, lines } = capturedLogger();
    const store = await open({ logger });
    await withRace(store);
    const db = new BetterSqlite3(dbPath);
    db.exec(`CREATE TRIGGER full BEFORE INSERT ON race_splits BEGIN SELECT RAISE(ABORT, 'no room'); END`);
    for (let i = 0; i < 30; i++) store.races.addSplit(RACE.id, 'P', split(i));
    await store.flush();
    expect(count('race_splits')).toBe(0);
    expect(store.writes.failed).toBe(30);
    const errors = lines.filter((line) => line.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      operation: 'races.addSplit',
      msg: `database ${dbPath}: write failed: SQLITE_CONSTRAINT_TRIGGER (no room)`,
    });
    db.exec('DROP TRIGGER full');
    db.close();
    store.races.addSplit(RACE.id, 'P31', split(31));
    await store.flush();
    expect(count('race_splits')).toBe(1);
    expect(lines.filter((line) => line.msg === 'database writes work again')).toEqual([
      expect.objectContaining({ failed: 30 }),
    ]);
  });
});

describe('a database file that is replaced while the server runs', () => {
  it('is detected before a write is acknowledged: the write fails and every later one too', async () => {
    const { logger, lines } = capturedLogger();
    const store = await open({ logger });
    await store.bans.add({ name: 'Kept', createdBy: 'test' });
    // Someone puts another database where ours was (a restore by hand, say).
    const other = join(dir, 'other.db');
    new BetterSqlite3(other).close();
    renameSync(other, dbPath);
    const message = `database file ${dbPath} was removed or replaced; restart the server`;
    const lost = Promise.resolve().then(() => store.bans.add({ name: 'Lost', createdBy: 'test' }));
    await expect(lost).rejects.toThrow(message);
    await expect(store.whitelist.add('name', 'Friend', 'test')).rejects.toThrow(message);
    expect(lines.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([message]);
  });
});

describe('plugin storage', () => {
  it('shows a set or delete at once, stores it, and shows the stored value again if the write fails', async () => {
    const store = await open();
    const { pluginData } = store;
    pluginData.set('P', 'a', { n: 1 });
    pluginData.set('P', 'b', 'two');
    pluginData.set('Other', 'a', 'not mine');
    // Seen at once, before anything is committed.
    expect(pluginData.get('P', 'a')).toEqual({ n: 1 });
    expect(pluginData.keys('P')).toEqual(['a', 'b']);
    expect(pluginData.delete('P', 'b')).toBe(true);
    expect(pluginData.delete('P', 'b')).toBe(false);
    expect(pluginData.get('P', 'b')).toBeUndefined();
    expect(pluginData.keys('P')).toEqual(['a']);
    // A copy each time, as from the database.
    (pluginData.get('P', 'a') as { n: number }).n = 99;
    expect(pluginData.get('P', 'a')).toEqual({ n: 1 });
    await store.flush?.();
    expect(count('plugin_data')).toBe(2);

    const db = new BetterSqlite3(dbPath);
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON plugin_data BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    db.close();
    pluginData.set('P', 'a', { n: 2 });
    expect(pluginData.get('P', 'a')).toEqual({ n: 2 });
    await store.flush();
    expect(pluginData.get('P', 'a')).toEqual({ n: 1 });
    expect(() => pluginData.set('P', 'c', undefined)).toThrow(TypeError);
  });
});

describe('the app', () => {
  it('reports the write thread in /metrics', async () => {
    const app = await startApp({ overrides: { http: { enabled: true, hostname: '127.0.0.1', port: 0 } } });
    await app.commands.execute('ban name Metric', CONSOLE_INVOKER);
    await app.store.flush?.();
    const text = await (await fetch(`http://127.0.0.1:${app.http.port}/metrics`)).text();
    expect(text).toMatch(/^ghosting_db_queued_writes 0$/m);
    expect(text).toMatch(/^ghosting_db_committed_writes_total [1-9]\d*$/m);
    expect(text).toMatch(/^ghosting_db_failed_writes_total 0$/m);
    expect(text).toMatch(/^ghosting_db_refused_writes_total 0$/m);
    expect(text).toMatch(/^ghosting_db_write_batches_total [1-9]\d*$/m);
  });
});

describe('backup', () => {
  const remote: Invoker = { source: 'discord', name: 'admin', permission: 'admin' };

  async function backupApp() {
    return startApp({
      database: dbPath,
      configure: (config) => (config.database.backup_directory = join(dir, 'backups')),
    });
  }

  it('copies the database while writes go on; the copy has every ban acknowledged before it', async () => {
    const app = await backupApp();
    const acknowledged: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const result = await app.commands.execute(`ban name Player${i}`, CONSOLE_INVOKER);
        if (result.ok) acknowledged.push(`Player${i}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await until(() => acknowledged.length >= 20, 10_000, 'bans');
    const latest = acknowledged.at(-1)!;
    const copy = join(dir, 'copies', 'live.db');
    const result = await app.commands.execute(`backup ${copy}`, CONSOLE_INVOKER);
    writing = false;
    await writer;
    const bytes = lstatSync(copy).size;
    expect(result).toEqual({
      ok: true,
      text: `Backed up the database to ${copy} (${bytes} bytes)`,
      data: { path: copy, bytes },
    });
    const db = new BetterSqlite3(copy, { readonly: true });
    try {
      const names = db.prepare('SELECT name FROM bans').pluck().all();
      expect(names).toContain(latest);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    expect(app.store.audit.recent(5).map((entry) => entry.action)).toContain(`backup path=${JSON.stringify(copy)}`);
  });

  it('never overwrites a file', async () => {
    const app = await backupApp();
    const existing = join(dir, 'precious.txt');
    writeFileSync(existing, 'keep me');
    expect(await app.commands.execute(`backup ${existing}`, CONSOLE_INVOKER)).toEqual({
      ok: false,
      code: 'conflict',
      text: `${existing} already exists; a backup never overwrites a file`,
    });
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
    const first = await app.commands.execute('backup nightly.db', remote);
    expect(first.ok).toBe(true);
    const again = await app.commands.execute('backup nightly.db', remote);
    expect(again).toMatchObject({ ok: false, code: 'conflict' });
    // A dangling link is not followed either.
    const target = join(dir, 'elsewhere.db');
    symlinkSync(target, join(dir, 'backups', 'link.db'));
    expect(await app.commands.execute('backup link.db', remote)).toMatchObject({ ok: false, code: 'conflict' });
    expect(existsSync(target)).toBe(false);
  });

  it('from anywhere but the console, writes only inside [database] backup_directory', async () => {
    const app = await backupApp();
    const folder = join(dir, 'backups');
    const named = await app.commands.execute('backup before-race.db', remote);
    expect(named).toMatchObject({ ok: true, data: { path: join(folder, 'before-race.db') } });
    const nested = await app.commands.execute('backup 2026/12/night.db', { ...remote, source: 'http' });
    expect(nested).toMatchObject({ ok: true, data: { path: join(folder, '2026', '12', 'night.db') } });

    const outside = join(dir, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(folder, 'escape'));
    for (const [source, path] of [
      ['discord', join(dir, 'absolute.db')],
      ['http', '../up.db'],
      ['chat', 'a/../../up.db'],
      ['plugin', 'escape/through-link.db'],
      ['discord', 'escape/new/through-link.db'],
      ['http', 'bad\\name.db'],
      ['http', 'trailing/'],
    ] as const) {
      const result = await app.commands.execute(`backup ${JSON.stringify(path)}`, { ...remote, source });
      expect(result, path).toMatchObject({ ok: false, code: 'bad_arguments' });
    }
    expect(existsSync(join(dir, 'absolute.db'))).toBe(false);
    expect(existsSync(join(dir, 'up.db'))).toBe(false);
    expect(existsSync(join(outside, 'through-link.db'))).toBe(false);
    expect(existsSync(join(outside, 'new'))).toBe(false);
    // The console may write anywhere.
    const absolute = join(dir, 'absolute.db');
    expect(await app.commands.execute(`backup ${absolute}`, CONSOLE_INVOKER)).toMatchObject({ ok: true });
    expect(count('bans', absolute)).toBe(0);
  });

  it('needs the admin level', async () => {
    const app = await backupApp();
    const result = await app.commands.execute('backup x.db', {
      source: 'discord',
      name: 'mod',
      permission: 'moderator',
    });
    expect(result).toMatchObject({ ok: false, code: 'forbidden' });
    expect(existsSync(join(dir, 'backups', 'x.db'))).toBe(false);
  });
});
