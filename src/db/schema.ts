/**
 * The database schema. drizzle-kit reads this file to generate the SQL migrations in drizzle/
 * (`npm run db:generate`); never edit those by hand. Changing a table here means generating a new
 * migration and committing it with the change.
 *
 * Times are stored as integer milliseconds since the epoch (drizzle maps them to Date).
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { EntrantStatus, RaceKind, RaceState, RouteId } from '../races/types.js';

export const WHITELIST_KINDS = ['name', 'ip'] as const;
export type WhitelistKind = (typeof WHITELIST_KINDS)[number];

// Kept as a TypeScript-only enum (no CHECK in the database) so adding a source needs no migration.
/** Where an audited command came from; `game` is SAR's chat (older rows say `chat`). */
export const AUDIT_SOURCES = ['console', 'discord', 'plugin', 'http', 'game', 'chat'] as const;
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

// What src/races/types.ts allows, as TypeScript-only enums (no CHECK in the database).
export const RACE_KINDS = ['race', 'countdown'] as const satisfies readonly RaceKind[];
export const RACE_STATES = [
  'open',
  'counting_down',
  'running',
  'finished',
  'cancelled',
] as const satisfies readonly RaceState[];
export const ENTRANT_STATUSES = [
  'not_ready',
  'ready',
  'running',
  'finished',
  'forfeited',
  'dnf',
] as const satisfies readonly EntrantStatus[];
export const ROUTE_IDS = ['sp', 'coop'] as const satisfies readonly RouteId[];

/**
 * A race (src/races/types.ts): opened, counted down, run, then finished or cancelled. Its id is
 * decided on the main thread when it is opened (RaceHistory.nextId) and inserted as it is.
 */
export const races = sqliteTable(
  'races',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    kind: text('kind', { enum: RACE_KINDS }).notNull(),
    title: text('title').notNull(),
    state: text('state', { enum: RACE_STATES }).notNull(),
    /** Who opened it: "console", a Discord tag, "http", a plugin's name ("unknown" before issue 12). */
    openedBy: text('opened_by').notNull(),
    openedAt: integer('opened_at', { mode: 'timestamp_ms' }).notNull(),
    countdownSeconds: integer('countdown_seconds'),
    /** When the countdown was sent. */
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    /** When the countdown reached zero: splits and finishes count from here. */
    goAt: integer('go_at', { mode: 'timestamp_ms' }),
    endedAt: integer('ended_at', { mode: 'timestamp_ms' }),
    route: text('route', { enum: ROUTE_IDS }),
  },
  (table) => [index('races_state_idx').on(table.state), index('races_route_idx').on(table.route)],
);

/**
 * One entrant of a race, known by name within it (a player who reconnects under the same name is
 * the same entrant). The finish columns are all set (a finisher) or all null.
 */
export const raceEntrants = sqliteTable(
  'race_entrants',
  {
    raceId: integer('race_id')
      .notNull()
      .references(() => races.id),
    name: text('name').notNull(),
    /** The client id it last had. */
    clientId: integer('client_id'),
    status: text('status', { enum: ENTRANT_STATUSES }).notNull(),
    /** The map it is on (its last map once the race is over); '' when not known. */
    map: text('map').notNull(),
    /** As SAR formatted it, e.g. "1:02.345". */
    finishTime: text('finish_time'),
    /** The same in milliseconds, when it could be read. */
    finishTimeMs: integer('finish_time_ms'),
    /** The server's clock: milliseconds from the go to the finish. */
    finishElapsedMs: integer('finish_elapsed_ms'),
    finishPlace: integer('finish_place'),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    /** Milliseconds from the go to the forfeit. */
    forfeitedAtMs: integer('forfeited_at_ms'),
  },
  (table) => [
    uniqueIndex('race_entrants_race_name_idx').on(table.raceId, table.name),
    index('race_entrants_name_idx').on(table.name),
    check(
      'race_entrants_finish',
      sql`(${table.finishTime} IS NULL) = (${table.finishElapsedMs} IS NULL) AND (${table.finishTime} IS NULL) = (${table.finishPlace} IS NULL) AND (${table.finishTime} IS NULL) = (${table.finishedAt} IS NULL)`,
    ),
  ],
);

/**
 * One map change of an entrant while its race runs: many rows (500 entrants × 60 maps), so one
 * small insert each, one index (by race), and no AUTOINCREMENT bookkeeping.
 */
export const raceSplits = sqliteTable(
  'race_splits',
  {
    id: integer('id').primaryKey(),
    raceId: integer('race_id')
      .notNull()
      .references(() => races.id),
    entrantName: text('entrant_name').notNull(),
    fromMap: text('from_map').notNull(),
    toMap: text('to_map').notNull(),
    /** SAR's split timer in ticks (60 per second); null before SAR made a split. */
    ticks: integer('ticks'),
    ticksTotal: integer('ticks_total'),
    /** The server's clock: milliseconds since the go. */
    elapsedMs: integer('elapsed_ms').notNull(),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [index('race_splits_race_idx').on(table.raceId)],
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

/**
 * A SAR name linked to a Discord member (src/identity): one owner per name (exact,
 * case-sensitive, like bans), several names per member.
 */
export const playerLinks = sqliteTable(
  'player_links',
  {
    name: text('name').primaryKey(),
    discordId: text('discord_id').notNull(),
    /** The member's Discord name when they linked it, for display. */
    discordName: text('discord_name').notNull(),
    linkedAt: integer('linked_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [index('player_links_discord_idx').on(table.discordId)],
);

/** The addresses a linked name is confirmed from: the one `/link` was typed from, and those the owner confirmed. */
export const linkAddresses = sqliteTable(
  'link_addresses',
  {
    name: text('name').notNull(),
    address: text('address').notNull(),
    confirmedAt: integer('confirmed_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.name, table.address] })],
);

/** A banned Discord member: every name linked to them is refused, and they cannot link another. */
export const memberBans = sqliteTable('member_bans', {
  discordId: text('discord_id').primaryKey(),
  reason: text('reason'),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
});

/**
 * The Discord message that shows a race (its card), so that a server back from a crash edits the
 * card of the race it ended instead of leaving it "running" forever (or posting another).
 */
export const raceCards = sqliteTable('race_cards', {
  // No foreign key: a card can be posted before its race's row is written (they are batched).
  raceId: integer('race_id').primaryKey(),
  channelId: text('channel_id').notNull(),
  messageId: text('message_id').notNull(),
});
