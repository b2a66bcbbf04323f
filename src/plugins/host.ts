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
 * - race starts: each plugin's `beforeRaceStart` in load order (the race director asks, through
 *   the start check registered here); the first refusal wins. Then the race's countdown goes
 *   through the countdown hooks like any other.
 * - countdowns: each plugin's `beforeCountdown` in load order; the first refusal wins.
 *
 * Hooks fail closed. Every hook (the four above, onLoad and onUnload) has `hook_timeout_ms` to
 * answer, and what it answers is checked against its contract (decisions.ts). A hook that throws,
 * times out or answers something else refuses what it guards: the connection is refused, the
 * chat message dropped, the race start or the countdown refused, the plugin not loaded. Every call into a plugin
 * runs in its context (containment.ts), so whatever its code does later is blamed on it too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdminContext } from '../commands/context.js';
import {
  fail,
  ok,
  type CommandRegistry,
  type CommandResult,
  type Invoker,
  type Permission,
} from '../commands/registry.js';
import type { PluginSettings } from '../config.js';
import type { Store } from '../db/database.js';
import { pluginArguments, pluginParameters, type ClientInfo, type EventName } from '../events.js';
import type { GhostServer } from '../ghost/server.js';
import type { Logger } from '../logger.js';
import type { RaceSnapshot } from '../races/types.js';
import { oneLine, printable } from '../text/printable.js';
import { containMicrotasks, outsidePlugins, outsidePluginsView, runAsPlugin, type PluginScope } from './containment.js';
import { checkPluginName, kindOf, readChat, readGate } from './decisions.js';
import { loadPluginClasses, PluginLoadError } from './loader.js';
import { parsePattern, PatternError } from './patterns.js';
import {
  attachServices,
  declarationsOf,
  type ConnectRequestInfo,
  type CountdownInfo,
  type Plugin,
  type PluginHooks,
  type PluginStorage,
  type ServerEvent,
} from './plugin.js';

type HookedPlugin = Plugin & PluginHooks;
type HookName = keyof PluginHooks;
const HOOKS: readonly HookName[] = [
  'beforeConnect',
  'beforeChat',
  'beforeRaceStart',
  'beforeCountdown',
  'onLoad',
  'onUnload',
];

type ChatVerdict = { action: 'allow' } | { action: 'rewrite'; text: string } | { action: 'drop' };
const ALLOW: ChatVerdict = { action: 'allow' };
const DROP: ChatVerdict = { action: 'drop' };

/** At most this many error lines per plugin per window; the rest are counted (a broken interval). */
const ERROR_LINES_PER_WINDOW = 10;
const ERROR_WINDOW_MS = 10_000;

interface Invocation {
  output: string[];
  invoker: Invoker;
}

export interface LoadedPlugin {
  plugin: HookedPlugin;
  module: string;
  commands: string[];
}

/** What the host needs of the race director (`app.races`): somewhere to put its start check. */
export interface RaceStartGate {
  /** `check` answers a refusal reason, or undefined to let the race start. */
  addStartCheck(check: (race: RaceSnapshot) => string | undefined | Promise<string | undefined>): void;
}

export interface PluginHostOptions {
  settings: PluginSettings;
  configDirectory: string;
  server: GhostServer;
  races: RaceStartGate;
  commands: CommandRegistry<AdminContext>;
  store: Store;
  logger: Logger;
  /**
   * The level a player's chat commands run at: a linked, confirmed player's Discord level
   * (src/identity); without it, or when it fails or is slow, everyone's. Asked per command.
   */
  chatPermission?: (client: ClientInfo) => Promise<Permission> | Permission;
  /** Told when a player's chat command was refused for its level (to ask a linked owner to confirm, say). */
  onChatForbidden?: (client: ClientInfo, command: string) => string | undefined;
}

/** How long a chat command waits for the player's level (Discord may be slow) before running as everyone's. */
const CHAT_PERMISSION_TIMEOUT_MS = 2000;

class HookTimeout extends Error {}

/**
 * A plugin as its failures are reported: a logger tagged with its name, and a limit on how many
 * error lines it can write, so that an interval that throws every millisecond cannot flood the log.
 */
class PluginRuntime implements PluginScope {
  private log: Logger;
  private windowStart = 0;
  private lines = 0;
  private suppressed = 0;

  constructor(
    public name: string,
    private readonly parent: Logger,
  ) {
    this.log = parent.child({ plugin: name });
  }

  /** The plugin's own logger (its methods run outside the plugin's context). */
  get logger(): Logger {
    return this.log;
  }

  rename(name: string): void {
    this.name = name;
    this.log = this.parent.child({ plugin: name });
  }

  fail(message: string, error?: unknown, fields: Record<string, unknown> = {}): void {
    const now = performance.now();
    if (now - this.windowStart >= ERROR_WINDOW_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    outsidePlugins(() => {
      if (this.lines >= ERROR_LINES_PER_WINDOW) {
        if (this.suppressed++ === 0) {
          const seconds = ERROR_WINDOW_MS / 1000;
          this.log.warn(
            `more than ${ERROR_LINES_PER_WINDOW} errors within ${seconds} s: the next ones are counted, not logged, for up to ${seconds} s`,
          );
        }
        return;
      }
      this.lines++;
      const details: Record<string, unknown> = { ...fields, ...describeError(error) };
      if (this.suppressed > 0) details.suppressed = this.suppressed;
      this.suppressed = 0;
      this.log.error(details, message);
    });
  }
}

/** Log fields for whatever a plugin threw (an Error, or any other value). */
function describeError(error: unknown): Record<string, unknown> {
  if (error === undefined) return {};
  if (error instanceof Error) return { err: error };
  return { thrown: textOf(error) };
}

/** A thrown value's message as one printable line, whatever it is. */
function textOf(value: unknown): string {
  let text: string;
  try {
    text = String(value instanceof Error ? value.message : value);
  } catch {
    text = `(${kindOf(value)} that cannot be shown)`;
  }
  return printable(text).slice(0, 200);
}

/** Calls plugin code in the plugin's context; a synchronous throw becomes a rejection. */
function invoke<T>(scope: PluginScope, work: () => T): Promise<Awaited<T>> {
  try {
    return Promise.resolve(runAsPlugin(scope, work)) as Promise<Awaited<T>>;
  } catch (error) {
    return Promise.reject(error);
  }
}

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
  private readonly runtimes = new WeakMap<Plugin, PluginRuntime>();
  private readonly log: Logger;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(private readonly options: PluginHostOptions) {
    this.log = options.logger.child({ module: 'plugins' });
    containMicrotasks();
    const { server } = options;
    server.addChatFilter((client, text) => this.guard('chat', () => this.chatCommand(client, text), DROP));
    server.addChatFilter((client, text) => this.guard('chat', () => this.runChatHooks(client, text), DROP));
    server.addAdmissionCheck(
      (request, address) =>
        this.guard(
          'connect',
          () =>
            this.runConnectHooks({
              name: request.name,
              address,
              spectator: request.spectator,
              map: request.map,
              model: request.model,
              color: request.color,
            }),
          'plugin checks failed',
        ),
      'plugin',
    );
    options.races.addStartCheck((race) =>
      this.guard('race start', () => this.runRaceStartHooks(race), 'plugin checks failed'),
    );
    server.addCountdownCheck((countdown) =>
      this.guard('countdown', () => this.runCountdownHooks(countdown), 'plugin checks failed'),
    );
  }

  /** Loads every configured module in order. Throws PluginLoadError for a required one that fails. */
  async loadAll(): Promise<void> {
    for (const entry of this.options.settings.modules) {
      const { module, optional } = typeof entry === 'string' ? { module: entry, optional: false } : entry;
      try {
        const classes = await loadPluginClasses(module, this.options.configDirectory);
        for (const PluginClass of classes) {
          // Named after its module until it has a name of its own.
          const runtime = new PluginRuntime(module, this.log);
          await this.register(
            runAsPlugin(runtime, () => new PluginClass()),
            module,
            runtime,
          );
        }
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
    await this.register(plugin, module, new PluginRuntime(module, this.log));
  }

  private async register(plugin: HookedPlugin, module: string, runtime: PluginRuntime): Promise<void> {
    const badName = checkPluginName(plugin.name);
    if (badName !== undefined) throw new PluginLoadError(`plugin "${module}": ${badName}`);
    for (const hook of HOOKS) {
      const member: unknown = plugin[hook];
      if (member !== undefined && typeof member !== 'function')
        throw new PluginLoadError(`plugin "${plugin.name}": ${hook} is ${kindOf(member)}, not a method`);
    }
    runtime.rename(plugin.name);
    this.runtimes.set(plugin, runtime);
    // Whatever the plugin calls on the server runs outside its context (see containment.ts).
    const log = outsidePluginsView(runtime.logger);
    const storage = this.storageFor(plugin.name);
    attachServices(plugin, {
      log,
      clients: () => outsidePlugins(() => this.options.server.listClients()),
      state: () =>
        outsidePlugins(() => ({
          hostname: this.options.server.hostname,
          port: this.options.server.port,
          acceptingPlayers: this.options.server.acceptingPlayers,
          acceptingSpectators: this.options.server.acceptingSpectators,
        })),
      broadcast: (text) => outsidePlugins(() => this.options.server.broadcastServerMessage(text)),
      sendTo: (id, text) => outsidePlugins(() => this.options.server.sendServerMessage(id, text)),
      respond: (text) => {
        const invocation = this.invocations.getStore();
        if (invocation === undefined) log.warn({ text }, 'respond() outside a command; nothing sent');
        else invocation.output.push(text);
      },
      runCommand: (line) =>
        outsidePlugins(() =>
          this.options.commands.execute(line, { source: 'plugin', name: plugin.name, permission: 'admin' }),
        ),
      storage: {
        get: (key) => outsidePlugins(() => storage.get(key)),
        set: (key, value) => outsidePlugins(() => storage.set(key, value)),
        delete: (key) => outsidePlugins(() => storage.delete(key)),
        keys: () => outsidePlugins(() => storage.keys()),
      },
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
              runtime,
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
        const stop = this.subscribe(plugin, runtime, declaration.event, declaration.method);
        if (stop !== undefined) unsubscribeEvents.push(stop);
      }
      if (typeof plugin.onLoad === 'function') await this.callHook(runtime, () => plugin.onLoad!());
    } catch (error) {
      for (const step of [...unsubscribeEvents, ...unregisterCommands]) step();
      if (error instanceof PluginLoadError) throw error;
      throw new PluginLoadError(`plugin "${plugin.name}": onLoad ${this.problemOf(error)}`, { cause: error });
    }
    this.unsubscribers.push(...unsubscribeEvents);
    this.loaded.push({ plugin, module, commands: names });
    this.log.info({ plugin: plugin.name, version: plugin.version, module, commands: names }, 'plugin loaded');
  }

  async unloadAll(): Promise<void> {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const { plugin } of this.loaded) {
      if (typeof plugin.onUnload !== 'function') continue;
      const runtime = this.runtimeOf(plugin);
      try {
        await this.callHook(runtime, () => plugin.onUnload!());
      } catch (error) {
        this.hookFailed(runtime, 'onUnload', error, 'it may not have finished cleaning up');
      }
    }
  }

  private runtimeOf(plugin: Plugin): PluginRuntime {
    return this.runtimes.get(plugin)!;
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

  /** Calls a hook in the plugin's context, limited to hook_timeout_ms (a HookTimeout after that). */
  private callHook<T>(runtime: PluginRuntime, work: () => T): Promise<Awaited<T>> {
    return withTimeout(invoke(runtime, work), this.options.settings.hook_timeout_ms);
  }

  /** What went wrong with a hook, in words: "threw: boom", "did not answer within 1000 ms". */
  private problemOf(error: unknown): string {
    if (error instanceof HookTimeout) return `did not answer within ${this.options.settings.hook_timeout_ms} ms`;
    return `threw: ${textOf(error)}`;
  }

  /** Logs a failed hook once, as the plugin's error: which hook, what went wrong, what follows. */
  private hookFailed(runtime: PluginRuntime, hook: HookName, failure: unknown, consequence: string): void {
    const invalid = typeof failure === 'string';
    const problem = invalid ? failure : this.problemOf(failure);
    const error = invalid || failure instanceof HookTimeout ? undefined : failure;
    runtime.fail(`${hook} ${problem}; ${consequence}`, error, { hook });
  }

  /** Runs host code that must not throw into the server: if it does, the plugins' answer is `fallback`. */
  private async guard<T>(what: string, work: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.log.error({ err: error, decision: what }, 'plugin host failed; refused');
      return fallback;
    }
  }

  private subscribe(
    plugin: Plugin,
    runtime: PluginRuntime,
    event: ServerEvent,
    method: (...args: unknown[]) => unknown,
  ): (() => void) | undefined {
    if (pluginParameters(event) === undefined) {
      runtime.logger.warn({ event }, 'unknown event; the handler will never run');
      return undefined;
    }
    return this.options.server.bus.on(event as EventName, (payload: unknown) => {
      invoke(runtime, () => method.apply(plugin, pluginArguments(event, payload)!)).catch((error: unknown) =>
        runtime.fail('plugin event handler failed', error, { event }),
      );
    });
  }

  private async runCommand(
    plugin: Plugin,
    runtime: PluginRuntime,
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
      returned = await this.invocations.run(invocation, () => invoke(runtime, () => method.apply(plugin, values)));
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

  /**
   * A chat line starting with the prefix runs a command for that player instead of being relayed.
   * The player's next messages wait for its answer at most hook_timeout_ms; a slower command
   * answers when it is done.
   */
  private async chatCommand(client: ClientInfo, text: string): Promise<ChatVerdict> {
    const prefix = this.options.settings.command_prefix;
    if (prefix === '' || !text.startsWith(prefix) || text.trim() === prefix) return ALLOW;
    const line = text.slice(prefix.length);
    const commandName = line.trim().split(/\s+/)[0] ?? '';
    const answered = this.chatInvoker(client, prefix)
      .then((invoker) => this.options.commands.execute(line, invoker))
      .catch((error: unknown): CommandResult => {
        this.log.error({ err: error }, 'chat command failed');
        return fail('internal', 'that command failed');
      })
      .then((result) => {
        let reply = result.text;
        if (!result.ok && result.code === 'unknown_command')
          reply = `Unknown command ${prefix}${commandName}. Type ${prefix}help for the list.`;
        if (!result.ok && result.code === 'forbidden') reply = this.chatForbidden(client, line, result.text);
        // SAR prints one line per message.
        for (const part of reply.split('\n').filter((piece) => piece.trim() !== ''))
          this.options.server.sendServerMessage(client.id, part);
      });
    await withTimeout(answered, this.options.settings.hook_timeout_ms).catch(() => undefined);
    return DROP;
  }

  /** Who a chat command runs as: the player, at the level `chatPermission` gives (everyone's if it fails). */
  private async chatInvoker(client: ClientInfo, prefix: string): Promise<Invoker> {
    let permission: Permission = 'everyone';
    const resolve = this.options.chatPermission;
    if (resolve !== undefined) {
      try {
        permission = await withTimeout(resolve(client), CHAT_PERMISSION_TIMEOUT_MS);
      } catch (error) {
        // Fail closed: a player whose level cannot be read now runs as everyone.
        this.log.warn(
          { err: error, player: client.name },
          'chat command runs as everyone: the player level is unavailable',
        );
      }
    }
    return { source: 'chat', name: client.name, permission, clientId: client.id, prefix };
  }

  /** A chat command refused for the player's level: "not allowed", and the attempt goes to the audit log. */
  private chatForbidden(client: ClientInfo, line: string, why: string): string {
    void this.options.store.audit.record({
      actor: client.name,
      source: 'game',
      action: `refused: ${oneLine`${line.trim()}`.slice(0, 200)}`,
      detail: why,
    });
    this.log.info({ player: client.name, command: line.trim().slice(0, 200) }, 'chat command not allowed');
    const extra = this.options.onChatForbidden?.(client, line);
    return [`Not allowed: ${why}.`, ...(extra === undefined ? [] : [extra])].join('\n');
  }

  /** Asks each plugin's beforeConnect, beforeRaceStart or beforeCountdown; the first refusal (or failure) wins. */
  private async runGateHooks(
    hook: 'beforeConnect' | 'beforeRaceStart' | 'beforeCountdown',
    ask: (plugin: HookedPlugin) => unknown,
    consequence: string,
  ): Promise<string | undefined> {
    for (const { plugin } of this.loaded) {
      if (typeof plugin[hook] !== 'function') continue;
      const runtime = this.runtimeOf(plugin);
      let answer: unknown;
      try {
        answer = await this.callHook(runtime, () => ask(plugin));
      } catch (error) {
        this.hookFailed(runtime, hook, error, consequence);
        return `plugin "${runtime.name}" failed to decide`;
      }
      const read = readGate(answer);
      if (!read.ok) {
        this.hookFailed(runtime, hook, read.problem, consequence);
        return `plugin "${runtime.name}" failed to decide`;
      }
      if (!read.value.allow) return read.value.reason ?? `plugin "${runtime.name}" gave no reason`;
    }
    return undefined;
  }

  private runConnectHooks(request: ConnectRequestInfo): Promise<string | undefined> {
    return this.runGateHooks('beforeConnect', (plugin) => plugin.beforeConnect!(request), 'connection refused');
  }

  /** Each plugin gets its own copy of the race: what one changes, neither the next nor the director sees. */
  private runRaceStartHooks(race: RaceSnapshot): Promise<string | undefined> {
    return this.runGateHooks(
      'beforeRaceStart',
      (plugin) => plugin.beforeRaceStart!(structuredClone(race)),
      'race start refused',
    );
  }

  private runCountdownHooks(countdown: CountdownInfo): Promise<string | undefined> {
    return this.runGateHooks('beforeCountdown', (plugin) => plugin.beforeCountdown!(countdown), 'countdown refused');
  }

  /** Each plugin's beforeChat in load order, each answer limited in time and checked. */
  private async runChatHooks(client: ClientInfo, text: string): Promise<ChatVerdict> {
    let current = text;
    for (const { plugin } of this.loaded) {
      if (typeof plugin.beforeChat !== 'function') continue;
      const runtime = this.runtimeOf(plugin);
      const said = current;
      let answer: unknown;
      try {
        answer = await this.callHook(runtime, () => plugin.beforeChat!(client, said));
      } catch (error) {
        this.hookFailed(runtime, 'beforeChat', error, 'message dropped');
        return DROP;
      }
      const read = readChat(answer, said);
      if (!read.ok) {
        this.hookFailed(runtime, 'beforeChat', read.problem, 'message dropped');
        return DROP;
      }
      if (read.value.action === 'drop') return DROP;
      if (read.value.action === 'rewrite') current = read.value.text;
    }
    return current === text ? ALLOW : { action: 'rewrite', text: current };
  }
}
