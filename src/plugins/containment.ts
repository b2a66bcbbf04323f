/**
 * Keeps a plugin's failures inside the plugin.
 *
 * Every call into a plugin (its constructor, onLoad/onUnload, commands, event handlers, hooks)
 * runs in an AsyncLocalStorage context that names it. Node carries that context into everything
 * the plugin schedules from there: timers and intervals, immediates, nextTick, promises and their
 * continuations, I/O callbacks and event emitters it creates. When such code throws, or leaves a
 * rejected promise unhandled, the process's 'uncaughtException' handler still sees the context
 * (checked on Node 20 for each of those, and for an unhandled rejection reported as
 * 'uncaughtException'), so `containPluginError` can log the error as that plugin's and the server
 * goes on. An error raised outside every plugin context is not the plugins' and stays fatal.
 *
 * Two gaps are closed by hand:
 * - `queueMicrotask` loses the context before Node reports what its callback threw, so a
 *   callback queued from plugin code is wrapped (`containMicrotasks`).
 * - Server code that a plugin calls (broadcast, storage, commands, its logger) runs outside the
 *   plugin's context (`outsidePlugins`), so that what the server schedules then — a write flush,
 *   a log file write — is never blamed on the plugin, and a server failure stays fatal.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A plugin as failures are reported against it. */
export interface PluginScope {
  /** The plugin's name, as in the logs. */
  readonly name: string;
  /** Logs a failure of this plugin: what happened, the error if there is one, and more fields. */
  fail(message: string, error?: unknown, fields?: Record<string, unknown>): void;
}

// One context for the process, shared by every copy of this module (the server's, and the one a
// plugin reaches through 'ghosting').
const CONTEXT = Symbol.for('ghosting.plugin.context');
const MICROTASKS = Symbol.for('ghosting.plugin.microtasks');
const slots = globalThis as { [CONTEXT]?: AsyncLocalStorage<PluginScope>; [MICROTASKS]?: true };
const context = (slots[CONTEXT] ??= new AsyncLocalStorage<PluginScope>());

/** Runs plugin code: it, and everything it schedules, counts as `scope`'s. */
export function runAsPlugin<T>(scope: PluginScope, work: () => T): T {
  return context.run(scope, work);
}

/** Runs server code on behalf of a plugin, outside its context (see above). */
export function outsidePlugins<T>(work: () => T): T {
  return context.exit(work);
}

/** The plugin whose code is running now, if any. */
export function currentPlugin(): PluginScope | undefined {
  return context.getStore();
}

/**
 * For a process's 'uncaughtException' handler: if the code that failed was a plugin's (or was
 * scheduled by a plugin), logs the error as that plugin's and returns true, and the process may
 * go on; otherwise returns false and the caller does what it does with any other error.
 */
export function containPluginError(error: unknown, origin?: string): boolean {
  const scope = context.getStore();
  if (scope === undefined) return false;
  const what = origin === 'unhandledRejection' ? 'a promise it left rejected' : 'code it scheduled threw';
  try {
    scope.fail(`plugin code failed where nothing caught it (${what}); the server goes on`, error, { origin });
  } catch {
    // Logging failed too; the error was still the plugin's, and the logger reports its own trouble.
  }
  return true;
}

/** Makes `queueMicrotask` keep the plugin context for what it reports (once per process). */
export function containMicrotasks(): void {
  if (slots[MICROTASKS]) return;
  slots[MICROTASKS] = true;
  const queue = globalThis.queueMicrotask;
  globalThis.queueMicrotask = function queueMicrotask(callback: () => void): void {
    const scope = context.getStore();
    if (scope === undefined || typeof callback !== 'function') return queue(callback);
    queue(() => {
      try {
        callback();
      } catch (error) {
        scope.fail('plugin code failed where nothing caught it (a queued microtask threw); the server goes on', error);
      }
    });
  };
}

/**
 * A view of `target` whose methods run outside plugin contexts (for the logger a plugin gets);
 * objects its `child` method returns are wrapped the same way.
 */
export function outsidePluginsView<T extends object>(target: T): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = outsidePlugins(() => (value as (...a: unknown[]) => unknown).apply(object, args));
        return property === 'child' && typeof result === 'object' && result !== null
          ? outsidePluginsView(result)
          : result;
      };
    },
    set(object, property, value) {
      return Reflect.set(object, property, value, object);
    },
  });
}
