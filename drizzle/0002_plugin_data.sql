CREATE TABLE `plugin_data` (
	`plugin` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `plugin_data_key_idx` ON `plugin_data` (`plugin`,`key`);