/**
 * Keeps the race history: a countdown opens a race, and every speedrun finish until the next
 * countdown is stored with it. Runs with or without Discord; `results` reads what it stored.
 *
 * Nothing here waits for the disk: the writes are queued to the database's write thread in the
 * order the events happen, and a finish that follows a countdown names the race by the token
 * `start` returned, so it is stored with that race's id even if the race is not committed yet.
 * A failed write (a full disk) is logged once by the store and skipped — results are not worth
 * stopping a race for; the finishes of a race that could not be stored are kept without a race.
 */
import type { RaceRef, Store } from './db/database.js';
import type { EventBus } from './events.js';

export function recordRaces(bus: EventBus, store: Store): () => void {
  const latest = store.races.latest();
  let currentRace: RaceRef = latest !== undefined ? { id: latest.id } : null;
  const stopCountdowns = bus.on('countdownStarted', ({ duration }) => {
    currentRace = store.races.start(duration).race;
  });
  const stopFinishes = bus.on('speedrunFinished', ({ client, time }) => {
    void store.races.recordFinish({ race: currentRace, player: client.name, clientId: client.id, time });
  });
  return () => {
    stopCountdowns();
    stopFinishes();
  };
}
