/**
 * A race as lines of text, for the console, in-game chat (one line per message, so each line
 * stands alone) and command results. Names are player-chosen: they go through `printable`.
 */
import { printable } from '../text/printable.js';
import { mapInfo } from './routes.js';
import { standings, type Standing } from './standings.js';
import type { RaceSnapshot, RaceState } from './types.js';

/** Milliseconds as SAR shows times: "12.345", "1:02.345", "1:02:03.456". */
export function formatDuration(ms: number): string {
  const negative = ms < 0;
  let rest = Math.round(Math.abs(ms));
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  const ss = `${String(seconds).padStart(hours > 0 || minutes > 0 ? 2 : 1, '0')}.${String(millis).padStart(3, '0')}`;
  const text = hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${ss}` : minutes > 0 ? `${minutes}:${ss}` : ss;
  return negative ? `-${text}` : text;
}

/** "+2.600" behind the winner. */
export function formatGap(ms: number): string {
  return `+${formatDuration(ms)}`;
}

/** 1st, 2nd, 3rd, 4th, 11th, 21st… */
export function ordinal(place: number): string {
  const tens = place % 100;
  if (tens >= 11 && tens <= 13) return `${place}th`;
  return `${place}${['th', 'st', 'nd', 'rd'][place % 10] ?? 'th'}`;
}

const STATE_TEXT: Record<RaceState, string> = {
  open: 'open: ready up with /ready',
  counting_down: 'counting down',
  running: 'running',
  finished: 'finished',
  cancelled: 'cancelled',
};

/** "Race 12 "Friday night" (running, 3:12)". */
export function raceHeading(race: RaceSnapshot, now = new Date()): string {
  const title = race.title === '' ? '' : ` "${printable(race.title)}"`;
  const clock =
    race.state === 'running' && race.goAt !== null ? `, ${formatDuration(now.getTime() - race.goAt.getTime())}` : '';
  return `Race ${race.id}${title} (${STATE_TEXT[race.state]}${clock})`;
}

/** Where a map is on its route, for people: "Laser Intro" when known, the raw name otherwise. */
export function mapLabel(map: string): string {
  if (map === '') return 'the menu';
  return mapInfo(map)?.title ?? printable(map);
}

/** One standing as a line: "1. Alpha — 1:02.345 (server 1:03.120)", "3. Carol — on Laser Intro". */
export function standingLine(standing: Standing): string {
  const { entrant, position, gapMs } = standing;
  const name = printable(entrant.name);
  const away = entrant.clientId === null && entrant.status === 'running' ? ' (disconnected)' : '';
  switch (entrant.status) {
    case 'finished': {
      const finish = entrant.finish!;
      const gap = gapMs !== null && gapMs > 0 ? `, ${formatGap(gapMs)}` : '';
      return `${position}. ${name} — ${printable(finish.time)} (server ${formatDuration(finish.elapsedMs)}${gap})`;
    }
    case 'running':
      return `${position}. ${name} — on ${mapLabel(entrant.map)}${away}`;
    case 'ready':
      return `${name} — ready`;
    case 'not_ready':
      return `${name} — not ready`;
    case 'forfeited':
      return `${name} — forfeited`;
    case 'dnf':
      return `${name} — did not finish`;
  }
}

/** The heading and up to `limit` standings, with "and N more" below. */
export function raceLines(race: RaceSnapshot, limit = Infinity, now = new Date()): string[] {
  const all = standings(race);
  const lines = [raceHeading(race, now)];
  if (all.length === 0) lines.push(race.state === 'open' ? 'Nobody is ready yet.' : 'No entrants.');
  for (const standing of all.slice(0, limit)) lines.push(standingLine(standing));
  if (all.length > limit) lines.push(`and ${all.length - limit} more`);
  return lines;
}
