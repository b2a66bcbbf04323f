CREATE TABLE `race_entrants` (
	`race_id` integer NOT NULL,
	`name` text NOT NULL,
	`client_id` integer,
	`status` text NOT NULL,
	`map` text NOT NULL,
	`finish_time` text,
	`finish_time_ms` integer,
	`finish_elapsed_ms` integer,
	`finish_place` integer,
	`finished_at` integer,
	`forfeited_at_ms` integer,
	FOREIGN KEY (`race_id`) REFERENCES `races`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "race_entrants_finish" CHECK(("race_entrants"."finish_time" IS NULL) = ("race_entrants"."finish_elapsed_ms" IS NULL) AND ("race_entrants"."finish_time" IS NULL) = ("race_entrants"."finish_place" IS NULL) AND ("race_entrants"."finish_time" IS NULL) = ("race_entrants"."finished_at" IS NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `race_entrants_race_name_idx` ON `race_entrants` (`race_id`,`name`);--> statement-breakpoint
CREATE INDEX `race_entrants_name_idx` ON `race_entrants` (`name`);--> statement-breakpoint
CREATE TABLE `race_splits` (
	`id` integer PRIMARY KEY NOT NULL,
	`race_id` integer NOT NULL,
	`entrant_name` text NOT NULL,
	`from_map` text NOT NULL,
	`to_map` text NOT NULL,
	`ticks` integer,
	`ticks_total` integer,
	`elapsed_ms` integer NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`race_id`) REFERENCES `races`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `race_splits_race_idx` ON `race_splits` (`race_id`);--> statement-breakpoint
ALTER TABLE `races` ADD `kind` text;--> statement-breakpoint
ALTER TABLE `races` ADD `title` text;--> statement-breakpoint
ALTER TABLE `races` ADD `state` text;--> statement-breakpoint
ALTER TABLE `races` ADD `opened_by` text;--> statement-breakpoint
ALTER TABLE `races` ADD `opened_at` integer;--> statement-breakpoint
ALTER TABLE `races` ADD `countdown_seconds` integer;--> statement-breakpoint
ALTER TABLE `races` ADD `go_at` integer;--> statement-breakpoint
ALTER TABLE `races` ADD `ended_at` integer;--> statement-breakpoint
ALTER TABLE `races` ADD `route` text;--> statement-breakpoint
CREATE INDEX `races_state_idx` ON `races` (`state`);--> statement-breakpoint
CREATE INDEX `races_route_idx` ON `races` (`route`);--> statement-breakpoint
-- Data: every race stored before race history was a plain countdown. It becomes a finished race of kind 'countdown' whose go was the end of its countdown and which ended with its last finish.
UPDATE `races` SET `kind` = 'countdown', `title` = '', `state` = 'finished', `opened_by` = 'unknown', `opened_at` = `started_at`, `countdown_seconds` = `duration`, `go_at` = `started_at` + `duration` * 1000, `ended_at` = max(`started_at` + `duration` * 1000, coalesce((SELECT max(`finished_at`) FROM `finishes` WHERE `finishes`.`race_id` = `races`.`id`), 0));--> statement-breakpoint
-- Its finishes become its entrants, placed by SAR's time (unreadable times last, then in the order they arrived); a player who finished twice keeps the better one. Finishes made before any countdown belonged to no race and are not kept.
INSERT INTO `race_entrants` (`race_id`, `name`, `client_id`, `status`, `map`, `finish_time`, `finish_time_ms`, `finish_elapsed_ms`, `finish_place`, `finished_at`, `forfeited_at_ms`)
SELECT `race_id`, `player`, `client_id`, 'finished', '', `time`, `time_ms`, max(0, `finished_at` - `go_at`), row_number() OVER (PARTITION BY `race_id` ORDER BY `time_ms` IS NULL, `time_ms`, `id`), `finished_at`, NULL
FROM (
	SELECT `finishes`.*, `races`.`go_at`, row_number() OVER (PARTITION BY `finishes`.`race_id`, `finishes`.`player` ORDER BY `finishes`.`time_ms` IS NULL, `finishes`.`time_ms`, `finishes`.`id`) AS `nth`
	FROM `finishes` JOIN `races` ON `races`.`id` = `finishes`.`race_id`
)
WHERE `nth` = 1;
