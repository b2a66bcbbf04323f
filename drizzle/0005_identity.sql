CREATE TABLE `link_addresses` (
	`name` text NOT NULL,
	`address` text NOT NULL,
	`confirmed_at` integer NOT NULL,
	PRIMARY KEY(`name`, `address`)
);
--> statement-breakpoint
CREATE TABLE `member_bans` (
	`discord_id` text PRIMARY KEY NOT NULL,
	`reason` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `player_links` (
	`name` text PRIMARY KEY NOT NULL,
	`discord_id` text NOT NULL,
	`discord_name` text NOT NULL,
	`linked_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `player_links_discord_idx` ON `player_links` (`discord_id`);