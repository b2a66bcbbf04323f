CREATE TABLE `discord_grants` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`subject` text NOT NULL,
	`subject_id` text NOT NULL,
	`level` text NOT NULL,
	`granted_by` text NOT NULL,
	`granted_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `discord_grants_subject_idx` ON `discord_grants` (`subject`,`subject_id`);--> statement-breakpoint
CREATE TABLE `finishes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`race_id` integer,
	`player` text NOT NULL,
	`client_id` integer NOT NULL,
	`time` text NOT NULL,
	`time_ms` integer,
	`finished_at` integer NOT NULL,
	FOREIGN KEY (`race_id`) REFERENCES `races`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `finishes_race_idx` ON `finishes` (`race_id`);--> statement-breakpoint
CREATE TABLE `races` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`started_at` integer NOT NULL,
	`duration` integer NOT NULL
);
