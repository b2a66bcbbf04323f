CREATE TABLE `race_cards` (
	`race_id` integer PRIMARY KEY NOT NULL,
	`channel_id` text NOT NULL,
	`message_id` text NOT NULL
);
