/**
 * Discord permission grants: a role or a user gets a command level (everyone, moderator, admin).
 * One grant per role or user; granting again replaces the level.
 */
import { and, asc, eq, inArray, or } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { discordGrants, PERMISSION_LEVELS, type GrantSubject } from './schema.js';
import type { Writer } from './writer.js';

export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];
export type Grant = typeof discordGrants.$inferSelect;
export type { GrantSubject };

/** Reads return at once; writes resolve once committed and reject with a DatabaseError if not. */
export interface GrantStore {
  /** Sets the level of a role or user (replacing any earlier grant). */
  grant(subject: GrantSubject, subjectId: string, level: PermissionLevel, grantedBy: string): Promise<void>;
  /** Removes the grant of a role or user; false if it had none. */
  revoke(subject: GrantSubject, subjectId: string): Promise<boolean>;
  list(): Grant[];
  /** The highest level granted to this user directly or to any of these roles. */
  levelFor(userId: string, roleIds: readonly string[]): PermissionLevel;
}

const RANK: Record<PermissionLevel, number> = { everyone: 0, moderator: 1, admin: 2 };

export function createGrantStore(connection: Connection, writer: Writer): GrantStore {
  const { orm } = connection;
  const matches = (subject: GrantSubject, subjectId: string) =>
    and(eq(discordGrants.subject, subject), eq(discordGrants.subjectId, subjectId));
  return {
    grant: (subject, subjectId, level, grantedBy) =>
      writer.run('grants.grant', { subject, subjectId, level, grantedBy, grantedAt: new Date() }),

    revoke: (subject, subjectId) => writer.run('grants.revoke', { subject, subjectId }),

    list() {
      return connection.read(() => orm.select().from(discordGrants).orderBy(asc(discordGrants.id)).all());
    },

    levelFor(userId, roleIds) {
      const conditions = [matches('user', userId)];
      if (roleIds.length > 0) {
        conditions.push(and(eq(discordGrants.subject, 'role'), inArray(discordGrants.subjectId, [...roleIds])));
      }
      const rows = connection.read(() =>
        orm
          .select({ level: discordGrants.level })
          .from(discordGrants)
          .where(or(...conditions))
          .all(),
      );
      let best: PermissionLevel = 'everyone';
      for (const row of rows) if (RANK[row.level] > RANK[best]) best = row.level;
      return best;
    },
  };
}
