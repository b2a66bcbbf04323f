/**
 * Plugin storage: each plugin gets its own key-value namespace, values stored as JSON text.
 *
 * The API stays synchronous for plugins: `set` and `delete` queue the write and return at once,
 * and until it is committed the new value is kept in memory, so `get` and `keys` see it at once.
 * If the write fails (logged by the writer), the stored value shows again. A refused write (the
 * queue is full, the database is closed) throws a DatabaseError from `set`/`delete`.
 */
import { and, eq } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { pluginData } from './schema.js';
import type { Writer } from './writer.js';

export interface PluginDataStore {
  get(plugin: string, key: string): unknown;
  set(plugin: string, key: string, value: unknown): void;
  delete(plugin: string, key: string): boolean;
  keys(plugin: string): string[];
}

/** A value on its way to the disk: its JSON text, or undefined for a delete. */
interface Pending {
  plugin: string;
  key: string;
  text: string | undefined;
}

export function createPluginDataStore(connection: Connection, writer: Writer): PluginDataStore {
  const { orm } = connection;
  const matches = (plugin: string, key: string) => and(eq(pluginData.plugin, plugin), eq(pluginData.key, key));
  const pending = new Map<string, Pending>();
  const id = (plugin: string, key: string) => JSON.stringify([plugin, key]);

  /** Keeps `change` visible until its write is answered, unless a later change replaced it. */
  const track = (change: Pending, written: Promise<unknown>) => {
    const slot = id(change.plugin, change.key);
    pending.set(slot, change);
    const settled = () => {
      if (pending.get(slot) === change) pending.delete(slot);
    };
    written.then(settled, settled);
  };

  const stored = (plugin: string, key: string) =>
    connection.read(() => orm.select().from(pluginData).where(matches(plugin, key)).get())?.value;

  const textOf = (plugin: string, key: string): string | undefined => {
    const change = pending.get(id(plugin, key));
    return change !== undefined ? change.text : stored(plugin, key);
  };

  return {
    get(plugin, key) {
      const text = textOf(plugin, key);
      return text === undefined ? undefined : (JSON.parse(text) as unknown);
    },

    set(plugin, key, value) {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`plugin storage: ${key} cannot be stored as JSON`);
      track({ plugin, key, text }, writer.submit('pluginData.set', { plugin, key, value: text }));
    },

    delete(plugin, key) {
      const existed = textOf(plugin, key) !== undefined;
      track({ plugin, key, text: undefined }, writer.submit('pluginData.delete', { plugin, key }));
      return existed;
    },

    keys(plugin) {
      const keys = new Set(
        connection.read(() =>
          orm
            .select({ key: pluginData.key })
            .from(pluginData)
            .where(eq(pluginData.plugin, plugin))
            .all()
            .map((row) => row.key),
        ),
      );
      for (const change of pending.values()) {
        if (change.plugin !== plugin) continue;
        if (change.text === undefined) keys.delete(change.key);
        else keys.add(change.key);
      }
      return [...keys].sort();
    },
  };
}
