/**
 * The persistence layer against real SQLite files in a temporary directory.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openConnection } from '../src/db/connection.js';
import { DatabaseError, openDatabase, parseFinishTime, type AuditEntry, type Store } from '../src/db/database.js';
import { applyMigrations } from '../src/db/migrate.js';

let dir: string;
let dbPath: string;
const opened: Store[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ghosting-db-'));
  dbPath = join(dir, 'data', 'ghosting.db');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

function open(path = dbPath): Store {
  const store = openDatabase(path);
  opened.push(store);
  return store;
}

async function reopen(store: Store): Promise<Store> {
  await store.close();
  const again = open(store.path);
  await again.ready();
  return again;
}

/** A second, raw connection to look at the file or tamper with it the way another process could. */
function raw(path = dbPath): BetterSqlite3.Database {
  return new BetterSqlite3(path);
}

function openError(path: string): DatabaseError {
  try {
    open(path);
  } catch (error) {
    expect(error).toBeInstanceOf(DatabaseError);
    return error as DatabaseError;
  }
  throw new Error(`opening ${path} should have failed`);
}

const journal = JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as {
  entries: unknown[];
};

describe('opening', () => {
  it('creates the directory and file, applies every migration once, and uses WAL', async () => {
    expect(existsSync(join(dir, 'data'))).toBe(false);
    await reopen(open());
    const db = raw();
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
      expect(tables).toEqual(
        expect.arrayContaining([
          '__drizzle_migrations',
          'audit_log',
          'bans',
          'settings',
          'whitelist_entries',
          'races',
          'race_entrants',
          'race_splits',
        ]),
      );
      const applied = db.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get();
      expect(applied).toBe(journal.entries.length);
    } finally {
      db.close();
    }
  });

  it('opens a throwaway ":memory:" database', async () => {
    const store = open(':memory:');
    await store.bans.add({ name: 'Player', createdBy: 'test' });
    expect(store.bans.list()).toHaveLength(1);
    expect(store.path).toBe(':memory:');
    expect(existsSync(':memory:')).toBe(false);
  });

  it('throws a DatabaseError naming the path when the parent is a regular file', () => {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, 'plain file');
    const path = join(file, 'ghosting.db');
    const error = openError(path);
    expect(error.message).toContain(`cannot open database ${path}: `);
    expect(error.message).toContain('is not a directory');
  });

  it('throws a DatabaseError naming the path when the file is not SQLite, and leaves it alone', () => {
    const path = join(dir, 'junk.db');
    const junk = Buffer.alloc(4096, 'this is not a database. ');
    writeFileSync(path, junk);
    const error = openError(path);
    expect(error.message).toBe(`cannot open database ${path}: SQLITE_NOTADB (file is not a database)`);
    expect(readFileSync(path).equals(junk)).toBe(true);
  });

  it('throws a DatabaseError when a migration fails, and closes the file', () => {
    dbPath = join(dir, 'old.db');
    const db = raw();
    db.exec('CREATE TABLE bans (something_else TEXT)');
    db.close();
    const error = openError(dbPath);
    expect(error.message).toMatch(new RegExp(`^database ${dbPath}: migration failed: .*bans.* already exists`));
    // A closed WAL database leaves no -wal file behind; an open handle would keep it.
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
  });

  it('refuses a database written by a newer version', async () => {
    await open().close();
    const db = raw();
    db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('future', 8_000_000_000_000);
    db.close();
    expect(openError(dbPath).message).toMatch(
      new RegExp(`^database ${dbPath}: migration failed: .*newer version of ghosting`),
    );
  });

  it('turns foreign keys off while migrating (tables are rebuilt), then checks them and says what is broken', () => {
    const folder = join(dir, 'migrations');
    mkdirSync(join(folder, 'meta'), { recursive: true });
    const entry = { idx: 0, version: '6', when: 1, tag: '0000_dangling', breakpoints: true };
    writeFileSync(
      join(folder, 'meta', '_journal.json'),
      JSON.stringify({ version: '7', dialect: 'sqlite', entries: [entry] }),
    );
    writeFileSync(
      join(folder, '0000_dangling.sql'),
      [
        'CREATE TABLE parent (id integer PRIMARY KEY)',
        'CREATE TABLE child (parent_id integer REFERENCES parent(id))',
        'INSERT INTO child VALUES (1), (2)',
      ].join(';--> statement-breakpoint\n'),
    );
    const connection = openConnection(dbPath);
    try {
      expect(() => applyMigrations(connection, folder)).toThrow(
        `database ${dbPath}: migration failed: 2 rows refer to rows that do not exist (PRAGMA foreign_key_check)`,
      );
      expect(connection.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      connection.sqlite.close();
    }
  });

  it('finds the migrations from the built module in dist/ too', async () => {
    // test/global-setup.ts builds dist/ before the tests run.
    const built = (await import(pathToFileURL(join(process.cwd(), 'dist/db/database.js')).href)) as {
      openDatabase: typeof openDatabase;
    };
    const store = built.openDatabase(dbPath);
    opened.push(store);
    await store.bans.add({ name: 'Player', createdBy: 'test' });
    expect(store.bans.list()).toHaveLength(1);
  });

  it('fails reads and writes with a DatabaseError after close, and close can be called twice', async () => {
    const store = open();
    await store.close();
    await store.close();
    expect(() => store.bans.list()).toThrow(DatabaseError);
    await expect(store.bans.add({ name: 'Late', createdBy: 'test' })).rejects.toThrow(
      new RegExp(`^database ${dbPath} is closed$`),
    );
    expect(await store.audit.record({ actor: 'a', source: 'console', action: 'x' })).toBeUndefined();
  });
});

describe('bans', () => {
  it('match by ip or by exact name, until they expire', async () => {
    const { bans } = open();
    const now = new Date('2030-01-01T00:00:00Z');
    const later = new Date('2030-01-01T01:00:00Z');
    const byIp = await bans.add({ ip: '10.0.0.1', reason: 'griefing', createdBy: 'admin' });
    const byName = await bans.add({ name: 'Cheater', createdBy: 'admin', expiresAt: new Date(now.getTime() + 60_000) });

    expect(bans.findActive('10.0.0.1', 'Anyone', now)?.id).toBe(byIp.id);
    expect(bans.findActive('10.0.0.2', 'Cheater', now)?.id).toBe(byName.id);
    expect(bans.findActive('10.0.0.2', 'cheater', now)).toBeUndefined();
    expect(bans.findActive('10.0.0.2', 'Someone', now)).toBeUndefined();

    expect(bans.findActive('10.0.0.2', 'Cheater', later)).toBeUndefined();
    expect(bans.list(now).map((ban) => ban.id)).toEqual([byIp.id, byName.id]);
    expect(bans.list(later).map((ban) => ban.id)).toEqual([byIp.id]);
  });

  it('are stored with every field', async () => {
    const { bans } = open();
    const expiresAt = new Date(Date.now() + 3_600_000);
    const before = Date.now();
    const ban = await bans.add({ ip: '10.0.0.1', name: 'Both', reason: 'spam', createdBy: 'console', expiresAt });
    expect(ban).toMatchObject({ ip: '10.0.0.1', name: 'Both', reason: 'spam', createdBy: 'console', expiresAt });
    expect(ban.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(bans.list()).toEqual([ban]);
    expect(await bans.add({ name: 'Permanent', createdBy: 'console' })).toMatchObject({
      ip: null,
      reason: null,
      expiresAt: null,
    });
  });

  it('need an ip or a name', async () => {
    const { bans } = open();
    await expect(bans.add({ createdBy: 'admin' })).rejects.toThrow(RangeError);
    await expect(bans.add({ ip: '', name: '', createdBy: 'admin' })).rejects.toThrow(RangeError);
    expect(bans.list()).toEqual([]);
  });

  it('are removed by ip, by name and by id', async () => {
    const { bans } = open();
    const now = new Date();
    await bans.add({ ip: '10.0.0.1', createdBy: 'a' });
    await bans.add({ ip: '10.0.0.1', name: 'Twice', createdBy: 'a' });
    await bans.add({ ip: '10.0.0.1', createdBy: 'a', expiresAt: new Date(now.getTime() - 1000) });
    const keep = await bans.add({ name: 'Other', createdBy: 'a' });
    const byName = await bans.add({ name: 'Named', createdBy: 'a' });

    expect(await bans.removeByIp('10.0.0.1', now)).toBe(2); // the expired one is deleted but not counted
    expect(await bans.removeByIp('10.0.0.1', now)).toBe(0);
    expect(await bans.removeByName('Named')).toBe(1);
    expect(await bans.removeById(byName.id)).toBe(false);
    expect(bans.list().map((ban) => ban.id)).toEqual([keep.id]);
    expect(await bans.removeById(keep.id)).toBe(true);
    expect(bans.list()).toEqual([]);
  });

  it('survive close and reopen', async () => {
    const store = open();
    const ban = await store.bans.add({ ip: '10.0.0.1', name: 'Kept', reason: 'r', createdBy: 'c' });
    expect((await reopen(store)).bans.list()).toEqual([ban]);
  });
});

describe('whitelist', () => {
  it('allows everyone while disabled, which is the default', () => {
    const { whitelist } = open();
    expect(whitelist.isEnabled()).toBe(false);
    expect(whitelist.allows('Anyone', '10.0.0.9')).toBe(true);
  });

  it('when enabled, allows only a listed name (exact) or ip', async () => {
    const { whitelist } = open();
    expect(await whitelist.add('name', 'Friend', 'admin')).toBe(true);
    expect(await whitelist.add('ip', '10.0.0.5', 'admin')).toBe(true);
    await whitelist.setEnabled(true);
    expect(whitelist.isEnabled()).toBe(true);
    expect(whitelist.allows('Friend', '10.0.0.9')).toBe(true);
    expect(whitelist.allows('Stranger', '10.0.0.5')).toBe(true);
    expect(whitelist.allows('friend', '10.0.0.9')).toBe(false);
    // A name entry does not match an ip and the other way round.
    expect(whitelist.allows('10.0.0.5', 'Friend')).toBe(false);
    await whitelist.setEnabled(false);
    expect(whitelist.allows('Stranger', '10.0.0.9')).toBe(true);
  });

  it('adds each entry once and removes it', async () => {
    const { whitelist } = open();
    expect(await whitelist.add('name', 'Friend', 'first')).toBe(true);
    expect(await whitelist.add('name', 'Friend', 'second')).toBe(false);
    expect(await whitelist.add('ip', 'Friend', 'third')).toBe(true);
    expect(whitelist.list().map(({ kind, value, addedBy }) => ({ kind, value, addedBy }))).toEqual([
      { kind: 'name', value: 'Friend', addedBy: 'first' },
      { kind: 'ip', value: 'Friend', addedBy: 'third' },
    ]);
    expect(await whitelist.remove('name', 'Friend')).toBe(true);
    expect(await whitelist.remove('name', 'Friend')).toBe(false);
    expect(whitelist.list().map((entry) => entry.kind)).toEqual(['ip']);
  });

  it('keeps its entries and its switch across close and reopen', async () => {
    const store = open();
    await store.whitelist.add('name', 'Friend', 'admin');
    await store.whitelist.setEnabled(true);
    const entries = store.whitelist.list();
    expect(entries[0]?.addedAt).toBeInstanceOf(Date);
    const again = await reopen(store);
    expect(again.whitelist.isEnabled()).toBe(true);
    expect(again.whitelist.list()).toEqual(entries);
    expect(again.whitelist.allows('Stranger', '10.0.0.9')).toBe(false);
    await again.whitelist.setEnabled(false);
    expect((await reopen(again)).whitelist.isEnabled()).toBe(false);
  });
});

describe('audit log', () => {
  it('records entries and returns the latest first', async () => {
    const store = open();
    const before = Date.now();
    void store.audit.record({ actor: 'admin', source: 'console', action: 'ban', detail: 'ip 10.0.0.1' });
    void store.audit.record({ actor: 'mod#1234', source: 'discord', action: 'kick' });
    void store.audit.record({ actor: 'admin', source: 'console', action: 'whitelist on' });
    const expected = [
      { actor: 'admin', source: 'console', action: 'whitelist on', detail: null },
      { actor: 'mod#1234', source: 'discord', action: 'kick', detail: null },
      { actor: 'admin', source: 'console', action: 'ban', detail: 'ip 10.0.0.1' },
    ];
    const summary = (entries: AuditEntry[]) =>
      entries.map(({ actor, source, action, detail }) => ({ actor, source, action, detail }));
    // Seen at once, while still being written...
    expect(summary(store.audit.recent())).toEqual(expected);
    // ...and stored (close commits what is queued).
    const recent = (await reopen(store)).audit.recent();
    expect(summary(recent)).toEqual(expected);
    expect(recent.every((entry) => entry.id > 0)).toBe(true);
    expect(recent[2]!.at.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('shows each entry once, whether it is being written, committed, or both', async () => {
    const { audit } = open();
    const ids: Promise<number | undefined>[] = [];
    for (let i = 0; i < 5; i++) ids.push(audit.record({ actor: 'a', source: 'plugin', action: `action ${i}` }));
    const seen = new Set<string>();
    // Read on every turn of the event loop until every entry is committed.
    let done = false;
    void Promise.all(ids).then(() => (done = true));
    while (!done) {
      const actions = audit.recent(10).map((entry) => entry.action);
      expect(actions).toEqual(['action 4', 'action 3', 'action 2', 'action 1', 'action 0']);
      seen.add(
        audit
          .recent(10)
          .map((entry) => entry.id)
          .join(),
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(audit.recent(2).map((entry) => entry.action)).toEqual(['action 4', 'action 3']);
    expect(audit.recent(2).every((entry) => entry.id > 0)).toBe(true);
    expect(audit.recent(0)).toEqual([]);
  });
});

describe('failed writes', () => {
  it('reject with a DatabaseError naming the file and roll that write back', async () => {
    const store = open();
    const first = await store.bans.add({ ip: '10.0.0.1', createdBy: 'a' });
    const second = await store.bans.add({ ip: '10.0.0.1', createdBy: 'a' });
    // Another process makes deleting the second row fail part-way through the statement. RAISE(FAIL)
    // keeps what the statement already did, so only the savepoint can bring the first row back.
    const db = raw();
    db.exec(`CREATE TRIGGER refuse BEFORE DELETE ON bans WHEN old.id = ${second.id}
             BEGIN SELECT RAISE(FAIL, 'simulated failure'); END`);
    db.close();

    await expect(store.bans.removeByIp('10.0.0.1')).rejects.toThrow(
      new RegExp(`^database ${dbPath}: write failed: SQLITE_CONSTRAINT_TRIGGER \\(simulated failure\\)$`),
    );
    expect(store.bans.list()).toEqual([first, second]);
    expect((await reopen(store)).bans.list()).toEqual([first, second]);
  });
});

describe('finish times and grants', () => {
  it('reads SAR finish times as milliseconds', () => {
    expect(parseFinishTime('12.345')).toBe(12_345);
    expect(parseFinishTime('1:02.345')).toBe(62_345);
    expect(parseFinishTime('1:02:03.456')).toBe(3_723_456);
    expect(parseFinishTime('DNF')).toBeNull();
  });

  it('keeps the highest level granted to a user or any of their roles, across a reopen', async () => {
    const first = open();
    await first.grants.grant('role', '111111111111111111', 'moderator', 'test');
    await first.grants.grant('user', '222222222222222222', 'admin', 'test');
    await first.grants.grant('role', '333333333333333333', 'admin', 'test');
    await first.grants.grant('role', '333333333333333333', 'everyone', 'test'); // replaces
    const store = await reopen(first);
    expect(store.grants.levelFor('999999999999999999', ['111111111111111111'])).toBe('moderator');
    expect(store.grants.levelFor('222222222222222222', [])).toBe('admin');
    expect(store.grants.levelFor('999999999999999999', ['333333333333333333'])).toBe('everyone');
    expect(store.grants.list()).toHaveLength(3);
    expect(await store.grants.revoke('role', '111111111111111111')).toBe(true);
    expect(await store.grants.revoke('role', '111111111111111111')).toBe(false);
    expect(store.grants.levelFor('999999999999999999', ['111111111111111111'])).toBe('everyone');
  });
});
