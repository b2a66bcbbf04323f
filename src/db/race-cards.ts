/**
 * Which Discord message is each race's card (src/discord/race-card.ts), so that after a crash the
 * race the next start ends gets its own card edited to show how it ended.
 */
import type { Connection } from './connection.js';
import type { Writer } from './writer.js';

export interface RaceCardMessage {
  channelId: string;
  messageId: string;
}

/** Reads return at once; writes resolve once committed and reject with a DatabaseError if not. */
export interface RaceCardStore {
  /** Remembers (or replaces, when the card was posted again) the message of a race's card. */
  remember(raceId: number, message: RaceCardMessage): Promise<void>;
  messageOf(raceId: number): RaceCardMessage | undefined;
}

export function createRaceCardStore(connection: Connection, writer: Writer): RaceCardStore {
  // Read when a card is made for a race: once per race, prepared once all the same.
  const messageQuery = connection.sqlite.prepare(
    'SELECT channel_id AS channelId, message_id AS messageId FROM race_cards WHERE race_id = ?',
  );
  return {
    remember: (raceId, message) => writer.run('raceCards.remember', { raceId, ...message }),
    messageOf: (raceId) => connection.read(() => messageQuery.get(raceId) as RaceCardMessage | undefined),
  };
}
