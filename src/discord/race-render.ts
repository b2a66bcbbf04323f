/**
 * Races as Discord embeds: the race card (race-card.ts keeps one per race in the events channel)
 * and the replies of /results, /stats and /leaderboard. Pure functions of their data, so they
 * are tested without Discord.
 *
 * Everything a player or an organiser chose (names, the race's title, map names, SAR's time
 * strings) goes through format.ts: literal, on one line, no mention syntax. Pings are stopped
 * separately, by `NO_MENTIONS` on every send and edit. Every embed stays within Discord's limits
 * (title 256, description 4096, field value 1024, footer 2048, 6000 in all): long lists are cut
 * with "and N more".
 */
import type { APIEmbed } from 'discord.js';
import { mapInfo, ROUTES } from '../races/routes.js';
import { standings } from '../races/standings.js';
import { formatDuration, formatGap } from '../races/text.js';
import type { Entrant, RaceSnapshot, RaceState, RouteId } from '../races/types.js';
import { printable } from '../text/printable.js';
import { discordText } from './format.js';

export const EMBED_LIMITS = { title: 256, description: 4096, fieldValue: 1024, footer: 2048, total: 6000 } as const;

/** Rows a card or a reply shows before "and N more". */
export const CARD_ROWS = 20;

/** How many characters of a name or a map are shown (before escaping). */
const NAME_CHARS = 40;

const COLORS: Record<RaceState, number> = {
  open: 0x3498db,
  counting_down: 0xe67e22,
  running: 0x2ecc71,
  finished: 0xf1c40f,
  cancelled: 0x95a5a6,
};

const MEDALS = ['🥇', '🥈', '🥉'];

/** At most `max` UTF-16 units of `text`, never splitting a character (an ellipsis marks a cut). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const point of text) {
    if (kept.length + point.length > max - 1) break;
    kept += point;
  }
  return `${kept}…`;
}

/** A player's name as literal markdown on one line, bold. */
export function cardName(name: string): string {
  const shown = discordText(cut(name, NAME_CHARS));
  return `**${shown === '' ? '(no name)' : shown}**`;
}

/** A map by its title when the project knows it, else its name (literal). */
export function cardMap(map: string): string {
  if (map === '') return 'the menu';
  return mapInfo(map)?.title ?? discordText(cut(map, NAME_CHARS));
}

/** Whole seconds since the go: "0:07", "12:34", "1:02:03". */
function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const seconds = String(total % 60).padStart(2, '0');
  const minutes = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** A Discord timestamp (`<t:…:R>` shows "in 5 seconds", "12 minutes ago", kept current by Discord). */
function stamp(at: Date, style: 'R' | 't' | 'f'): string {
  return `<t:${Math.floor(at.getTime() / 1000)}:${style}>`;
}

/** Dates as stored or received (Date, ISO text, epoch ms); undefined when not a date. */
function asDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'string' || typeof value === 'number') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/** "Race 12: Friday night" (escaped, within the title limit). */
function raceTitle(race: RaceSnapshot): string {
  const kind = race.kind === 'countdown' ? 'Countdown race' : 'Race';
  const title = race.title.trim() === '' ? '' : `: ${discordText(cut(race.title, 200))}`;
  return cut(`🏁 ${kind} ${race.id}${title}`, EMBED_LIMITS.title);
}

/** The state, with the time Discord keeps current: "Running · started 3 minutes ago". */
function stateLine(race: RaceSnapshot): string {
  switch (race.state) {
    case 'open':
      return '**Open** · ready up with `/ready` in game';
    case 'counting_down': {
      const started = asDate(race.startedAt);
      const go =
        started !== undefined && race.countdownSeconds !== null
          ? ` · go ${stamp(new Date(started.getTime() + race.countdownSeconds * 1000), 'R')}`
          : '';
      return `**Counting down**${go}`;
    }
    case 'running': {
      const go = asDate(race.goAt);
      return `**Running**${go !== undefined ? ` · started ${stamp(go, 'R')}` : ''}`;
    }
    case 'finished': {
      const go = asDate(race.goAt);
      const ended = asDate(race.endedAt);
      const length =
        go !== undefined && ended !== undefined ? ` · ${formatDuration(ended.getTime() - go.getTime())} long` : '';
      return `**Finished**${length}`;
    }
    case 'cancelled':
      return '**Cancelled**';
  }
}

/** "2 of 3 ready", "3 running · 1 finished · 1 forfeited". */
function countsLine(race: RaceSnapshot): string {
  const count = (status: Entrant['status']) => race.entrants.filter((entrant) => entrant.status === status).length;
  if (race.entrants.length === 0) return race.state === 'open' ? 'Nobody has joined yet.' : 'No entrants.';
  if (race.state === 'open') return `${count('ready')} of ${race.entrants.length} ready`;
  const parts: string[] = [];
  for (const [status, label] of [
    ['ready', 'ready'],
    ['not_ready', 'not ready'],
    ['running', 'running'],
    ['finished', 'finished'],
    ['forfeited', 'forfeited'],
    ['dnf', 'DNF'],
  ] as const) {
    const n = count(status);
    if (n > 0) parts.push(`${n} ${label}`);
  }
  return parts.join(' · ');
}

/** One standing: "🥇 **Alpha** — 1:02.345", "4\. **Dave** — Laser Intro · 4:12". */
function standingRow(entrant: Entrant, position: number, gapMs: number | null): string {
  const name = cardName(entrant.name);
  // "4." at the start of a line would become a Markdown list; "4\." is shown as "4.".
  const label = (place: number) => MEDALS[place - 1] ?? `${place}\\.`;
  switch (entrant.status) {
    case 'finished': {
      const finish = entrant.finish;
      if (finish === null) return `${label(position)} ${name} — finished`;
      const gap = gapMs !== null && gapMs > 0 ? ` · ${formatGap(gapMs)}` : '';
      return `${label(finish.place)} ${name} — **${discordText(cut(finish.time, 20))}**${gap}`;
    }
    case 'running': {
      const last = entrant.splits.at(-1);
      const since = last !== undefined ? ` · ${clock(last.elapsedMs)}` : '';
      const away = entrant.clientId === null ? ' · disconnected' : '';
      // Medals are for finishers; a runner shows its position.
      return `${position}\\. ${name} — ${cardMap(entrant.map)}${since}${away}`;
    }
    case 'ready':
      return `✅ ${name} — ready`;
    case 'not_ready':
      return `⬜ ${name} — not ready`;
    case 'forfeited': {
      const at = entrant.forfeitedAtMs !== null ? ` at ${formatDuration(entrant.forfeitedAtMs)}` : '';
      return `🏳️ ${name} — forfeited${at}`;
    }
    case 'dnf':
      return `❌ ${name} — DNF`;
  }
}

/**
 * Lines under `head`: `rows` (the first of `total`), up to `maxRows` of them and within `limit`
 * characters in all, with "and N more" for the rest.
 */
function capped(
  head: string[],
  rows: readonly string[],
  limit: number,
  maxRows = CARD_ROWS,
  total = rows.length,
): string {
  const lines = [...head];
  let length = lines.join('\n').length;
  const more = (n: number) => `… and ${n} more`;
  let shown = 0;
  for (const row of rows) {
    if (shown >= maxRows) break;
    const left = total - shown - 1;
    const reserve = left > 0 ? more(left).length + 1 : 0;
    if (length + 1 + row.length + reserve > limit) break;
    lines.push(row);
    length += 1 + row.length;
    shown++;
  }
  if (shown < total) lines.push(more(total - shown));
  return lines.join('\n');
}

export interface RaceEmbedOptions {
  /** The embed's timestamp (the footer's "last updated"); the race's end once it has ended. */
  now?: Date;
  maxRows?: number;
}

/**
 * The race card: title, state, counts, and the standings in the order of `race.entrants`
 * (already standing order): place or position, name, and what the entrant is doing.
 */
export function raceEmbed(race: RaceSnapshot, options: RaceEmbedOptions = {}): APIEmbed {
  const maxRows = options.maxRows ?? CARD_ROWS;
  // Only the rows that can be shown are drawn: a card of 500 runners costs no more than one of 20.
  const rows = standings(race)
    .slice(0, maxRows)
    .map(({ entrant, position, gapMs }) => standingRow(entrant, position, gapMs));
  const head = [stateLine(race), countsLine(race)];
  if (rows.length > 0) head.push('');
  const route = race.route !== null ? ROUTES[race.route]?.name : undefined;
  const footer = [`Race ${race.id}`, route, `opened by ${printable(cut(race.openedBy, 60))}`]
    .filter((part) => part !== undefined)
    .join(' · ');
  const at = asDate(race.endedAt) ?? options.now;
  return {
    title: raceTitle(race),
    description: capped(head, rows, EMBED_LIMITS.description, maxRows, race.entrants.length),
    color: COLORS[race.state],
    footer: { text: footer },
    ...(at !== undefined ? { timestamp: at.toISOString() } : {}),
  };
}

// ---- history replies (/results, /stats, /leaderboard) ----

/** What `stats <player>` returns as `data` (src/db/races.ts `PlayerStats`). */
export interface StatsData {
  name: string;
  races: number;
  wins: number;
  finishes: number;
  forfeits: number;
  best: Array<{
    route: RouteId | null;
    time: string;
    timeMs: number | null;
    elapsedMs: number;
    raceId: number;
    at: unknown;
  }>;
}

/** One row of `leaderboard [route]`'s `data` (src/db/races.ts `LeaderboardRow`). */
export interface LeaderboardRowData {
  place: number;
  name: string;
  time: string;
  timeMs: number | null;
  elapsedMs: number;
  raceId: number;
  at: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === 'string';

function routeName(route: unknown): string {
  if (route === null || route === undefined) return 'Other maps';
  return (isString(route) && ROUTES[route as RouteId]?.name) || discordText(String(route));
}

/** A race snapshot as a command's `data` carries it (checked, not trusted). */
export function asRace(value: unknown): RaceSnapshot | undefined {
  if (!isRecord(value)) return undefined;
  if (!isNumber(value.id) || !isString(value.title) || !isString(value.state) || !Array.isArray(value.entrants))
    return undefined;
  if (!(value.state in COLORS)) return undefined;
  const entrantsOk = value.entrants.every(
    (entrant: unknown) =>
      isRecord(entrant) &&
      isString(entrant.name) &&
      isString(entrant.status) &&
      isString(entrant.map) &&
      Array.isArray(entrant.splits) &&
      (entrant.finish === null || isRecord(entrant.finish)),
  );
  if (!entrantsOk) return undefined;
  return value as unknown as RaceSnapshot;
}

function asStats(value: unknown): StatsData | undefined {
  if (!isRecord(value) || !isString(value.name) || !Array.isArray(value.best)) return undefined;
  if (![value.races, value.wins, value.finishes, value.forfeits].every(isNumber)) return undefined;
  if (!value.best.every((best: unknown) => isRecord(best) && isString(best.time) && isNumber(best.raceId)))
    return undefined;
  return value as unknown as StatsData;
}

function asLeaderboard(value: unknown): { route: unknown; rows: LeaderboardRowData[] } | undefined {
  const rows = Array.isArray(value) ? value : isRecord(value) && Array.isArray(value.rows) ? value.rows : undefined;
  if (rows === undefined) return undefined;
  const ok = rows.every(
    (row: unknown) =>
      isRecord(row) && isNumber(row.place) && isString(row.name) && isString(row.time) && isNumber(row.raceId),
  );
  if (!ok) return undefined;
  return { route: isRecord(value) ? value.route : undefined, rows: rows as LeaderboardRowData[] };
}

/** `/results`: the race's final standings, as its card shows them. */
export function resultsEmbed(race: RaceSnapshot): APIEmbed {
  return raceEmbed(race);
}

/** `/stats <player>`: races, wins, finishes, forfeits, best time per route. */
export function statsEmbed(stats: StatsData): APIEmbed {
  const summary = [
    `**${stats.races}** ${stats.races === 1 ? 'race' : 'races'}`,
    `**${stats.wins}** ${stats.wins === 1 ? 'win' : 'wins'}`,
    `**${stats.finishes}** finished`,
    `**${stats.forfeits}** forfeited`,
  ].join(' · ');
  const best = stats.best.map((entry) => {
    const at = asDate(entry.at);
    return `${routeName(entry.route)}: **${discordText(cut(entry.time, 20))}** (race ${entry.raceId}${at !== undefined ? `, ${stamp(at, 'f')}` : ''})`;
  });
  const head = [summary];
  if (best.length > 0) head.push('', '**Best times**');
  else if (stats.races > 0) head.push('', 'No finished race yet.');
  return {
    title: cut(`📊 ${discordText(cut(stats.name, NAME_CHARS))}`, EMBED_LIMITS.title),
    description: capped(head, best, EMBED_LIMITS.description),
    color: 0x3498db,
  };
}

/** `/leaderboard [route]`: one row per player, best first. */
export function leaderboardEmbed(rows: readonly LeaderboardRowData[], route?: unknown): APIEmbed {
  const lines = rows.map((row) => {
    const label = MEDALS[row.place - 1] ?? `${row.place}\\.`;
    return `${label} ${cardName(row.name)} — **${discordText(cut(row.time, 20))}** · race ${row.raceId}`;
  });
  const head = lines.length === 0 ? ['No finished races yet.'] : [];
  return {
    title: `🏆 Leaderboard${route !== undefined ? ` · ${routeName(route)}` : ''}`,
    description: capped(head, lines, EMBED_LIMITS.description, 25),
    color: 0xf1c40f,
  };
}

/**
 * The embed for a command's reply when the command is one of the race history commands and its
 * `data` has the expected shape; undefined otherwise (the text reply is used).
 */
export function historyEmbed(command: string, data: unknown): APIEmbed | undefined {
  if (data === undefined) return undefined;
  switch (command) {
    case 'results':
    case 'race status': {
      const race = asRace(data) ?? (isRecord(data) ? asRace(data.race) : undefined);
      return race !== undefined ? resultsEmbed(race) : undefined;
    }
    case 'stats': {
      const stats = asStats(data) ?? (isRecord(data) ? asStats(data.stats) : undefined);
      return stats !== undefined ? statsEmbed(stats) : undefined;
    }
    case 'leaderboard': {
      const board = asLeaderboard(data);
      return board !== undefined ? leaderboardEmbed(board.rows, board.route) : undefined;
    }
    default:
      return undefined;
  }
}

/** Characters an embed counts against Discord's 6000 (title, description, fields, footer, author). */
export function embedLength(embed: APIEmbed): number {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.author?.name.length ?? 0) +
    (embed.fields ?? []).reduce((sum, field) => sum + field.name.length + field.value.length, 0)
  );
}
