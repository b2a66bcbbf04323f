/**
 * What plugin authors write against: the `Plugin` base class, the `@command` and `@on`
 * decorators (standard TC39 decorators; no `experimentalDecorators`), and `ServerEvent`.
 *
 * Decorators only record what a method is for, per instance; the plugin host (host.ts) reads
 * those records when it loads the plugin and wires them to the command registry and event bus.
 */
import type { ClientInfo, PluginEventArguments, ServerEvent } from '../events.js';
import type { Color } from '../ghost/protocol/packets.js';
import type { Logger } from '../logger.js';
import type { CommandResult, Permission } from '../commands/registry.js';
import type { RaceSnapshot } from '../races/types.js';

/** A connected client as plugins see it (a snapshot; ids never change, names can). */
export type IClient = ClientInfo;

/**
 * Events a plugin can listen to with `@on(ServerEvent.X)`. The names and the arguments each
 * event gives a method come from the one table of events in src/events.ts.
 */
export { ServerEvent, type PluginEventArguments } from '../events.js';

export interface CommandOptions {
  /** Who may run it (default: everyone). */
  permission?: Permission;
  aliases?: string[];
}

// What hooks may answer. The host checks every answer against exactly these shapes (and the
// lengths in decisions.ts); anything else counts as a failed hook and refuses (docs/plugins.md).

/** What a hook decides about a client that wants to join (no reason: a default one is given). */
export type ConnectDecision = { allow: true } | { allow: false; reason?: string } | void;
/** What a hook decides about a chat message: relay it, relay other (non-empty) text, or drop it. */
export type ChatDecision = { action: 'allow' } | { action: 'rewrite'; text: string } | { action: 'drop' } | void;
/** What a hook decides about a countdown about to start (no reason: a default one is given). */
export type CountdownDecision = { allow: true } | { allow: false; reason?: string } | void;
/** What a hook decides about a race about to be counted down (no reason: a default one is given). */
export type RaceStartDecision = { allow: true } | { allow: false; reason?: string } | void;

export interface ConnectRequestInfo {
  name: string;
  address: string;
  spectator: boolean;
  map: string;
  model: string;
  color: Color;
}

export interface CountdownInfo {
  duration: number;
  preCommands: string;
  postCommands: string;
}

/** What the host gives each plugin (kept off the public surface of the class). */
export interface PluginServices {
  log: Logger;
  clients(): IClient[];
  state(): ServerState;
  broadcast(text: string): void;
  sendTo(clientId: number, text: string): boolean;
  /** Answers whoever invoked the command now running (chat client, console, Discord user). */
  respond(text: string): void;
  /** Runs any registered command line with this plugin's authority (admin). */
  runCommand(line: string): Promise<CommandResult>;
  storage: PluginStorage;
}

/**
 * Thrown from a command method to refuse with a message (`throw new CommandError('no such map')`):
 * the invoker sees the message as a failed result; nothing is logged as an error.
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** What the server is doing now. */
export interface ServerState {
  hostname: string;
  port: number;
  acceptingPlayers: boolean;
  acceptingSpectators: boolean;
}

/** Plugin-scoped persistent key-value storage (JSON values) in the server's database. */
export interface PluginStorage {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): boolean;
  keys(): string[];
}

export interface CommandRegistration {
  pattern: string;
  help: string;
  options: CommandOptions;
  method: (...args: unknown[]) => unknown;
  key: string;
}

export interface EventRegistration {
  event: ServerEvent;
  method: (...args: unknown[]) => unknown;
  key: string;
}

interface Registrations {
  commands: CommandRegistration[];
  events: EventRegistration[];
  services?: PluginServices;
}

// Per instance, outside the object: method decorators' initializers run before class fields exist.
// Shared through a global symbol so that two copies of this module (the server's, and the one a
// plugin imports as 'ghosting') agree on what a plugin declared.
const REGISTRATIONS = Symbol.for('ghosting.plugin.registrations');
const globalSlot = globalThis as { [REGISTRATIONS]?: WeakMap<object, Registrations> };
const registrations = (globalSlot[REGISTRATIONS] ??= new WeakMap<object, Registrations>());

/** Marks plugin classes, checked instead of `instanceof` for the same two-copies reason. */
export const PLUGIN_BRAND = Symbol.for('ghosting.plugin');

export function isPluginClass(value: unknown): value is new () => Plugin {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}

function recordsOf(plugin: object): Registrations {
  let records = registrations.get(plugin);
  if (records === undefined) {
    records = { commands: [], events: [] };
    registrations.set(plugin, records);
  }
  return records;
}

/** For the host: what a plugin instance declared with decorators. */
export function declarationsOf(plugin: Plugin): { commands: CommandRegistration[]; events: EventRegistration[] } {
  const { commands, events } = recordsOf(plugin);
  return { commands, events };
}

/** For the host: hands a plugin its services before anything of it runs. */
export function attachServices(plugin: Plugin, services: PluginServices): void {
  recordsOf(plugin).services = services;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- decorated methods take any arguments
type Method = (this: Plugin, ...args: any[]) => unknown;

/**
 * Declares a chat/console/Discord command: `@command('dm <player> <message...>', 'DM a player')`.
 * `<player>` becomes the connected client named (or with that id), `<word>` one word,
 * `<text...>` the rest of the line, `[word]` an optional word.
 */
export function command(pattern: string, help: string, options: CommandOptions = {}) {
  return function (method: Method, context: ClassMethodDecoratorContext<Plugin, Method>): void {
    context.addInitializer(function (this: Plugin) {
      recordsOf(this).commands.push({
        pattern,
        help,
        options,
        method: method as unknown as (...args: unknown[]) => unknown,
        key: String(context.name),
      });
    });
  };
}

/**
 * Calls the method on a server event: `@on(ServerEvent.ClientConnect)`. The method gets the
 * event's arguments (`PluginEventArguments`), e.g. `(client, reason)` for ClientDisconnect; it may
 * declare fewer.
 */
export function on<E extends ServerEvent>(event: E) {
  return function <M extends (this: Plugin, ...args: PluginEventArguments<E>) => unknown>(
    method: M,
    context: ClassMethodDecoratorContext<Plugin, M>,
  ): void {
    context.addInitializer(function (this: Plugin) {
      recordsOf(this).events.push({
        event,
        method: method as unknown as (...args: unknown[]) => unknown,
        key: String(context.name),
      });
    });
  };
}

/**
 * Optional methods a plugin may define (`class X extends Plugin implements PluginHooks`): the
 * decision hooks, run in load order (see host.ts), and load/unload callbacks. Each has
 * `[plugins] hook_timeout_ms` to answer; one that throws, times out or answers something else
 * refuses what it guards (the player, the message, the race start, the countdown, loading the
 * plugin).
 */
export interface PluginHooks {
  beforeConnect?(request: ConnectRequestInfo): ConnectDecision | Promise<ConnectDecision>;
  beforeChat?(client: IClient, text: string): ChatDecision | Promise<ChatDecision>;
  /**
   * `race start` is about to count down the ready entrants (`race` is a copy: the race as it is,
   * still `open`). Runs before every `beforeCountdown`.
   */
  beforeRaceStart?(race: RaceSnapshot): RaceStartDecision | Promise<RaceStartDecision>;
  beforeCountdown?(countdown: CountdownInfo): CountdownDecision | Promise<CountdownDecision>;
  onLoad?(): void | Promise<void>;
  onUnload?(): void | Promise<void>;
}

/**
 * Base class of every plugin. Override the metadata fields; add `@command` and `@on` methods;
 * optionally implement `PluginHooks`.
 */
export abstract class Plugin {
  static readonly [PLUGIN_BRAND] = true;

  name = 'Unnamed plugin';
  version = '0.0.0';
  authors: string[] = [];
  license = '';

  private get services(): PluginServices {
    const services = recordsOf(this).services;
    if (services === undefined) throw new Error(`plugin "${this.name}" is not loaded yet`);
    return services;
  }

  /** This plugin's logger (a child of the server's, tagged with the plugin's name). */
  protected get log(): Logger {
    return this.services.log;
  }

  /** Persistent key-value storage private to this plugin. */
  protected get storage(): PluginStorage {
    return this.services.storage;
  }

  /** The clients connected now. */
  protected get clients(): IClient[] {
    return this.services.clients();
  }

  /** The server's address and whether it accepts new players and spectators. */
  protected get serverState(): ServerState {
    return this.services.state();
  }

  /** Answers whoever ran the current command: the SAR player (only them), the console, or Discord. */
  async respond(text: string): Promise<void> {
    this.services.respond(text);
  }

  /** A server message to every client. */
  async broadcast(text: string): Promise<void> {
    this.services.broadcast(text);
  }

  /** A server message to one client only. */
  async respondToClient(client: IClient | number, text: string): Promise<void> {
    this.services.sendTo(typeof client === 'number' ? client : client.id, text);
  }

  /** Runs a server command (built-in or another plugin's) as this plugin, e.g. `countdown start 5`. */
  protected runCommand(line: string): Promise<CommandResult> {
    return this.services.runCommand(line);
  }
}
