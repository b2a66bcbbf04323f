/**
 * The database schema. drizzle-kit reads this file to generate the SQL migrations in drizzle/
 * (`npm run db:generate`); never edit those by hand. Changing a table here means generating a new
 * migration and committing it with the change.
 *
 * Times are stored as integer milliseconds since the epoch (drizzle maps them to Date).
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const WHITELIST_KINDS = ['name', 'ip'] as const;
export type WhitelistKind = (typeof WHITELIST_KINDS)[number];

// Kept as a TypeScript-only enum (no CHECK in the database) so adding a source needs no migration.
export const AUDIT_SOURCES = ['console', 'discord', 'plugin', 'http', 'chat'] as const;
export type AuditSource = (typeof AUDIT_SOURCES)[number];

/** A ban matches a player by IP or by name; expires_at NULL means permanent. */
export const bans = sqliteTable(
  'bans',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ip: text('ip'),
    name: text('name'),
    reason: text('reason'),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
  },
  (table) => [
    index('bans_ip_idx').on(table.ip),
    index('bans_name_idx').on(table.name),
    check('bans_ip_or_name', sql`${table.ip} IS NOT NULL OR ${table.name} IS NOT NULL`),
  ],
);

export const whitelistEntries = sqliteTable(
  'whitelist_entries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    kind: text('kind', { enum: WHITELIST_KINDS }).notNull(),
    value: text('value').notNull(),
    addedBy: text('added_by').notNull(),
    addedAt: integer('added_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [
    uniqueIndex('whitelist_kind_value_idx').on(table.kind, table.value),
    check('whitelist_kind', sql`${table.kind} IN ('name', 'ip')`),
  ],
);

/** Small persisted switches, e.g. "whitelist_enabled" = "1". */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    actor: text('actor').notNull(),
    source: text('source', { enum: AUDIT_SOURCES }).notNull(),
    action: text('action').notNull(),
    detail: text('detail'),
  },
  (table) => [index('audit_log_at_idx').on(table.at)],
);

export const PERMISSION_LEVELS = ['everyone', 'moderator', 'admin'] as const;
export const GRANT_SUBJECTS = ['role', 'user'] as const;
export type GrantSubject = (typeof GRANT_SUBJECTS)[number];

/** Which Discord roles or users may run commands of which level (see src/discord/permissions.ts). */
export const discordGrants = sqliteTable(
  'discord_grants',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    subject: text('subject', { enum: GRANT_SUBJECTS }).notNull(),
    subjectId: text('subject_id').notNull(),
    level: text('level', { enum: PERMISSION_LEVELS }).notNull(),
    grantedBy: text('granted_by').notNull(),
    grantedAt: integer('granted_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [uniqueIndex('discord_grants_subject_idx').on(table.subject, table.subjectId)],
);

/** A race begins with each countdown; finishes after it belong to it until the next one. */
export const races = sqliteTable('races', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  startedAt: integer('started_at', { mode: 'timestamp_ms' }).notNull(),
  duration: integer('duration').notNull(),
});

export const finishes = sqliteTable(
  'finishes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    raceId: integer('race_id').references(() => races.id),
    player: text('player').notNull(),
    clientId: integer('client_id').notNull(),
    /** As SAR formatted it, e.g. "1:02.345". */
    time: text('time').notNull(),
    /** The same time in milliseconds when it could be read, for ordering. */
    timeMs: integer('time_ms'),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [index('finishes_race_idx').on(table.raceId)],
);

/** Plugins' persistent key-value storage: JSON values, namespaced by plugin name. */
export const pluginData = sqliteTable(
  'plugin_data',
  {
    plugin: text('plugin').notNull(),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (table) => [uniqueIndex('plugin_data_key_idx').on(table.plugin, table.key)],
);
