/**
 * Calls the race in game chat, like a commentator following the front runner: each time the
 * leader reaches a new map it tells everyone, with the leader's own SAR timer when SAR sent one
 * ("Alpha leads into Portal Carousel, 0:42.5") or else the server's clock, and it says so when
 * somebody else takes the lead. (Finishes and the final order the server announces itself.)
 *
 * It also shows a hook: `beforeRaceStart` refuses to start a race whose title says "practice"
 * while fewer than two players are ready, so a practice race is never a solo run by mistake.
 *
 * Enable it in config.toml:  [plugins] modules = ["./examples/race-announcer.ts"]
 */
import {
  mapInfo,
  on,
  Plugin,
  ServerEvent,
  type Entrant,
  type PluginHooks,
  type RaceSnapshot,
  type RaceStartDecision,
  type Split,
} from 'ghosting';

/** 83_456 → "1:23.4" (minutes, seconds and tenths). */
function clock(ms: number): string {
  const tenths = Math.floor(ms / 100);
  const minutes = Math.floor(tenths / 600);
  const seconds = ((tenths % 600) / 10).toFixed(1).padStart(4, '0');
  return `${minutes}:${seconds}`;
}

export class RaceAnnouncerPlugin extends Plugin implements PluginHooks {
  override name = 'Race Announcer';
  override version = '1.0.0';
  override authors = ['ghosting'];
  override license = 'MIT';

  /** Who led at the last announcement, per race. */
  private leaders = new Map<number, string>();

  beforeRaceStart(race: RaceSnapshot): RaceStartDecision {
    const ready = race.entrants.filter((entrant) => entrant.status === 'ready').length;
    if (/practice/i.test(race.title) && ready < 2)
      return { allow: false, reason: 'a practice race needs two ready players' };
    return undefined;
  }

  @on(ServerEvent.RaceSplit)
  async onSplit(race: RaceSnapshot, entrant: Entrant, split: Split) {
    // Entrants come in standing order: the first is ahead (once somebody has finished, the
    // first is the winner and nobody "leads" any more).
    const first = race.entrants[0];
    if (first?.name !== entrant.name || first.status !== 'running') return;
    const before = this.leaders.get(race.id);
    this.leaders.set(race.id, entrant.name);
    if (before !== undefined && before !== entrant.name) await this.broadcast(`${entrant.name} takes the lead!`);
    // SAR counts 60 ticks a second; ticksTotal is null until SAR has made its first split.
    const time = split.ticksTotal !== null ? (split.ticksTotal * 1000) / 60 : split.elapsedMs;
    const map = mapInfo(split.toMap)?.title ?? split.toMap;
    await this.broadcast(`${entrant.name} leads into ${map}, ${clock(time)}`);
  }

  @on(ServerEvent.RaceEnd)
  onEnd(race: RaceSnapshot) {
    this.leaders.delete(race.id);
  }
}
