/**
 * Keeps the race history: a countdown opens a race, and every speedrun finish until the next
 * countdown is stored with it. Runs with or without Discord; `results` reads what it stored.
 * A failed write (a full disk) is logged and skipped — results are not worth stopping a race for.
 */
import type { Store } from './db/database.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';

export function recordRaces(bus: EventBus, store: Store, log: Logger): () => void {
  let currentRace: number | null = store.races.latest()?.id ?? null;
  const stopCountdowns = bus.on('countdownStarted', ({ duration }) => {
    try {
      currentRace = store.races.start(duration).id;
    } catch (error) {
      log.warn({ err: error }, 'cannot record the race');
    }
  });
  const stopFinishes = bus.on('speedrunFinished', ({ client, time }) => {
    try {
      store.races.recordFinish({ raceId: currentRace, player: client.name, clientId: client.id, time });
    } catch (error) {
      log.warn({ err: error }, 'cannot record a finish');
    }
  });
  return () => {
    stopCountdowns();
    stopFinishes();
  };
}
