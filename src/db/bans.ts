/**
 * Bans: a player is refused when an active ban matches their IP or their name. Names compare
 * exactly (SQLite's default BINARY collation) because SAR names are case-sensitive.
 */
import { and, asc, eq, gt, isNull, or, type SQL } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { bans } from './schema.js';
import type { Writer } from './writer.js';

export type Ban = typeof bans.$inferSelect;

export interface NewBan {
  ip?: string | null;
  name?: string | null;
  reason?: string | null;
  /** Who issued it, as shown to operators (console user, Discord tag, ...). */
  createdBy: string;
  /** Omitted or null: permanent. */
  expiresAt?: Date | null;
}

/**
 * Reads return at once from the main thread's connection. Writes resolve once committed (a
 * command can then say "Banned") and reject with a DatabaseError if they are not.
 */
export interface BanStore {
  /** Needs a non-empty ip or name (rejects with a RangeError otherwise). Resolves with the stored ban. */
  add(ban: NewBan): Promise<Ban>;
  /** Active bans (permanent or not yet expired), oldest first. */
  list(now?: Date): Ban[];
  /** The oldest active ban matching this ip OR this name, if any. */
  findActive(ip: string, name: string, now?: Date): Ban | undefined;
  /** Deletes every ban on this ip; resolves with how many of them were active (what list() showed). */
  removeByIp(ip: string, now?: Date): Promise<number>;
  /** Deletes every ban on this name; resolves with how many of them were active. */
  removeByName(name: string, now?: Date): Promise<number>;
  /** Deletes the ban with this id; false if there was none. */
  removeById(id: number): Promise<boolean>;
}

function activeAt(now: Date): SQL {
  return or(isNull(bans.expiresAt), gt(bans.expiresAt, now))!;
}

function orNull(value: string | null | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

export function createBanStore(connection: Connection, writer: Writer): BanStore {
  const { orm } = connection;
  return {
    async add(ban) {
      const ip = orNull(ban.ip);
      const name = orNull(ban.name);
      if (ip === null && name === null) throw new RangeError('a ban needs an ip or a name');
      if (ban.expiresAt != null && Number.isNaN(ban.expiresAt.getTime())) {
        throw new RangeError('a ban expiry must be a valid date');
      }
      const row = {
        ip,
        name,
        reason: orNull(ban.reason),
        createdBy: ban.createdBy,
        createdAt: new Date(),
        expiresAt: ban.expiresAt ?? null,
      };
      return writer.run('bans.add', row);
    },

    list(now = new Date()) {
      return connection.read(() => orm.select().from(bans).where(activeAt(now)).orderBy(asc(bans.id)).all());
    },

    findActive(ip, name, now = new Date()) {
      return connection.read(() =>
        orm
          .select()
          .from(bans)
          .where(and(or(eq(bans.ip, ip), eq(bans.name, name)), activeAt(now)))
          .orderBy(asc(bans.id))
          .limit(1)
          .get(),
      );
    },

    removeByIp: (ip, now = new Date()) => writer.run('bans.remove', { by: 'ip', value: ip, now }),
    removeByName: (name, now = new Date()) => writer.run('bans.remove', { by: 'name', value: name, now }),
    removeById: (id) => writer.run('bans.removeById', { id }),
  };
}
