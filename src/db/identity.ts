/**
 * Links between SAR names and Discord members (src/identity): which member owns a name, the
 * addresses each linked name is confirmed from, and banned members. Names compare exactly
 * (SQLite's BINARY collation), as SAR names and bans do.
 *
 * The reads run on every connect and chat command, so they are prepared once: drizzle compiles a
 * statement on every call.
 */
import type { Connection } from './connection.js';
import type { Writer } from './writer.js';

export interface MemberLink {
  discordId: string;
  /** The member's Discord name when they linked it. */
  discordName: string;
  linkedAt: Date;
}

/** Reads return at once; writes resolve once committed and reject with a DatabaseError if not. */
export interface IdentityStore {
  /** Links a name to a member (replacing an earlier owner, whose confirmed addresses are forgotten) and confirms `address`. */
  link(name: string, discordId: string, discordName: string, address: string): Promise<void>;
  /** false if the name was not linked. */
  unlink(name: string): Promise<boolean>;
  /** Unlinks every name of a member; resolves with the names it had. */
  unlinkMember(discordId: string): Promise<string[]>;
  memberOf(name: string): MemberLink | undefined;
  /** The names linked to a member, sorted. */
  namesOf(discordId: string): string[];
  /** Whether this address is confirmed for this linked name. */
  isConfirmed(name: string, address: string): boolean;
  /** Confirms an address for a linked name (does nothing if the name is not linked). */
  confirm(name: string, address: string): Promise<void>;
  /** Bans a member (or replaces the reason of their ban). */
  banMember(discordId: string, reason: string | null, createdBy: string): Promise<void>;
  /** false if the member was not banned. */
  unbanMember(discordId: string): Promise<boolean>;
  memberBan(discordId: string): MemberBan | undefined;
  /** Every banned member, oldest ban first. */
  memberBans(): (MemberBan & { discordId: string })[];
}

export interface MemberBan {
  reason: string | null;
  createdBy: string;
  createdAt: Date;
}

export function createIdentityStore(connection: Connection, writer: Writer): IdentityStore {
  const { sqlite } = connection;
  const memberQuery = sqlite.prepare(
    'SELECT discord_id AS discordId, discord_name AS discordName, linked_at AS linkedAt FROM player_links WHERE name = ?',
  );
  const namesQuery = sqlite.prepare('SELECT name FROM player_links WHERE discord_id = ? ORDER BY name').pluck();
  const confirmedQuery = sqlite.prepare('SELECT 1 FROM link_addresses WHERE name = ? AND address = ?').pluck();
  const banQuery = sqlite.prepare(
    'SELECT reason, created_by AS createdBy, created_at AS createdAt FROM member_bans WHERE discord_id = ?',
  );

  const bansQuery = sqlite.prepare(
    'SELECT discord_id AS discordId, reason, created_by AS createdBy, created_at AS createdAt FROM member_bans ORDER BY created_at, discord_id',
  );

  return {
    link: (name, discordId, discordName, address) =>
      writer.run('identity.link', { name, discordId, discordName, address, at: new Date() }),
    unlink: (name) => writer.run('identity.unlink', { name }),
    unlinkMember: (discordId) => writer.run('identity.unlinkMember', { discordId }),

    memberOf(name) {
      const row = connection.read(
        () => memberQuery.get(name) as { discordId: string; discordName: string; linkedAt: number } | undefined,
      );
      return row === undefined ? undefined : { ...row, linkedAt: new Date(row.linkedAt) };
    },

    namesOf: (discordId) => connection.read(() => namesQuery.all(discordId) as string[]),

    isConfirmed: (name, address) => connection.read(() => confirmedQuery.get(name, address) !== undefined),

    async confirm(name, address) {
      await writer.run('identity.confirm', { name, address, at: new Date() });
    },

    banMember: (discordId, reason, createdBy) =>
      writer.run('identity.banMember', { discordId, reason, createdBy, createdAt: new Date() }),

    unbanMember: (discordId) => writer.run('identity.unbanMember', { discordId }),

    memberBan(discordId) {
      const row = connection.read(
        () => banQuery.get(discordId) as { reason: string | null; createdBy: string; createdAt: number } | undefined,
      );
      return row === undefined ? undefined : { ...row, createdAt: new Date(row.createdAt) };
    },

    memberBans() {
      const rows = connection.read(
        () => bansQuery.all() as { discordId: string; reason: string | null; createdBy: string; createdAt: number }[],
      );
      return rows.map((row) => ({ ...row, createdAt: new Date(row.createdAt) }));
    },
  };
}
