/**
 * The race director: one race at a time, from `race open` to its end, kept in memory and told to
 * the rest of the program through the event bus (Discord's card, web pages, plugins) and to the
 * database through `RaceHistory` (queued to the write thread: nothing here waits for the disk).
 *
 *   open ──race start──▶ counting_down ──go──▶ running ──every runner done / race end──▶ finished
 *     └──────────────── race cancel (from any of the three) ─────────────────────────▶ cancelled
 *
 * Players enter by typing /ready in SAR's chat; `race start` counts down the ready ones only,
 * and from the go each entrant's map changes are splits (SAR's own split timer and the server's
 * clock), its SPEEDRUN_FINISH its finish. A plain `countdown start` with no race open still works
 * as it always did, and is recorded as a race (kind 'countdown') with every player in it.
 *
 * The race's entrants are immutable records, replaced when they change, so a snapshot handed to
 * a listener is never changed behind its back and costs no deep copy: with 500 entrants sending
 * map changes, a split is a few small objects and one sort.
 */
import type { CommandResult } from '../commands/registry.js';
import { fail, ok } from '../commands/registry.js';
import type { RaceSettings } from '../config.js';
import { parseFinishTime } from '../db/races.js';
import type { ClientInfo, EventBus } from '../events.js';
import type { GhostServer } from '../ghost/server.js';
import type { Logger } from '../logger.js';
import { oneLine, printable } from '../text/printable.js';
import { routeOf } from './routes.js';
import { sortEntrants } from './standings.js';
import { formatGap, ordinal, raceLines } from './text.js';
import type { Entrant, RaceKind, RaceSnapshot, RaceState, Split } from './types.js';

/** What the director writes the race history through (src/db/races.ts implements it). */
export interface RaceWriter {
  nextId(): number;
  saveRace(race: RaceSnapshot): void;
  saveEntrant(raceId: number, entrant: Entrant): void;
  removeEntrant(raceId: number, name: string): void;
  addSplit(raceId: number, entrantName: string, split: Split): void;
}

/** Decides whether a race may start: a refusal reason, or undefined (plugins' `beforeRaceStart`). */
export type RaceStartCheck = (race: RaceSnapshot) => string | undefined | Promise<string | undefined>;

export interface RaceDirectorOptions {
  server: GhostServer;
  history: RaceWriter;
  settings: RaceSettings;
  /** `[countdown] delay`: the race countdown when `[races] countdown` is unset. */
  defaultCountdown: number;
  logger: Logger;
}

/** SAR sends 0xFFFFFFFF in MAP_CHANGE until its timer has made a split. */
const NO_SPLIT = 0xffffffff;
/** In-game lines listing standings: SAR prints one line per message, so a long list is cut. */
const IN_GAME_STANDINGS = 10;
const ACTIVE: ReadonlySet<RaceState> = new Set(['open', 'counting_down', 'running']);

interface LiveRace {
  id: number;
  kind: RaceKind;
  title: string;
  state: RaceState;
  openedBy: string;
  openedAt: Date;
  countdownSeconds: number | null;
  startedAt: Date | null;
  goAt: Date | null;
  goAtMs: number;
  endedAt: Date | null;
  route: RaceSnapshot['route'];
  /** By name: an entrant is its name within the race. */
  entrants: Map<string, Entrant>;
  /** Connected entrants by client id. */
  byClient: Map<number, string>;
  finishers: number;
  /** The last snapshot, until something changes. */
  snapshot: RaceSnapshot | undefined;
}

export class RaceDirector {
  private race: LiveRace | undefined;
  private readonly checks: RaceStartCheck[] = [];
  private readonly log: Logger;
  private readonly bus: EventBus;
  private goTimer: NodeJS.Timeout | undefined;
  /** Set while the director itself sends a countdown, so the bus listener does not take it for a plain one. */
  private sendingCountdown = false;
  /** A start in progress (its checks are asynchronous): a second one is refused meanwhile. */
  private starting = false;
  private updateScheduled = false;
  private autoStartScheduled = false;
  private entryCheck: ((clientId: number) => string | undefined) | undefined;
  private readonly unsubscribers: Array<() => void>;

  constructor(private readonly options: RaceDirectorOptions) {
    this.log = options.logger.child({ module: 'races' });
    const bus = options.server.bus;
    this.bus = bus;
    this.unsubscribers = [
      bus.on('countdownStarted', (countdown) => this.onCountdown(countdown)),
      bus.on('mapChanged', ({ client, previousMap, ticks, ticksTotal }) =>
        this.onMapChange(client, previousMap, ticks, ticksTotal),
      ),
      bus.on('speedrunFinished', ({ client, time }) => this.onFinish(client, time)),
      bus.on('clientConnected', ({ client }) => this.onConnect(client)),
      bus.on('clientDisconnected', ({ client }) => this.onDisconnect(client)),
    ];
  }

  /** Adds a check that may refuse a race start (run in the order added, before the countdown's own). */
  addStartCheck(check: RaceStartCheck): void {
    this.checks.push(check);
  }

  /** The race that is open, counting down or running, if any. */
  /**
   * Who may enter a race: returns why a player may not (src/identity: a protected name not yet
   * confirmed by its owner), or undefined. Checked at /ready and for a plain countdown's players.
   */
  setEntryCheck(check: ((clientId: number) => string | undefined) | undefined): void {
    this.entryCheck = check;
  }

  current(): RaceSnapshot | undefined {
    return this.race === undefined ? undefined : this.snapshotOf(this.race);
  }

  // ---------------------------------------------------------------------------------------------
  // Commands

  open(title: string, by: string): CommandResult {
    const active = this.race;
    if (active !== undefined && active.kind === 'race') {
      return fail('conflict', `race ${active.id} is already ${describeState(active.state)}; end or cancel it first`);
    }
    // A plain countdown's race gives way to a real one.
    if (active !== undefined) this.finish(active, 'a race was opened');
    const race = this.create('race', title, by);
    const label = title === '' ? `Race ${race.id}` : `Race ${race.id} "${printable(title)}"`;
    this.options.server.broadcastServerMessage(`${label} is open: type /ready to enter.`);
    this.log.info({ race: race.id, title, by }, 'race opened');
    return ok(`${label} opened: players type /ready in game, then race start`, { race: this.snapshotOf(race) });
  }

  async start(seconds: number | undefined, by: string): Promise<CommandResult> {
    const race = this.race;
    if (race === undefined || race.kind !== 'race') return fail('refused', 'no race is open: race open first');
    if (race.state !== 'open') return fail('refused', `race ${race.id} is already ${describeState(race.state)}`);
    if (this.starting) return fail('refused', `race ${race.id} is already starting`);
    const ready = [...race.entrants.values()].filter(
      (entrant) => entrant.status === 'ready' && entrant.clientId !== null,
    );
    if (ready.length === 0) return fail('refused', 'nobody is ready: players type /ready in game');
    const duration = seconds ?? this.options.settings.countdown ?? this.options.defaultCountdown;
    this.starting = true;
    try {
      for (const check of this.checks) {
        let answer: unknown;
        try {
          answer = await check(this.snapshotOf(race));
        } catch (error) {
          answer = `a race start check failed: ${error instanceof Error ? error.message : String(error)}`;
        }
        if (answer !== undefined) {
          const reason = typeof answer === 'string' && answer.trim() !== '' ? answer : 'a race start check said no';
          this.log.info({ race: race.id, reason }, 'race start refused');
          return fail('refused', `race start refused: ${reason}`);
        }
      }
      if (this.race !== race || race.state !== 'open') return fail('refused', `race ${race.id} changed meanwhile`);
      // Whoever is still ready and connected now is in; the others are out.
      const entrants = [...race.entrants.values()].filter(
        (entrant) => entrant.status === 'ready' && entrant.clientId !== null,
      );
      if (entrants.length === 0) return fail('refused', 'nobody is ready any more');
      this.sendingCountdown = true;
      let outcome: Awaited<ReturnType<GhostServer['requestCountdown']>>;
      try {
        outcome = await this.options.server.requestCountdown({
          duration,
          recipients: entrants.map((entrant) => entrant.clientId!),
          refuseNewPlayers: false,
        });
      } finally {
        this.sendingCountdown = false;
      }
      if ('refused' in outcome) return fail('refused', `race start refused: ${outcome.refused}`);
      if (this.race !== race) return fail('refused', `race ${race.id} changed meanwhile`);
      for (const entrant of [...race.entrants.values()]) {
        if (entrant.status !== 'ready' || entrant.clientId === null) this.removeEntrant(race, entrant.name);
      }
      this.beginCountdown(race, duration);
      this.log.info({ race: race.id, by, entrants: race.entrants.size, duration }, 'race countdown started');
      const count = race.entrants.size;
      return ok(`Race ${race.id}: counting down ${duration} s for ${count} entrant${count === 1 ? '' : 's'}`, {
        race: this.snapshotOf(race),
      });
    } finally {
      this.starting = false;
    }
  }

  cancel(by: string): CommandResult {
    const race = this.race;
    if (race === undefined) return fail('refused', 'no race is open or running');
    this.close(race, 'cancelled');
    this.options.server.broadcastServerMessage(`Race ${race.id} was cancelled.`);
    this.log.info({ race: race.id, by }, 'race cancelled');
    return ok(`Race ${race.id} cancelled`, { race: this.snapshotOf(race) });
  }

  end(by: string): CommandResult {
    const race = this.race;
    if (race === undefined) return fail('refused', 'no race is running');
    if (race.state === 'open') return fail('refused', `race ${race.id} has not started: race cancel closes it`);
    this.finish(race, `ended by ${by}`);
    return ok(raceLines(this.snapshotOf(race)).join('\n'), { race: this.snapshotOf(race) });
  }

  /** `/ready` from a player in game. */
  ready(clientId: number): CommandResult {
    const client = this.options.server.getClient(clientId);
    if (client === undefined) return fail('refused', 'only a player in game can get ready: type /ready in SAR');
    if (client.spectator) return fail('refused', 'spectators watch the race; join as a player to race');
    const race = this.race;
    if (race === undefined || race.kind !== 'race') return fail('refused', 'no race is open');
    if (race.state !== 'open') return fail('refused', `race ${race.id} has already started`);
    const barred = this.entryCheck?.(clientId);
    if (barred !== undefined) return fail('refused', barred);
    const existing = race.entrants.get(client.name);
    if (existing !== undefined && existing.clientId !== null && existing.clientId !== clientId) {
      return fail('conflict', oneLine`another player called ${client.name} is already entered`);
    }
    if (existing?.status === 'ready' && existing.clientId === clientId) return ok('You are ready.');
    this.putEntrant(race, { ...blankEntrant(client), ...(existing ?? {}), clientId, status: 'ready', map: client.map });
    this.announceReadiness(race, client.name, 'is ready');
    this.scheduleAutoStart();
    return ok('');
  }

  /** `/unready` from a player in game. */
  unready(clientId: number): CommandResult {
    const race = this.race;
    const name = race?.byClient.get(clientId);
    if (race === undefined || race.state !== 'open' || name === undefined) return fail('refused', 'you are not ready');
    const entrant = race.entrants.get(name)!;
    if (entrant.status !== 'ready') return fail('refused', 'you are not ready');
    this.putEntrant(race, { ...entrant, status: 'not_ready' });
    this.announceReadiness(race, name, 'is not ready');
    return ok('');
  }

  /** `/forfeit` from a player in game. */
  forfeit(clientId: number): CommandResult {
    const race = this.race;
    const name = race?.byClient.get(clientId);
    if (race === undefined || name === undefined) return fail('refused', 'you are not in a race');
    const entrant = race.entrants.get(name)!;
    if (race.state === 'open') return fail('refused', 'the race has not started: /unready leaves it');
    if (entrant.status !== 'running' && entrant.status !== 'ready') return fail('refused', 'you are not running');
    this.putEntrant(race, { ...entrant, status: 'forfeited', forfeitedAtMs: this.elapsed(race) });
    this.options.server.broadcastServerMessage(`${printable(name)} forfeited.`);
    this.endIfDone(race);
    return ok('');
  }

  /** The current race's standings as text (`race status`, `/race`). */
  status(): CommandResult {
    const race = this.current();
    if (race === undefined) return ok('No race is open. race open [title] opens one.', { race: null });
    return ok(raceLines(race).join('\n'), { race });
  }

  /** At shutdown: a running race is ended (its finishers kept), an open one cancelled. */
  stop(): void {
    const race = this.race;
    if (race !== undefined) {
      if (race.state === 'open') this.close(race, 'cancelled');
      else this.finish(race, 'the server is stopping');
    }
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    clearTimeout(this.goTimer);
  }

  // ---------------------------------------------------------------------------------------------
  // What players do

  /** A countdown the director did not send: a plain `countdown start`, recorded as a race. */
  private onCountdown(countdown: { duration: number; clientIds: number[] }): void {
    if (this.sendingCountdown) return;
    const active = this.race;
    // A race that is open or running keeps its own countdown; a plain one is not recorded then.
    if (active !== undefined && active.kind === 'race') return;
    if (active !== undefined) this.finish(active, 'a new countdown started');
    const race = this.create('countdown', '', 'countdown');
    for (const id of countdown.clientIds) {
      const client = this.options.server.getClient(id);
      if (client === undefined || client.spectator || this.entryCheck?.(id) !== undefined) continue;
      this.putEntrant(race, { ...blankEntrant(client), status: 'ready' });
    }
    this.beginCountdown(race, countdown.duration);
  }

  private onMapChange(client: ClientInfo, previousMap: string, ticks: number, ticksTotal: number): void {
    const race = this.race;
    const name = race?.byClient.get(client.id);
    if (race === undefined || name === undefined) return;
    const entrant = race.entrants.get(name)!;
    if (race.state !== 'running' || entrant.status !== 'running') {
      this.putEntrant(race, { ...entrant, map: client.map });
      return;
    }
    const split: Split = Object.freeze({
      fromMap: previousMap,
      toMap: client.map,
      ticks: ticks === NO_SPLIT ? null : ticks,
      ticksTotal: ticksTotal === NO_SPLIT ? null : ticksTotal,
      elapsedMs: this.elapsed(race),
      at: new Date(),
    });
    race.route ??= routeOf(client.map) ?? routeOf(previousMap);
    const updated = this.putEntrant(
      race,
      { ...entrant, map: client.map, splits: Object.freeze([...entrant.splits, split]) },
      false,
    );
    this.options.history.addSplit(race.id, name, split);
    this.bus.emit('raceSplit', { race: this.snapshotOf(race), entrant: updated, split });
  }

  private onFinish(client: ClientInfo, time: string): void {
    const race = this.race;
    const name = race?.byClient.get(client.id);
    if (race === undefined || name === undefined || race.state !== 'running') return;
    const entrant = race.entrants.get(name)!;
    if (entrant.status !== 'running') return;
    const place = ++race.finishers;
    const elapsedMs = this.elapsed(race);
    const finish = Object.freeze({ time, timeMs: parseFinishTime(time), elapsedMs, place, at: new Date() });
    const updated = this.putEntrant(race, { ...entrant, status: 'finished', finish });
    const winner = [...race.entrants.values()].find((other) => other.finish?.place === 1)?.finish ?? null;
    const gap = winner !== null && place > 1 ? ` (${formatGap(elapsedMs - winner.elapsedMs)})` : '';
    this.options.server.broadcastServerMessage(
      `${printable(name)} finished ${ordinal(place)} in ${printable(time)}${gap}.`,
    );
    this.log.info({ race: race.id, player: name, place, time, elapsedMs }, 'race finish');
    this.bus.emit('raceFinished', { race: this.snapshotOf(race), entrant: updated });
    this.endIfDone(race);
  }

  private onConnect(client: ClientInfo): void {
    const race = this.race;
    if (race === undefined || race.state !== 'running') return;
    const entrant = race.entrants.get(client.name);
    // Back after a crash or a lost connection, under the same name: the same entrant again.
    if (entrant === undefined || entrant.clientId !== null || entrant.status !== 'running') return;
    this.putEntrant(race, { ...entrant, clientId: client.id, map: client.map });
    this.options.server.sendServerMessage(client.id, `Welcome back: you are still running race ${race.id}.`);
  }

  private onDisconnect(client: ClientInfo): void {
    const race = this.race;
    const name = race?.byClient.get(client.id);
    if (race === undefined || name === undefined) return;
    const entrant = race.entrants.get(name)!;
    if (race.state === 'running') {
      // Still running: they may come back under the same name.
      this.putEntrant(race, { ...entrant, clientId: null });
      this.endIfDone(race);
      return;
    }
    const wasReady = entrant.status === 'ready';
    this.removeEntrant(race, name);
    if (race.state === 'open' && wasReady) this.announceReadiness(race, name, 'left');
    if (race.state === 'counting_down' && race.entrants.size === 0) this.close(race, 'cancelled');
    this.scheduleAutoStart();
  }

  // ---------------------------------------------------------------------------------------------
  // The race's life

  private create(kind: RaceKind, title: string, by: string): LiveRace {
    const race: LiveRace = {
      id: this.options.history.nextId(),
      kind,
      title,
      state: 'open',
      openedBy: by,
      openedAt: new Date(),
      countdownSeconds: null,
      startedAt: null,
      goAt: null,
      goAtMs: 0,
      endedAt: null,
      route: null,
      entrants: new Map(),
      byClient: new Map(),
      finishers: 0,
      snapshot: undefined,
    };
    this.race = race;
    this.saveRace(race);
    this.bus.emit('raceOpened', { race: this.snapshotOf(race) });
    this.scheduleUpdate();
    return race;
  }

  private beginCountdown(race: LiveRace, duration: number): void {
    race.state = 'counting_down';
    race.countdownSeconds = duration;
    race.startedAt = new Date();
    this.changed(race);
    this.saveRace(race);
    clearTimeout(this.goTimer);
    // SAR counts down locally from the setup; the go is when every client's countdown reaches zero.
    this.goTimer = setTimeout(() => this.go(race), duration * 1000);
    this.goTimer.unref();
  }

  private go(race: LiveRace): void {
    if (this.race !== race || race.state !== 'counting_down') return;
    race.state = 'running';
    race.goAtMs = performance.now();
    race.goAt = new Date();
    for (const entrant of [...race.entrants.values()]) {
      if (entrant.status === 'ready') this.putEntrant(race, { ...entrant, status: 'running' });
    }
    race.route ??= firstKnownRoute(race);
    this.changed(race);
    this.saveRace(race);
    this.log.info({ race: race.id, entrants: race.entrants.size }, 'race go');
    this.bus.emit('raceStarted', { race: this.snapshotOf(race) });
    this.endIfDone(race);
  }

  /** Ends the race once nobody is running any more (or every runner left). */
  private endIfDone(race: LiveRace): void {
    if (race.state !== 'running') return;
    const running = [...race.entrants.values()].filter((entrant) => entrant.status === 'running');
    if (running.some((entrant) => entrant.clientId !== null)) return;
    this.finish(race, running.length === 0 ? 'every runner is done' : 'every runner left');
  }

  /** Ends a race that started: whoever still runs did not finish; the final order goes to everyone. */
  private finish(race: LiveRace, why: string): void {
    if (race.state === 'open') {
      this.close(race, 'cancelled');
      return;
    }
    for (const entrant of [...race.entrants.values()]) {
      if (entrant.status === 'running' || entrant.status === 'ready')
        this.putEntrant(race, { ...entrant, status: 'dnf' });
    }
    this.close(race, 'finished');
    const snapshot = this.snapshotOf(race);
    this.log.info({ race: race.id, why }, 'race ended');
    const lines = raceLines(snapshot, IN_GAME_STANDINGS).slice(1);
    this.options.server.broadcastServerMessage(`Race ${race.id} is over (${why}). Final order:`);
    for (const line of lines) this.options.server.broadcastServerMessage(line);
  }

  private close(race: LiveRace, state: 'finished' | 'cancelled'): void {
    clearTimeout(this.goTimer);
    race.state = state;
    race.endedAt = new Date();
    if (state === 'cancelled') {
      for (const entrant of [...race.entrants.values()]) {
        if (entrant.status === 'running') this.putEntrant(race, { ...entrant, status: 'dnf' });
      }
    }
    this.changed(race);
    this.saveRace(race);
    for (const entrant of race.entrants.values()) this.options.history.saveEntrant(race.id, entrant);
    if (this.race === race) this.race = undefined;
    if (race.kind === 'countdown') this.options.server.reopenAfterCountdown();
    const snapshot = this.snapshotOf(race);
    this.bus.emit('raceEnded', { race: snapshot });
    this.bus.emit('raceUpdated', { race: snapshot });
  }

  // ---------------------------------------------------------------------------------------------
  // Bookkeeping

  /** Stores a changed entrant (frozen), keeps the client index, saves it unless told not to. */
  private putEntrant(race: LiveRace, entrant: Entrant, save = true): Entrant {
    const previous = race.entrants.get(entrant.name);
    if (previous?.clientId !== undefined && previous.clientId !== null) race.byClient.delete(previous.clientId);
    const frozen = Object.freeze(entrant);
    race.entrants.set(entrant.name, frozen);
    if (frozen.clientId !== null) race.byClient.set(frozen.clientId, frozen.name);
    if (save) this.options.history.saveEntrant(race.id, frozen);
    this.changed(race);
    return frozen;
  }

  private removeEntrant(race: LiveRace, name: string): void {
    const entrant = race.entrants.get(name);
    if (entrant === undefined) return;
    race.entrants.delete(name);
    if (entrant.clientId !== null) race.byClient.delete(entrant.clientId);
    this.options.history.removeEntrant(race.id, name);
    this.changed(race);
  }

  private changed(race: LiveRace): void {
    race.snapshot = undefined;
    if (this.race === race) this.scheduleUpdate();
  }

  /** `raceUpdated` once per turn of the event loop, however many changes it had. */
  private scheduleUpdate(): void {
    if (this.updateScheduled) return;
    this.updateScheduled = true;
    setImmediate(() => {
      this.updateScheduled = false;
      const race = this.race;
      if (race !== undefined) this.bus.emit('raceUpdated', { race: this.snapshotOf(race) });
    });
  }

  /**
   * The race as listeners see it. Its entrants are sorted into standing order only when somebody
   * reads them: a split goes to every `raceSplit` listener, but most of them never look at the
   * whole field, and sorting 500 entrants for each of 100 map changes a second would cost more
   * than everything else a split does.
   */
  private snapshotOf(race: LiveRace): RaceSnapshot {
    if (race.snapshot !== undefined) return race.snapshot;
    const members = [...race.entrants.values()];
    const route = race.route;
    let sorted: readonly Entrant[] | undefined;
    const snapshot = {
      id: race.id,
      kind: race.kind,
      title: race.title,
      state: race.state,
      openedBy: race.openedBy,
      openedAt: race.openedAt,
      countdownSeconds: race.countdownSeconds,
      startedAt: race.startedAt,
      goAt: race.goAt,
      endedAt: race.endedAt,
      route,
    } as RaceSnapshot;
    Object.defineProperty(snapshot, 'entrants', {
      enumerable: true,
      get: () => (sorted ??= Object.freeze(sortEntrants(members, route))),
    });
    race.snapshot = Object.freeze(snapshot);
    return race.snapshot;
  }

  private saveRace(race: LiveRace): void {
    this.options.history.saveRace(this.snapshotOf(race));
  }

  private elapsed(race: LiveRace): number {
    return race.goAt === null ? 0 : Math.round(performance.now() - race.goAtMs);
  }

  private announceReadiness(race: LiveRace, name: string, what: string): void {
    const ready = [...race.entrants.values()].filter((entrant) => entrant.status === 'ready').length;
    const players = this.options.server.listClients().filter((client) => !client.spectator).length;
    this.options.server.broadcastServerMessage(`${printable(name)} ${what} (${ready}/${players}).`);
  }

  /** `[races] auto_start`: start once enough players are connected and every one of them is ready. */
  private scheduleAutoStart(): void {
    if (!this.options.settings.auto_start || this.autoStartScheduled) return;
    this.autoStartScheduled = true;
    setImmediate(() => {
      this.autoStartScheduled = false;
      const race = this.race;
      if (race === undefined || race.kind !== 'race' || race.state !== 'open' || this.starting) return;
      // Who may not enter (an unconfirmed protected name) does not hold the start up either.
      const players = this.options.server
        .listClients()
        .filter((client) => !client.spectator && this.entryCheck?.(client.id) === undefined);
      if (players.length < this.options.settings.min_entrants) return;
      const allReady = players.every((player) => {
        const entrant = race.entrants.get(player.name);
        return entrant?.status === 'ready' && entrant.clientId === player.id;
      });
      if (!allReady) return;
      void this.start(undefined, 'auto start').then((result) => {
        if (!result.ok) this.log.info({ race: race.id, reason: result.text }, 'auto start did not start the race');
      });
    });
  }
}

function blankEntrant(client: ClientInfo): Entrant {
  return {
    name: client.name,
    clientId: client.id,
    status: 'not_ready',
    map: client.map,
    splits: Object.freeze([]),
    finish: null,
    forfeitedAtMs: null,
  };
}

function firstKnownRoute(race: LiveRace): RaceSnapshot['route'] {
  for (const entrant of race.entrants.values()) {
    const route = routeOf(entrant.map);
    if (route !== null) return route;
  }
  return null;
}

function describeState(state: RaceState): string {
  return state === 'counting_down' ? 'counting down' : state;
}
