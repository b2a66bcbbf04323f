CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`source` text NOT NULL,
	`action` text NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `bans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ip` text,
	`name` text,
	`reason` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	CONSTRAINT "bans_ip_or_name" CHECK("bans"."ip" IS NOT NULL OR "bans"."name" IS NOT NULL)
);
--> statement-breakpoint
CREATE INDEX `bans_ip_idx` ON `bans` (`ip`);--> statement-breakpoint
CREATE INDEX `bans_name_idx` ON `bans` (`name`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `whitelist_entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`value` text NOT NULL,
	`added_by` text NOT NULL,
	`added_at` integer NOT NULL,
	CONSTRAINT "whitelist_kind" CHECK("whitelist_entries"."kind" IN ('name', 'ip'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `whitelist_kind_value_idx` ON `whitelist_entries` (`kind`,`value`);