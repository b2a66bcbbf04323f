/**
 * What the public pages and the `/live` stream show, as plain JSON. These shapes are the only
 * way server data reaches a page: the server builds them field by field (src/web/public-view.ts),
 * so nothing a page must not see (an address, a management setting) can slip in by growing an
 * object elsewhere. Shared by the server (to render pages) and the browser (to update them).
 */

/** A Portal 2 map's place in its campaign (src/races/routes.ts), for showing "2 The Cold Boot: Laser Intro". */
export interface MapPlace {
  chapter: number;
  chapterTitle: string;
  title: string;
}

export interface PublicPlayer {
  id: number;
  name: string;
  /** The raw map name SAR sent ("sp_a2_laser_intro"); "" before the first map. */
  map: string;
  place: MapPlace | null;
  spectator: boolean;
}

export interface PublicSplit {
  fromMap: string;
  fromPlace: MapPlace | null;
  toMap: string;
  toPlace: MapPlace | null;
  /** SAR's split timer when the runner left fromMap (60 ticks a second); null when SAR had none. */
  ticks: number | null;
  ticksTotal: number | null;
  /** The server's clock: ms since the go. */
  elapsedMs: number;
  /** How far along the route the runner was after this split (the chart's height). */
  progress: number;
}

export type EntrantStatus = 'not_ready' | 'ready' | 'running' | 'finished' | 'forfeited' | 'dnf';
export type RaceState = 'open' | 'counting_down' | 'running' | 'finished' | 'cancelled';

export interface PublicEntrant {
  position: number;
  name: string;
  status: EntrantStatus;
  place: number | null;
  map: string;
  mapPlace: MapPlace | null;
  /** Index on the race's route (or maps reached, off-route): what orders runners. */
  progress: number;
  /** SAR's final time as it formatted it ("1:02.345"). */
  time: string | null;
  timeMs: number | null;
  /** The server's clock from the go to the finish. */
  elapsedMs: number | null;
  /** Behind the winner, by the server's clock (finishers only). */
  gapMs: number | null;
  forfeitedAtMs: number | null;
  splitCount: number;
  /** Every split, oldest first: on race pages; the live `race` event leaves them out (`split` events carry them). */
  splits?: PublicSplit[];
}

export interface PublicRace {
  id: number;
  kind: 'race' | 'countdown';
  title: string;
  state: RaceState;
  openedAt: string;
  countdownSeconds: number | null;
  goAt: string | null;
  endedAt: string | null;
  route: 'sp' | 'coop' | null;
  /** How many maps the route has (the chart's top), null off-route. */
  routeLength: number | null;
  /** ms since the go when this was sent (null before the go); pages count on from it. */
  elapsedMs: number | null;
  entrants: PublicEntrant[];
}

export interface RaceSummary {
  id: number;
  kind: 'race' | 'countdown';
  title: string;
  state: RaceState;
  openedAt: string | null;
  goAt: string | null;
  endedAt: string | null;
  route: 'sp' | 'coop' | null;
  entrants: number;
  finishers: number;
  winner: { name: string; time: string; timeMs: number | null; elapsedMs: number } | null;
}

/** The first event on every `/live` connection: everything the home page shows. */
export interface LiveSnapshot {
  title: string;
  /** "ghost_connect host port", or null when the server cannot tell its address. */
  connect: string | null;
  players: PublicPlayer[];
  race: PublicRace | null;
  recent: RaceSummary[];
  /** Whether chat is part of the stream (`[http] public_chat`). */
  chat: boolean;
}

/** Every `/live` event by name, and its data. */
export interface LiveEvents {
  snapshot: LiveSnapshot;
  join: { player: PublicPlayer };
  leave: { id: number; name: string };
  map: { id: number; name: string; map: string; previousMap: string; place: MapPlace | null };
  chat: { id: number; name: string; text: string };
  message: { text: string };
  countdown: { seconds: number; raceId: number | null };
  go: { raceId: number | null };
  race: { race: PublicRace };
  split: { raceId: number; name: string; split: PublicSplit };
  finish: { id: number; name: string; time: string };
  races: { recent: RaceSummary[] };
}
export type LiveEventName = keyof LiveEvents;
