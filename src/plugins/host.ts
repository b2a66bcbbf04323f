/**
 * Loads plugins and connects them to the server: their `@command`s join the command registry
 * (so they run from SAR chat, the console and Discord alike), their `@on` methods subscribe to
 * the event bus, and their hooks join the server's decision points.
 *
 * Hook order is fixed and documented in docs/plugins.md:
 * - joining: built-in checks (accepting, full), bans and whitelist, then each plugin's
 *   `beforeConnect` in load order; the first refusal wins.
 * - chat: chat commands first (a message starting with the prefix runs a command for that
 *   player and is not relayed), then each plugin's `beforeChat` in load order.
 * - countdowns: each plugin's `beforeCountdown` in load order; the first refusal wins.
 * A hook that throws or takes longer than `hook_timeout_ms` is logged and skipped.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdminContext } from '../commands/context.js';
import { fail, ok, type CommandRegistry, type CommandResult, type Invoker } from '../commands/registry.js';
import type { PluginSettings } from '../config.js';
import type { Store } from '../db/database.js';
import type { ClientInfo, EventName, ServerEvents } from '../events.js';
import type { GhostServer } from '../ghost/server.js';
import type { Logger } from '../logger.js';
import { loadPluginClasses, PluginLoadError } from './loader.js';
import { parsePattern, PatternError } from './patterns.js';
import {
  attachServices,
  declarationsOf,
  type ChatDecision,
  type ConnectDecision,
  type ConnectRequestInfo,
  type CountdownInfo,
  type CountdownDecision,
  type Plugin,
  type PluginHooks,
  type PluginStorage,
  type ServerEvent,
} from './plugin.js';

/** Positional arguments each event gives an `@on` method. */
const EVENT_ARGUMENTS: { [E in EventName]?: (payload: ServerEvents[E]) => unknown[] } = {
  clientConnected: (p) => [p.client],
  clientDisconnected: (p) => [p.client, p.reason],
  clientMessage: (p) => [p.text, p.client],
  mapChanged: (p) => [p.client, p.client.map, p.previousMap],
  speedrunFinished: (p) => [p.client, p.time],
  countdownStarted: (p) => [p.duration, p.preCommands, p.postCommands],
  countdownGo: () => [],
  modelChanged: (p) => [p.client, p.client.model, p.previousModel],
  colorChanged: (p) => [p.client, p.client.color, p.previousColor],
  serverStarted: (p) => [p.hostname, p.port],
  serverStopping: (p) => [p.reason],
};

type HookedPlugin = Plugin & PluginHooks;

interface Invocation {
  output: string[];
  invoker: Invoker;
}

export interface LoadedPlugin {
  plugin: HookedPlugin;
  module: string;
  commands: string[];
}

export interface PluginHostOptions {
  settings: PluginSettings;
  configDirectory: string;
  server: GhostServer;
  commands: CommandRegistry<AdminContext>;
  store: Store;
  logger: Logger;
}

class HookTimeout extends Error {}

function withTimeout<T>(work: Promise<T> | T, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new HookTimeout(`no answer within ${ms} ms`)), ms);
    Promise.resolve(work).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export class PluginHost {
  readonly loaded: LoadedPlugin[] = [];
  private readonly invocations = new AsyncLocalStorage<Invocation>();
  private readonly log: Logger;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(private readonly options: PluginHostOptions) {
    this.log = options.logger.child({ module: 'plugins' });
    const { server } = options;
    server.addChatFilter((client, text) => this.chatCommand(client, text));
    server.addChatFilter((client, text) => this.runChatHooks(client, text));
    server.addAdmissionCheck((request, address) =>
      this.runConnectHooks({
        name: request.name,
        address,
        spectator: request.spectator,
        map: request.map,
        model: request.model,
        color: request.color,
      }),
    );
    server.addCountdownCheck((countdown) => this.runCountdownHooks(countdown));
  }

  /** Loads every configured module in order. Throws PluginLoadError for a required one that fails. */
  async loadAll(): Promise<void> {
    for (const entry of this.options.settings.modules) {
      const { module, optional } = typeof entry === 'string' ? { module: entry, optional: false } : entry;
      try {
        const classes = await loadPluginClasses(module, this.options.configDirectory);
        for (const PluginClass of classes) await this.add(new PluginClass(), module);
      } catch (error) {
        const failure =
          error instanceof PluginLoadError
            ? error
            : new PluginLoadError(`plugin "${module}": ${(error as Error).message}`, { cause: error });
        if (!optional) throw failure;
        this.log.warn({ err: failure.cause ?? failure }, `${failure.message} (optional: skipped)`);
      }
    }
  }

  /** Registers an instantiated plugin (also used by code that embeds the server). */
  async add(plugin: HookedPlugin, module = '(embedded)'): Promise<void> {
    const log = this.log.child({ plugin: plugin.name });
    attachServices(plugin, {
      log,
      clients: () => this.options.server.listClients(),
      state: () => ({
        hostname: this.options.server.hostname,
        port: this.options.server.port,
        acceptingPlayers: this.options.server.acceptingPlayers,
        acceptingSpectators: this.options.server.acceptingSpectators,
      }),
      broadcast: (text) => this.options.server.broadcastServerMessage(text),
      sendTo: (id, text) => this.options.server.sendServerMessage(id, text),
      respond: (text) => {
        const invocation = this.invocations.getStore();
        if (invocation === undefined) log.warn({ text }, 'respond() outside a command; nothing sent');
        else invocation.output.push(text);
      },
      runCommand: (line) =>
        this.options.commands.execute(line, { source: 'plugin', name: plugin.name, permission: 'admin' }),
      storage: this.storageFor(plugin.name),
    });

    const { commands, events } = declarationsOf(plugin);
    // Every pattern is checked before anything is registered, and whatever was registered is
    // undone if a later step fails: a plugin is either fully loaded or not at all.
    const parsedCommands = commands.map((declaration) => {
      try {
        return { declaration, parsed: parsePattern(declaration.pattern) };
      } catch (error) {
        if (error instanceof PatternError) {
          throw new PluginLoadError(`plugin "${plugin.name}": bad command pattern ${error.message}`);
        }
        throw error;
      }
    });
    const unregisterCommands: Array<() => void> = [];
    const unsubscribeEvents: Array<() => void> = [];
    const names: string[] = [];
    try {
      for (const { declaration, parsed } of parsedCommands) {
        const definition = {
          name: parsed.name,
          ...(declaration.options.aliases ? { aliases: declaration.options.aliases } : {}),
          summary: declaration.help,
          arguments: parsed.arguments,
          permission: declaration.options.permission ?? ('everyone' as const),
          run: (_context: AdminContext, args: Record<string, string | number | undefined>, invoker: Invoker) =>
            this.runCommand(
              plugin,
              declaration.method,
              parsed.arguments.map((spec) => spec.name),
              parsed.clientArguments,
              args,
              invoker,
            ),
        };
        try {
          this.options.commands.register(definition);
        } catch (error) {
          throw new PluginLoadError(`plugin "${plugin.name}": command "${parsed.name}": ${(error as Error).message}`);
        }
        unregisterCommands.push(() => this.options.commands.unregister(definition.name));
        names.push(parsed.name);
      }
      for (const declaration of events) {
        const stop = this.subscribe(plugin, declaration.event, declaration.method, log);
        if (stop !== undefined) unsubscribeEvents.push(stop);
      }
      await plugin.onLoad?.();
    } catch (error) {
      for (const step of [...unsubscribeEvents, ...unregisterCommands]) step();
      if (error instanceof PluginLoadError) throw error;
      throw new PluginLoadError(`plugin "${plugin.name}": onLoad failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.unsubscribers.push(...unsubscribeEvents);
    this.loaded.push({ plugin, module, commands: names });
    log.info({ version: plugin.version, module, commands: names }, 'plugin loaded');
  }

  async unloadAll(): Promise<void> {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const { plugin } of this.loaded) {
      try {
        await withTimeout(plugin.onUnload?.(), this.options.settings.hook_timeout_ms);
      } catch (error) {
        this.log.warn({ err: error, plugin: plugin.name }, 'plugin failed to unload cleanly');
      }
    }
  }

  private storageFor(plugin: string): PluginStorage {
    const data = this.options.store.pluginData;
    return {
      get: <T>(key: string) => data.get(plugin, key) as T | undefined,
      set: (key, value) => data.set(plugin, key, value),
      delete: (key) => data.delete(plugin, key),
      keys: () => data.keys(plugin),
    };
  }

  private subscribe(
    plugin: Plugin,
    event: ServerEvent,
    method: (...args: unknown[]) => unknown,
    log: Logger,
  ): (() => void) | undefined {
    const toArguments = EVENT_ARGUMENTS[event as EventName] as ((payload: unknown) => unknown[]) | undefined;
    if (toArguments === undefined) {
      log.warn({ event }, 'unknown event; the handler will never run');
      return undefined;
    }
    const stop = this.options.server.bus.on(event as EventName, async (payload: unknown) => {
      try {
        await method.apply(plugin, toArguments(payload));
      } catch (error) {
        log.error({ err: error, event }, 'plugin event handler failed');
      }
    });
    return stop;
  }

  private async runCommand(
    plugin: Plugin,
    method: (...args: unknown[]) => unknown,
    order: string[],
    clientArguments: Set<string>,
    args: Record<string, string | number | undefined>,
    invoker: Invoker,
  ): Promise<CommandResult> {
    const values: unknown[] = [];
    for (const name of order) {
      const value = args[name];
      if (value !== undefined && clientArguments.has(name)) {
        const client = this.findClient(String(value));
        if (client === undefined) return fail('not_found', `no player "${String(value)}" is connected`);
        values.push(client);
      } else {
        values.push(value);
      }
    }
    const invocation: Invocation = { output: [], invoker };
    let returned: unknown;
    try {
      returned = await this.invocations.run(invocation, () => method.apply(plugin, values));
    } catch (error) {
      // An expected refusal, not a bug: the plugin's message becomes the failed result.
      if (error instanceof Error && error.name === 'CommandError') return fail('refused', error.message);
      throw error;
    }
    if (typeof returned === 'string') invocation.output.push(returned);
    return ok(invocation.output.join('\n'));
  }

  /** A connected client by exact name, else by id (`3` or `#3`). */
  private findClient(value: string): ClientInfo | undefined {
    const clients = this.options.server.listClients();
    const byName = clients.find((client) => client.name === value);
    if (byName !== undefined) return byName;
    const id = /^#?(\d+)$/.exec(value)?.[1];
    return id === undefined ? undefined : clients.find((client) => client.id === Number(id));
  }

  /** A chat line starting with the prefix runs a command for that player instead of being relayed. */
  private async chatCommand(client: ClientInfo, text: string): Promise<{ action: 'allow' } | { action: 'drop' }> {
    const prefix = this.options.settings.command_prefix;
    if (prefix === '' || !text.startsWith(prefix) || text.trim() === prefix) return { action: 'allow' };
    const line = text.slice(prefix.length);
    const invoker: Invoker = { source: 'chat', name: client.name, permission: 'everyone', clientId: client.id };
    const commandName = line.trim().split(/\s+/)[0] ?? '';
    let result: CommandResult;
    try {
      result = await this.options.commands.execute(line, invoker);
    } catch (error) {
      this.log.error({ err: error }, 'chat command failed');
      result = fail('internal', 'that command failed');
    }
    let reply = result.text;
    if (!result.ok && result.code === 'unknown_command')
      reply = `Unknown command ${prefix}${commandName}. Type ${prefix}help for the list.`;
    // SAR prints one line per message.
    for (const line of reply.split('\n').filter((part) => part.trim() !== ''))
      this.options.server.sendServerMessage(client.id, line);
    return { action: 'drop' };
  }

  private async runHooks<T>(
    hook: 'beforeConnect' | 'beforeChat' | 'beforeCountdown',
    call: (plugin: HookedPlugin) => T | Promise<T> | undefined,
    decide: (decision: T) => boolean,
  ): Promise<T | undefined> {
    for (const { plugin } of this.loaded) {
      if (typeof plugin[hook] !== 'function') continue;
      try {
        const decision = await withTimeout(call(plugin), this.options.settings.hook_timeout_ms);
        if (decision !== undefined && decide(decision)) return decision;
      } catch (error) {
        this.log.error(
          { err: error, plugin: plugin.name, hook },
          `plugin hook ${error instanceof HookTimeout ? 'timed out' : 'failed'}; skipped`,
        );
      }
    }
    return undefined;
  }

  private async runConnectHooks(request: ConnectRequestInfo): Promise<string | undefined> {
    const refusal = await this.runHooks<ConnectDecision>(
      'beforeConnect',
      (plugin) => plugin.beforeConnect?.(request),
      (decision) => decision !== undefined && !decision.allow,
    );
    return refusal !== undefined && !refusal.allow ? refusal.reason : undefined;
  }

  private async runChatHooks(
    client: ClientInfo,
    text: string,
  ): Promise<{ action: 'allow' } | { action: 'rewrite'; text: string } | { action: 'drop' }> {
    let current = text;
    for (const { plugin } of this.loaded) {
      if (typeof plugin.beforeChat !== 'function') continue;
      let decision: ChatDecision;
      try {
        decision = await withTimeout(plugin.beforeChat(client, current), this.options.settings.hook_timeout_ms);
      } catch (error) {
        this.log.error(
          { err: error, plugin: plugin.name, hook: 'beforeChat' },
          `plugin hook ${error instanceof HookTimeout ? 'timed out' : 'failed'}; skipped`,
        );
        continue;
      }
      if (decision?.action === 'drop') return { action: 'drop' };
      if (decision?.action === 'rewrite') current = decision.text;
    }
    return current === text ? { action: 'allow' } : { action: 'rewrite', text: current };
  }

  private async runCountdownHooks(countdown: CountdownInfo): Promise<string | undefined> {
    const refusal = await this.runHooks<CountdownDecision>(
      'beforeCountdown',
      (plugin) => plugin.beforeCountdown?.(countdown),
      (decision) => decision !== undefined && !decision.allow,
    );
    return refusal !== undefined && !refusal.allow ? refusal.reason : undefined;
  }
}
