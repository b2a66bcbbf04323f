DROP TABLE `finishes`;--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_races` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`title` text NOT NULL,
	`state` text NOT NULL,
	`opened_by` text NOT NULL,
	`opened_at` integer NOT NULL,
	`countdown_seconds` integer,
	`started_at` integer,
	`go_at` integer,
	`ended_at` integer,
	`route` text
);
--> statement-breakpoint
INSERT INTO `__new_races`("id", "kind", "title", "state", "opened_by", "opened_at", "countdown_seconds", "started_at", "go_at", "ended_at", "route") SELECT "id", "kind", "title", "state", "opened_by", "opened_at", "countdown_seconds", "started_at", "go_at", "ended_at", "route" FROM `races`;--> statement-breakpoint
DROP TABLE `races`;--> statement-breakpoint
ALTER TABLE `__new_races` RENAME TO `races`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `races_state_idx` ON `races` (`state`);--> statement-breakpoint
CREATE INDEX `races_route_idx` ON `races` (`route`);