/**
 * What a race is, as every part of the program sees it: the race director (src/races/director.ts)
 * keeps one live, the database stores its history, Discord draws its card, the HTTP API and
 * plugins read it. Plain data (no methods, no class instances) so that it can be copied into
 * events, sent to the database's write thread, and turned into JSON as it is.
 */

/**
 * `race`: opened with `race open`, entrants ready up and are counted down together.
 * `countdown`: a plain `countdown start` with no race open (the GhostServer habit), recorded as
 * a race with every player connected at the time in it.
 */
export type RaceKind = 'race' | 'countdown';

/** open → counting_down → running → finished, or cancelled from any of the first three. */
export type RaceState = 'open' | 'counting_down' | 'running' | 'finished' | 'cancelled';

/**
 * not_ready / ready: while the race is open. running: from the go until the entrant finishes,
 * forfeits, or the race ends without them (dnf: did not finish).
 */
export type EntrantStatus = 'not_ready' | 'ready' | 'running' | 'finished' | 'forfeited' | 'dnf';

/** A map order the project ships (src/races/routes.ts): Portal 2's single-player and cooperative campaigns. */
export type RouteId = 'sp' | 'coop';

/** One map change of an entrant while the race runs. */
export interface Split {
  /** The map the entrant left: SAR's split (`ticks`) is the time spent on it. */
  fromMap: string;
  /** The map the entrant loaded. */
  toMap: string;
  /**
   * SAR's own split timer at the moment it left `fromMap`, in game ticks (60 per second):
   * `ticks` for that map, `ticksTotal` for the run so far; null while SAR had not made a split
   * yet (it sends 0xFFFFFFFF then).
   */
  ticks: number | null;
  ticksTotal: number | null;
  /** The server's clock: milliseconds since the go. */
  elapsedMs: number;
  at: Date;
}

export interface EntrantFinish {
  /** As SAR formatted it ("1:02.345"): the runner's own timer. */
  time: string;
  /** The same in milliseconds, when it can be read. */
  timeMs: number | null;
  /** The server's clock: milliseconds from the go to the finish. */
  elapsedMs: number;
  /** 1 for the first to finish (places are by the server's clock: the order they crossed the line). */
  place: number;
  at: Date;
}

export interface Entrant {
  /**
   * The player's name: an entrant's identity within its race. A player who drops and comes back
   * under the same name (SAR crashed, the connection was lost) is the same entrant again.
   */
  name: string;
  /** The client id while connected to the race; null while disconnected. */
  clientId: number | null;
  status: EntrantStatus;
  /** The map the entrant is on now (its last map when the race ended). */
  map: string;
  /** Every map change since the go, oldest first. */
  splits: readonly Split[];
  finish: EntrantFinish | null;
  /** Milliseconds from the go to the forfeit, for a forfeited entrant. */
  forfeitedAtMs: number | null;
}

export interface RaceSnapshot {
  /** Decided when the race is opened (the database's next id), so it is known at once. */
  id: number;
  kind: RaceKind;
  title: string;
  state: RaceState;
  /** Who opened it: "console", a Discord tag, "http", a plugin's name. */
  openedBy: string;
  openedAt: Date;
  /** The countdown's length, once started. */
  countdownSeconds: number | null;
  /** When the countdown was sent. */
  startedAt: Date | null;
  /** When the countdown reached zero: the clock of every split and finish starts here. */
  goAt: Date | null;
  endedAt: Date | null;
  /** The campaign being raced, guessed from the maps the entrants run (null if unknown). */
  route: RouteId | null;
  /** Every entrant, in standing order (see src/races/standings.ts). */
  entrants: readonly Entrant[];
}
