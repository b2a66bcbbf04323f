/** The parts of the app the HTTP endpoint reads and drives. */
import type { App } from '../app.js';

export type OperationsTarget = Pick<App, 'server' | 'store' | 'countdown' | 'commands' | 'discord'> & {
  /** Log lines the log file dropped (it could not be written), for /metrics. */
  droppedLogLines(): number;
};
