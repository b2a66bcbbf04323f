/**
 * Puts the pieces together: the database, the ghost server with bans and the whitelist enforced
 * at connect time, and the admin command registry with its audit log. The command-line entry
 * point uses this; so can code that embeds the server.
 */
import type { Config } from './config.js';
import { createAdminRegistry, describeAudit } from './commands/index.js';
import type { AdminContext, CountdownSettings } from './commands/context.js';
import type { CommandRegistry } from './commands/registry.js';
import { openDatabase, type Store } from './db/database.js';
import { silentLogger, type Logger } from './logger.js';
import { GhostServer } from './ghost/server.js';
import { RaceDirector } from './races/director.js';
import type { RaceSnapshot } from './races/types.js';
import { PluginHost } from './plugins/host.js';
import { OperationsServer } from './http/server.js';
import type { Plugin } from './plugins/plugin.js';
import { DiscordBridge } from './discord/bridge.js';
import { Identity, type Clock } from './identity/identity.js';
import { identityCommands } from './identity/commands.js';
import { IdentityInGame } from './identity/game.js';
import type { ClientOptions } from 'discord.js';

export interface App {
  readonly server: GhostServer;
  readonly store: Store;
  readonly commands: CommandRegistry<AdminContext>;
  readonly countdown: CountdownSettings;
  readonly discord: DiscordBridge;
  readonly plugins: PluginHost;
  /** The race that is open or running, and its commands' engine. */
  readonly races: RaceDirector;
  /** SAR names linked to Discord members: codes, links, confirmations (src/identity). */
  readonly identity: Identity;
  /** /healthz, /metrics and the management API (`[http]`, off by default). */
  readonly http: OperationsServer;
  /**
   * Loads the configured plugins, then `extraPlugins` (a PluginLoadError stops here), then
   * starts the server and the bot.
   */
  start(extraPlugins?: Plugin[]): Promise<void>;
  /** Stops the server, then closes the database (committing what is queued). Safe to call more than once. */
  stop(reason: string): Promise<void>;
}

export interface AppOptions {
  config: Config;
  logger?: Logger;
  /** What the `stop` command does; by default it stops this app. */
  requestStop?: (reason: string) => void;
  /** The bot token (the entry point passes DISCORD_TOKEN); without one Discord stays off. */
  discordToken?: string;
  /** Extra discord.js client options (tests use a faster login throttle). */
  discordClientOptions?: Partial<ClientOptions>;
  /** Where plugin paths in the config are relative to (the config file's folder). */
  configDirectory?: string;
  /** Log lines the log file could not take (the entry point passes its logger's count; for /metrics). */
  droppedLogLines?: () => number;
  /** The identity service's clock (link codes, rate limits, confirmation time-outs); tests move one by hand. */
  clock?: Clock;
}

/** Opens the database (throws DatabaseError if it cannot) and wires everything up. */
export function createApp(options: AppOptions): App {
  const { config } = options;
  const logger = options.logger ?? silentLogger();
  const store = openDatabase(config.database.path, {
    logger: logger.child({ module: 'database' }),
    maxQueuedWrites: config.database.max_queued_writes,
    backupDirectory: config.database.backup_directory,
  });
  const server = new GhostServer({ config, logger });
  const log = logger.child({ module: 'admin' });

  server.addAdmissionCheck((request, address) => {
    const ban = store.bans.findActive(address, request.name);
    if (ban !== undefined) return { code: 'banned', reason: ban.reason ? `banned: ${ban.reason}` : 'banned' };
    // A name linked to a banned Discord member: renaming to another of their names does not help.
    const owner = store.identity.memberOf(request.name);
    const memberBan = owner === undefined ? undefined : store.identity.memberBan(owner.discordId);
    if (memberBan !== undefined)
      return { code: 'banned', reason: memberBan.reason ? `banned: ${memberBan.reason}` : 'banned' };
    if (!store.whitelist.allows(request.name, address)) return { code: 'not_whitelisted', reason: 'not whitelisted' };
    return undefined;
  });

  const identity = new Identity({
    store,
    server,
    settings: config.identity,
    logger,
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
  });

  const races = new RaceDirector({
    server,
    history: store.races,
    settings: config.races,
    defaultCountdown: config.countdown.delay,
    logger,
  });
  // Protected names wait for their owner; chat commands run at the player's Discord level.
  const identityInGame = new IdentityInGame({
    identity,
    server,
    bus: server.bus,
    confirmTimeoutSeconds: config.identity.confirm_timeout_s,
    logger,
  });
  races.setEntryCheck((clientId) => identityInGame.entryBarrier(clientId));

  const countdown: CountdownSettings = {
    delay: config.countdown.delay,
    preCommands: config.countdown.pre_commands,
    postCommands: config.countdown.post_commands,
    maxDelay: config.countdown.max_delay,
    presets: Object.fromEntries(
      Object.entries(config.countdown.presets).map(([name, preset]) => [
        name.toLowerCase(),
        { delay: preset.delay, preCommands: preset.pre_commands, postCommands: preset.post_commands },
      ]),
    ),
  };

  /** Races a crash left open, ended at start-up; the bot edits their cards. */
  let recoveredRaces: RaceSnapshot[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    // A race still running is ended first (its finishers kept), while clients and Discord still
    // hear about it; then Discord, HTTP, the server, plugins, and the database last.
    races.stop();
    identity.stop();
    identityInGame.stop();
    stopping ??= discord
      .flush()
      .catch(() => undefined)
      .then(() => Promise.all([discord.stop(), http.stop()]))
      .catch((error: unknown) => log.warn({ err: error }, 'error while stopping Discord or HTTP'))
      .then(() => server.stop(reason))
      .then(() => plugins.unloadAll())
      .finally(() => store.close());
    return stopping;
  };
  const start = async (extraPlugins: Plugin[] = []): Promise<void> => {
    // The write thread must be up (and the file writable) before anything can be changed.
    await store.ready();
    recoveredRaces = store.races.recover(new Date());
    for (const race of recoveredRaces) {
      log.warn({ race: race.id, state: race.state }, 'a race the server did not end (it stopped abruptly) was ended');
    }
    await plugins.loadAll();
    for (const plugin of extraPlugins) await plugins.add(plugin);
    await server.start();
    await http.start();
    discord.start();
  };

  const context: AdminContext = {
    server,
    store,
    countdown,
    races,
    identity,
    requestStop: options.requestStop ?? ((reason) => void stop(reason)),
  };
  const commands = createAdminRegistry(context, {
    audit(entry) {
      const action = describeAudit(entry);
      // The audit log names SAR's chat "game": where the player was, not how they typed it.
      const source = entry.invoker.source === 'chat' ? 'game' : entry.invoker.source;
      log.info({ actor: entry.invoker.name, source, action }, 'admin action');
      void store.audit.record({
        actor: entry.invoker.name,
        source,
        action,
        detail: entry.result.text,
      });
    },
    onError(command, error) {
      log.error({ err: error, command }, 'command failed');
    },
  });
  for (const definition of identityCommands) commands.register(definition);
  const plugins = new PluginHost({
    settings: config.plugins,
    configDirectory: options.configDirectory ?? process.cwd(),
    server,
    races,
    commands,
    store,
    logger,
    chatPermission: (client) => identity.levelOf(client.id),
    onChatForbidden: (client) => identityInGame.forbidden(client),
  });
  const discord = new DiscordBridge({
    settings: config.discord,
    token: options.discordToken,
    server,
    commands,
    store,
    logger,
    raceCardUpdateMs: config.races.card_update_ms,
    recoveredRaces: () => recoveredRaces,
    identity,
    ...(options.discordClientOptions ? { clientOptions: options.discordClientOptions } : {}),
  });
  // The HTTP endpoint reports on all of the above, so it is made last.
  const droppedLogLines = options.droppedLogLines ?? (() => 0);
  const http = new OperationsServer(
    { server, store, countdown, commands, discord, races, droppedLogLines },
    config.http,
    logger,
  );
  return { server, store, countdown, commands, discord, plugins, http, races, identity, start, stop };
}
