/**
 * The pages' parts as HTML text, from the public shapes in types.ts. The server renders whole
 * pages with these (the HTML is complete before any script runs), and the browser calls the very
 * same functions to redraw a part when the `/live` stream says it changed, so the two can never
 * disagree. Plain string functions: no DOM, no Node.
 *
 * Every text that came from outside (names, titles, chat, map names) goes through `escapeHtml`.
 */
import type {
  EntrantStatus,
  MapPlace,
  PublicEntrant,
  PublicPlayer,
  PublicRace,
  PublicSplit,
  RaceState,
  RaceSummary,
} from './types.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

/** 65_432 ms → "1:05.4"; an hour or more → "1:02:03". */
export function formatClock(ms: number, tenths = true): string {
  const total = Math.max(0, Math.floor(ms / 100));
  const tenth = total % 10;
  const seconds = Math.floor(total / 10) % 60;
  const minutes = Math.floor(total / 600) % 60;
  const hours = Math.floor(total / 36_000);
  const ss = String(seconds).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${ss}`;
  return tenths ? `${minutes}:${ss}.${tenth}` : `${minutes}:${ss}`;
}

/** A gap behind the winner: "+1.234", "+1:02.345". */
export function formatGap(ms: number): string {
  const millis = Math.round(ms) % 1000;
  const seconds = Math.floor(ms / 1000);
  const frac = String(millis).padStart(3, '0');
  if (seconds < 60) return `+${seconds}.${frac}`;
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const ss = String(seconds % 60).padStart(2, '0');
  if (hours === 0) return `+${minutes}:${ss}.${frac}`;
  return `+${hours}:${String(minutes % 60).padStart(2, '0')}:${ss}.${frac}`;
}

/** "2 The Cold Boot: Laser Intro" for a known map, the raw name otherwise, "(menu)" for none. */
export function mapText(map: string, place: MapPlace | null): string {
  if (place !== null) return `${place.chapter > 0 ? `${place.chapter} ` : ''}${place.chapterTitle}: ${place.title}`;
  return map === '' ? '(menu)' : map;
}

/** A map as a table cell: the chapter and title (a phone shows only the title), the raw name on hover. */
function mapCell(map: string, place: MapPlace | null, className = 'map'): string {
  const hover = map === '' ? '' : ` title="${escapeHtml(map)}"`;
  if (place === null) return `<td class="${className}"${hover}>${escapeHtml(mapText(map, null))}</td>`;
  const chapter = mapText(map, place).slice(0, -place.title.length);
  return `<td class="${className}"${hover}><span class="chapter">${escapeHtml(chapter)}</span>${escapeHtml(place.title)}</td>`;
}

export const STATE_TEXT: Record<RaceState, string> = {
  open: 'open',
  counting_down: 'counting down',
  running: 'running',
  finished: 'finished',
  cancelled: 'cancelled',
};

export const STATUS_TEXT: Record<EntrantStatus, string> = {
  not_ready: 'not ready',
  ready: 'ready',
  running: 'running',
  finished: 'finished',
  forfeited: 'forfeited',
  dnf: 'DNF',
};

export function playerRows(players: readonly PublicPlayer[], attribute: 'data-player' | 'data-spectator'): string {
  return players
    .map(
      (player) =>
        `<tr ${attribute}="${escapeHtml(player.name)}"><th scope="row" class="name">${escapeHtml(player.name)}</th>` +
        `${mapCell(player.map, player.place)}</tr>`,
    )
    .join('');
}

/** The players' and spectators' tables (inside `#players` and `#spectators`). */
export function playersSection(players: readonly PublicPlayer[]): { players: string; spectators: string } {
  const runners = players.filter((player) => !player.spectator);
  const watchers = players.filter((player) => player.spectator);
  const table = (rows: string, caption: string, empty: string) =>
    rows === ''
      ? `<p class="empty">${empty}</p>`
      : `<div class="scroll"><table><caption class="visually-hidden">${caption}</caption><thead><tr>` +
        `<th scope="col">Name</th><th scope="col">Map</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  return {
    players:
      `<h2 id="players-heading">Players <span id="player-count" class="count">${runners.length}</span></h2>` +
      table(playerRows(runners, 'data-player'), 'Players and the map each is on', 'Nobody is playing right now.'),
    spectators:
      `<h2 id="spectators-heading">Spectators <span id="spectator-count" class="count">${watchers.length}</span></h2>` +
      table(playerRows(watchers, 'data-spectator'), 'Spectators', 'No spectators.'),
  };
}

/** What the progress column says of a runner who stopped. */
function progressText(entrant: PublicEntrant): string {
  return entrant.status === 'forfeited' ? 'forfeited' : 'did not finish';
}

/** One standings row per entrant, in the order given (already standing order). */
export function standingsRows(entrants: readonly PublicEntrant[]): string {
  return entrants
    .map((entrant) => {
      const time = entrant.time ?? '';
      const gap = entrant.gapMs === null ? '' : entrant.gapMs === 0 ? 'winner' : formatGap(entrant.gapMs);
      return (
        `<tr data-entrant="${escapeHtml(entrant.name)}" class="status-${entrant.status}">` +
        `<td class="position">${entrant.place ?? entrant.position}</td>` +
        `<th scope="row" class="name">${escapeHtml(entrant.name)}</th>` +
        `<td class="status">${STATUS_TEXT[entrant.status]}</td>` +
        (entrant.status === 'forfeited' || entrant.status === 'dnf'
          ? `<td class="progress">${escapeHtml(progressText(entrant))}</td>`
          : mapCell(entrant.map, entrant.mapPlace, 'progress')) +
        `<td class="time">${escapeHtml(time)}</td><td class="gap">${escapeHtml(gap)}</td></tr>`
      );
    })
    .join('');
}

export function standingsTable(entrants: readonly PublicEntrant[], caption: string): string {
  if (entrants.length === 0) return '<p class="empty">No entrants yet: players type /ready in game chat.</p>';
  return (
    `<div class="scroll"><table id="standings"><caption class="visually-hidden">${escapeHtml(caption)}</caption><thead><tr>` +
    '<th scope="col">#</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Progress</th>' +
    `<th scope="col">Time</th><th scope="col">Gap</th></tr></thead><tbody>${standingsRows(entrants)}</tbody></table></div>`
  );
}

/** The race's clock as a page shows it at first (scripts count on from `elapsedMs`). */
export function elapsedText(race: PublicRace): string {
  if (race.state === 'open') return 'not started';
  if (race.state === 'counting_down') return 'counting down';
  return race.elapsedMs === null ? '' : formatClock(race.elapsedMs);
}

function readyCount(race: PublicRace): string {
  if (race.state !== 'open') return '';
  const ready = race.entrants.filter((entrant) => entrant.status === 'ready').length;
  return ` <span id="race-ready">${ready}/${race.entrants.length} ready</span>`;
}

/** The inside of `#race` on the home page: the current race, or a line saying there is none. */
export function raceCard(race: PublicRace | null): string {
  if (race === null) return '<h2 id="race-heading">Race</h2><p id="race-none" class="empty">No race open.</p>';
  return (
    `<h2 id="race-heading"><a href="/races/${race.id}" id="race-title">${escapeHtml(race.title)}</a></h2>` +
    `<p class="race-meta"><span id="race-state" data-state="${race.state}">${STATE_TEXT[race.state]}</span>` +
    `${readyCount(race)} <time id="race-elapsed">${elapsedText(race)}</time></p>` +
    standingsTable(race.entrants, `Standings of ${race.title}`)
  );
}

function winnerText(summary: RaceSummary): string {
  if (summary.state === 'cancelled') return 'cancelled';
  if (summary.winner !== null) return `won by ${summary.winner.name} in ${summary.winner.time}`;
  return summary.state === 'finished' ? 'nobody finished' : STATE_TEXT[summary.state];
}

/** The recent races list (inside `#recent`). */
export function recentList(recent: readonly RaceSummary[]): string {
  if (recent.length === 0) return '<h2>Recent races</h2><p class="empty">No races yet.</p>';
  const items = recent
    .map(
      (summary) =>
        `<li data-race="${summary.id}"><a href="/races/${summary.id}">${escapeHtml(summary.title)}</a> ` +
        `<span class="winner">${escapeHtml(winnerText(summary))}</span></li>`,
    )
    .join('');
  return `<h2>Recent races</h2><ol class="recent">${items}</ol>`;
}

export interface OverlayOptions {
  rows: number;
  showTitle: boolean;
}

/** One overlay line: position, name, and the finish time or where the runner is. */
function overlayRow(entrant: PublicEntrant): string {
  let right: string;
  if (entrant.status === 'finished') right = entrant.time ?? '';
  else if (entrant.status === 'ready' || entrant.status === 'not_ready') right = STATUS_TEXT[entrant.status];
  else if (entrant.status === 'running') right = entrant.mapPlace?.title ?? (entrant.map === '' ? '' : entrant.map);
  else right = STATUS_TEXT[entrant.status];
  return (
    `<li data-entrant="${escapeHtml(entrant.name)}" class="status-${entrant.status}">` +
    `<span class="position">${entrant.place ?? entrant.position}</span>` +
    `<span class="name">${escapeHtml(entrant.name)}</span><span class="detail">${escapeHtml(right)}</span></li>`
  );
}

/** The inside of `#overlay`: the race's title and clock, and its first `rows` standings. */
export function overlayContent(race: PublicRace | null, options: OverlayOptions): string {
  if (race === null) return '<p id="overlay-none" class="overlay-box">No race open</p>';
  const title = options.showTitle
    ? `<h1 id="race-title">${escapeHtml(race.title)}</h1>`
    : `<h1 id="race-title" class="visually-hidden">${escapeHtml(race.title)}</h1>`;
  return (
    `<div class="overlay-box">${title}<p class="overlay-clock"><time id="race-elapsed">${elapsedText(race)}</time></p>` +
    `<ol id="overlay-standings">${race.entrants.slice(0, options.rows).map(overlayRow).join('')}</ol></div>`
  );
}

const ticksText = (ticks: number | null): string => (ticks === null ? '' : (ticks / 60).toFixed(3));

function splitRows(splits: readonly PublicSplit[]): string {
  return splits
    .map(
      (split) =>
        `<tr><th scope="row" title="${escapeHtml(split.toMap)}">${escapeHtml(mapText(split.toMap, split.toPlace))}</th>` +
        `<td title="${escapeHtml(split.fromMap)}">${escapeHtml(mapText(split.fromMap, split.fromPlace))}</td>` +
        `<td class="num">${ticksText(split.ticks)}</td><td class="num">${ticksText(split.ticksTotal)}</td>` +
        `<td class="num">${formatClock(split.elapsedMs)}</td></tr>`,
    )
    .join('');
}

/** Every entrant's splits: one table each. */
export function splitsSection(race: PublicRace): string {
  const withSplits = race.entrants.filter((entrant) => (entrant.splits ?? []).length > 0);
  if (withSplits.length === 0) return '<h2 id="splits-heading">Splits</h2><p class="empty">No splits yet.</p>';
  const tables = withSplits
    .map(
      (entrant) =>
        `<details open data-entrant="${escapeHtml(entrant.name)}"><summary>${escapeHtml(entrant.name)}</summary>` +
        `<div class="scroll"><table><caption class="visually-hidden">Splits of ${escapeHtml(entrant.name)}</caption>` +
        '<thead><tr><th scope="col">Loaded</th><th scope="col">Left</th><th scope="col">SAR split (s)</th>' +
        '<th scope="col">SAR total (s)</th><th scope="col">Server clock</th></tr></thead>' +
        `<tbody>${splitRows(entrant.splits ?? [])}</tbody></table></div></details>`,
    )
    .join('');
  return `<h2 id="splits-heading">Splits</h2>${tables}`;
}
