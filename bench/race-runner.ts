/**
 * `--race`: the load generator's clients as race entrants. Each one says /ready when told to,
 * confirms the countdown like SAR, and from the countdown's go walks Portal 2's single-player
 * route: a MAP_CHANGE every `mapChangeSeconds` carrying SAR's split ticks (the time on the map
 * left and the run so far, 60 a second), and a SPEEDRUN_FINISH after the last map.
 *
 * The clients' map changes are spread evenly over the period (client i first changes map at
 * go + period × (1 + its phase), its phase a fraction in [0, 1) that differs from client to
 * client), so the server sees a steady stream of entrants / period map changes a second rather
 * than a burst every period. One timer serves every runner.
 */
import { ROUTES } from '../src/races/routes.js';
import { formatSarTime, TICKS_PER_SECOND } from '../src/sim/client.js';
import type { LightClient } from './light-client.js';
import type { RaceLoadReport, RaceStatus } from './ipc.js';
import { Samples } from './stats.js';

const ROUTE = ROUTES.sp.maps;
/** How often the runners' schedule is looked at. */
const SCHEDULE_MS = 10;
/** The golden ratio's fraction: client i's phase is i × this mod 1, evenly spread for any count. */
const PHASE_STEP = 0.6180339887498949;

interface Runner {
  client: LightClient;
  /** The go, by this client's clock (performance.now()). */
  goAt: number;
  nextAt: number;
  /** Index of the current map on the route; -1 before the first (the bench's own map). */
  index: number;
  ticksTotal: number;
  /** After the last map, start the route again instead of finishing (`walk(…, true)`). */
  loop: boolean;
}

export class RaceRunners {
  private readonly runners = new Map<LightClient, Runner>();
  private timer: NodeJS.Timeout | undefined;
  private readied = 0;
  private countdowns = 0;
  private mapChanges = 0;
  private finishes = 0;
  private windowMapChanges = 0;
  private windowFinishes = 0;
  private readonly lateness = new Samples(200_000);
  private stopped = false;

  constructor(private readonly periodMs: number) {}

  /** Every client says /ready (what a player types in SAR's chat). */
  ready(clients: Iterable<LightClient>): void {
    for (const client of clients) {
      if (client.closed || client.closing) continue;
      client.sendChat('/ready');
      this.readied++;
    }
  }

  /** A countdown setup reached `client`: it starts running `durationSeconds` from now (SAR counts down locally). */
  onCountdown(client: LightClient, durationSeconds: number): void {
    this.countdowns++;
    this.begin(client, performance.now() + durationSeconds * 1000);
  }

  /**
   * Every client walks the route from now on, with no race and no countdown: the same stream of
   * map changes, for comparison (`walk`, then `halt`). With `loop`, a client that reached the
   * last map starts again from the first (a steady stream for as long as it takes) instead of
   * sending a SPEEDRUN_FINISH and stopping.
   */
  walk(clients: Iterable<LightClient>, loop = false): void {
    const now = performance.now();
    for (const client of clients) if (!client.closed && !client.closing) this.begin(client, now, loop);
  }

  /** Every runner stops where it is. */
  halt(): void {
    this.runners.clear();
  }

  private begin(client: LightClient, goAt: number, loop = false): void {
    this.stopped = false;
    const phase = (client.options.index * PHASE_STEP) % 1;
    this.runners.set(client, {
      client,
      goAt,
      nextAt: goAt + this.periodMs * (1 + phase),
      index: -1,
      ticksTotal: 0,
      loop,
    });
    this.timer ??= setInterval(() => this.step(), SCHEDULE_MS);
  }

  private step(): void {
    if (this.stopped) return;
    const now = performance.now();
    for (const runner of this.runners.values()) {
      if (runner.nextAt > now) continue;
      const { client } = runner;
      if (client.closed || client.closing) {
        this.runners.delete(client);
        continue;
      }
      this.lateness.add(now - runner.nextAt);
      // SAR's timer from the go: whole ticks, the split being what the total grew by.
      if (runner.index === ROUTE.length - 1 && runner.loop) {
        // A new run from the first map.
        runner.index = -1;
        runner.goAt = now;
        runner.ticksTotal = 0;
      }
      const ticksTotal = Math.max(runner.ticksTotal, Math.round(((now - runner.goAt) * TICKS_PER_SECOND) / 1000));
      if (runner.index === ROUTE.length - 1) {
        client.sendFinish(formatSarTime((ticksTotal * 1000) / TICKS_PER_SECOND));
        this.finishes++;
        this.windowFinishes++;
        this.runners.delete(client);
        continue;
      }
      runner.index++;
      client.sendMapChange(ROUTE[runner.index]!.map, ticksTotal - runner.ticksTotal, ticksTotal);
      runner.ticksTotal = ticksTotal;
      runner.nextAt += this.periodMs;
      this.mapChanges++;
      this.windowMapChanges++;
    }
  }

  forget(client: LightClient): void {
    this.runners.delete(client);
  }

  mark(): void {
    this.windowMapChanges = 0;
    this.windowFinishes = 0;
    this.lateness.reset();
  }

  report(): RaceLoadReport {
    return {
      runners: this.runners.size,
      mapChanges: this.windowMapChanges,
      finishes: this.windowFinishes,
      mapChangeLateness: this.lateness.summary(),
    };
  }

  status(): RaceStatus {
    return {
      type: 'race-status',
      readied: this.readied,
      countdowns: this.countdowns,
      runners: this.runners.size,
      mapChanges: this.mapChanges,
      finishes: this.finishes,
    };
  }

  /** Stops sending (the clients stay connected). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
