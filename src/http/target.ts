/** The parts of the app the HTTP endpoint reads and drives. */
import type { App } from '../app.js';
import type { RaceSnapshot } from '../races/types.js';

export type OperationsTarget = Pick<App, 'server' | 'store' | 'countdown' | 'commands' | 'discord'> & {
  /** The race director (`app.races`): the race that is open, counting down or running now. */
  races: { current(): RaceSnapshot | undefined };
  /** Log lines the log file dropped (it could not be written), for /metrics. */
  droppedLogLines(): number;
};
