/**
 * The pages' side of `/live`: one EventSource, the `#live-status` line saying whether updates
 * are coming, and a race clock that counts on between events. The browser reconnects by itself
 * when the stream breaks; every new connection begins with a fresh `snapshot`.
 */
import { formatClock } from '../shared/render.js';
import type { LiveEventName, LiveEvents, PublicRace } from '../shared/types.js';
import { byId, setText } from './dom.js';

export type LiveHandlers = { [E in LiveEventName]?: (data: LiveEvents[E]) => void };

function showStatus(state: 'connecting' | 'open' | 'closed', text: string): void {
  const status = byId('live-status');
  if (status === null) return;
  status.dataset.state = state;
  status.textContent = text;
}

/** After the server refused the stream (503: too many viewers) or it could not be opened at all. */
const REOPEN_MS = 30_000;

export function openLive(handlers: LiveHandlers): void {
  const source = new EventSource('/live');
  showStatus('connecting', 'Connecting…');
  source.addEventListener('open', () => showStatus('open', 'Live'));
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED) {
      showStatus('connecting', 'Reconnecting…');
      return;
    }
    // The browser gives up on an answer other than a stream; try again later, as a person would.
    showStatus('closed', 'Live updates paused; trying again shortly.');
    setTimeout(() => openLive(handlers), REOPEN_MS);
  });
  for (const name of Object.keys(handlers) as LiveEventName[]) {
    const handle = handlers[name] as ((data: unknown) => void) | undefined;
    source.addEventListener(name, (event) => {
      try {
        handle?.(JSON.parse((event as MessageEvent<string>).data));
      } catch (error) {
        console.error(`live event "${name}" could not be shown`, error);
      }
    });
  }
}

/**
 * Keeps `#race-elapsed` counting while the race runs: from the server's `elapsedMs` at the time
 * the race was received, on this browser's own clock (the two machines' clocks need not agree).
 */
export class RaceClock {
  private race: PublicRace | null = null;
  private receivedAt = 0;

  constructor() {
    setInterval(() => this.show(), 100);
  }

  set(race: PublicRace | null): void {
    this.race = race;
    this.receivedAt = performance.now();
    this.show();
  }

  private show(): void {
    const race = this.race;
    if (race === null || race.elapsedMs === null) return;
    if (race.state !== 'running') {
      if (race.state === 'finished' || race.state === 'cancelled') setText('race-elapsed', formatClock(race.elapsedMs));
      return;
    }
    setText('race-elapsed', formatClock(race.elapsedMs + performance.now() - this.receivedAt));
  }
}
