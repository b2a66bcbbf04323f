/**
 * The public API of the `ghosting` package: what plugin authors import, and what code that
 * embeds the server uses. `node dist/index.js` (the `ghosting` command) is the other entry point.
 */
import { createApp, type App } from './app.js';
import { parseConfig, type Config } from './config.js';
import type { Logger } from './logger.js';
import type { Plugin } from './plugins/plugin.js';

export {
  Plugin,
  CommandError,
  command,
  on,
  ServerEvent,
  type IClient,
  type ChatDecision,
  type ConnectDecision,
  type CountdownDecision,
  type RaceStartDecision,
  type ConnectRequestInfo,
  type CountdownInfo,
  type CommandOptions,
  type PluginStorage,
  type PluginHooks,
  type PluginEventArguments,
  type ServerState,
} from './plugins/plugin.js';
export { containPluginError } from './plugins/containment.js';
export type { CommandResult, Permission, Invoker, CommandSource } from './commands/registry.js';
export type { ServerEvents, EventName, ClientInfo } from './events.js';
export type {
  RaceSnapshot,
  Entrant,
  EntrantFinish,
  EntrantStatus,
  Split,
  RaceKind,
  RaceState,
  RouteId,
} from './races/types.js';
export { mapInfo, routeOf, ROUTES, type MapInfo } from './races/routes.js';
export type { EventBus } from './events.js';
export type { Config } from './config.js';
export { ConfigError, defaultConfig } from './config.js';
export { PluginLoadError } from './plugins/loader.js';
export { DatabaseError } from './db/database.js';
export { ServerStartError } from './ghost/server.js';
export type { GhostServer } from './ghost/server.js';

/** config.toml's shape, every key optional: `{ server: { port: 0 }, discord: { enabled: false } }`. */
export type ConfigInput = { [Section in keyof Config]?: Partial<Config[Section]> };

export interface CreateServerOptions {
  logger?: Logger;
  /** Turns the Discord bot on (with `[discord]` settings in the config). */
  discordToken?: string;
  /** Plugin instances to add, after the ones listed in `[plugins] modules`. */
  plugins?: Plugin[];
  /** Where relative plugin paths in the config are resolved from (default: the working directory). */
  configDirectory?: string;
}

/** A server made from code: `await server.start()`, `server.events.on(...)`, `await server.stop()`. */
export interface GhostingServer {
  readonly app: App;
  /** Typed events: `server.events.on('clientConnected', ({ client }) => ...)`. */
  readonly events: App['server']['bus'];
  /** The TCP/UDP port actually bound (useful with port 0). */
  readonly port: number;
  start(): Promise<void>;
  stop(reason?: string): Promise<void>;
  /** Runs a console command, e.g. `countdown start 5`; resolves with its result. */
  command(line: string): Promise<import('./commands/registry.js').CommandResult>;
}

/**
 * Creates a server from a config object (validated like config.toml; throws ConfigError).
 * The database, plugins and Discord bot are set up as with the command-line entry point.
 */
export function createServer(config: ConfigInput = {}, options: CreateServerOptions = {}): GhostingServer {
  const validated = parseConfig(config, 'createServer config');
  const app = createApp({
    config: validated,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.discordToken !== undefined ? { discordToken: options.discordToken } : {}),
    ...(options.configDirectory !== undefined ? { configDirectory: options.configDirectory } : {}),
  });
  return {
    app,
    events: app.server.bus,
    get port() {
      return app.server.port;
    },
    start: () => app.start(options.plugins ?? []),
    stop: (reason = 'stopped by the embedding code') => app.stop(reason),
    command: (line) => app.commands.execute(line, { source: 'plugin', name: 'embedder', permission: 'admin' }),
  };
}
