/**
 * Starts the race by itself: as soon as every connected player (spectators do not count, and
 * there must be at least `players` of them) is on the start map, it runs `countdown start
 * <seconds>` once. It fires again only after somebody has been on another map in between (the
 * next reset), so players standing on the start map do not get countdown after countdown.
 *
 * Settings (default: sp_a1_intro1, 2 players, 5 seconds) are kept in the plugin's storage and
 * changed from the console or Discord by a moderator: `autocountdown mp_coop_start 4 10`.
 *
 * Enable it in config.toml:  [plugins] modules = ["./examples/auto-countdown.ts"]
 */
import { command, on, Plugin, ServerEvent, type PluginHooks } from 'ghosting';

interface Settings {
  map: string;
  players: number;
  seconds: number;
}

export class AutoCountdownPlugin extends Plugin implements PluginHooks {
  override name = 'Auto Countdown';
  override version = '1.0.0';
  override authors = ['ghosting'];
  override license = 'MIT';

  private settings: Settings = { map: 'sp_a1_intro1', players: 2, seconds: 5 };
  /** False once it has fired, until somebody is seen on another map. */
  private armed = true;

  onLoad() {
    this.settings = { ...this.settings, ...this.storage.get<Partial<Settings>>('settings') };
  }

  @command('autocountdown [map] [players] [seconds]', 'Show or set the auto-countdown start map, players, seconds', {
    permission: 'moderator',
  })
  async onConfigure(map?: string, players?: string, seconds?: string) {
    const next = { ...this.settings };
    if (map !== undefined) next.map = map;
    if (players !== undefined) next.players = Number(players);
    if (seconds !== undefined) next.seconds = Number(seconds);
    if (!Number.isInteger(next.players) || next.players < 1) return 'players must be a whole number, at least 1';
    if (!Number.isInteger(next.seconds) || next.seconds < 1) return 'seconds must be a whole number, at least 1';
    this.settings = next;
    this.storage.set('settings', next);
    this.armed = true;
    return `Auto-countdown: ${next.seconds} s once ${next.players}+ players are all on ${next.map}`;
  }

  @on(ServerEvent.ClientConnect)
  @on(ServerEvent.ClientDisconnect)
  @on(ServerEvent.MapChange)
  async check() {
    const { map, players, seconds } = this.settings;
    const racers = this.clients.filter((client) => !client.spectator);
    if (racers.some((client) => client.map !== map)) this.armed = true;
    if (!this.armed || racers.length < players || racers.some((client) => client.map !== map)) return;
    this.armed = false; // before the await: two events in a row must not start two countdowns
    const result = await this.runCommand(`countdown start ${seconds}`);
    if (result.ok) this.log.info({ map, players: racers.length }, 'everyone is on the start map: countdown started');
    else this.log.warn({ reason: result.text }, 'could not start the countdown');
  }
}
