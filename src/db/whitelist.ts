/**
 * The whitelist: when enabled, only players whose name or IP is listed may join. The on/off
 * switch is persisted in the settings table so a restart keeps it; it defaults to off.
 */
import { and, asc, eq, or } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { WHITELIST_ENABLED_KEY } from './operations.js';
import { settings, whitelistEntries, type WhitelistKind } from './schema.js';
import type { Writer } from './writer.js';

export type { WhitelistKind };

export interface WhitelistEntry {
  kind: WhitelistKind;
  value: string;
  addedBy: string;
  addedAt: Date;
}

/** Reads return at once; writes resolve once committed and reject with a DatabaseError if not. */
export interface WhitelistStore {
  isEnabled(): boolean;
  setEnabled(enabled: boolean): Promise<void>;
  /** false if this entry was already there (its addedBy/addedAt are kept). */
  add(kind: WhitelistKind, value: string, addedBy: string): Promise<boolean>;
  /** false if there was no such entry. */
  remove(kind: WhitelistKind, value: string): Promise<boolean>;
  /** Every entry, oldest first. */
  list(): WhitelistEntry[];
  /** true when the whitelist is disabled, or when the name or the ip is listed (names exact). */
  allows(name: string, ip: string): boolean;
}

const ENABLED_KEY = WHITELIST_ENABLED_KEY;

export function createWhitelistStore(connection: Connection, writer: Writer): WhitelistStore {
  const { orm } = connection;

  const isEnabled = (): boolean =>
    connection.read(
      () =>
        orm.select({ value: settings.value }).from(settings).where(eq(settings.key, ENABLED_KEY)).get()?.value === '1',
    );

  return {
    isEnabled,

    setEnabled: (enabled) => writer.run('whitelist.setEnabled', { enabled }),
    add: (kind, value, addedBy) => writer.run('whitelist.add', { kind, value, addedBy, addedAt: new Date() }),
    remove: (kind, value) => writer.run('whitelist.remove', { kind, value }),

    list() {
      return connection.read(() =>
        orm
          .select({
            kind: whitelistEntries.kind,
            value: whitelistEntries.value,
            addedBy: whitelistEntries.addedBy,
            addedAt: whitelistEntries.addedAt,
          })
          .from(whitelistEntries)
          .orderBy(asc(whitelistEntries.id))
          .all(),
      );
    },

    allows(name, ip) {
      if (!isEnabled()) return true;
      const listed = connection.read(() =>
        orm
          .select({ id: whitelistEntries.id })
          .from(whitelistEntries)
          .where(
            or(
              and(eq(whitelistEntries.kind, 'name'), eq(whitelistEntries.value, name)),
              and(eq(whitelistEntries.kind, 'ip'), eq(whitelistEntries.value, ip)),
            ),
          )
          .limit(1)
          .get(),
      );
      return listed !== undefined;
    },
  };
}
