/**
 * Plugin storage: each plugin gets its own key-value namespace, values stored as JSON text.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { pluginData } from './schema.js';

export interface PluginDataStore {
  get(plugin: string, key: string): unknown;
  set(plugin: string, key: string, value: unknown): void;
  delete(plugin: string, key: string): boolean;
  keys(plugin: string): string[];
}

export function createPluginDataStore(connection: Connection): PluginDataStore {
  const { orm } = connection;
  const matches = (plugin: string, key: string) => and(eq(pluginData.plugin, plugin), eq(pluginData.key, key));
  return {
    get(plugin, key) {
      const row = connection.read(() => orm.select().from(pluginData).where(matches(plugin, key)).get());
      return row === undefined ? undefined : (JSON.parse(row.value) as unknown);
    },

    set(plugin, key, value) {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`plugin storage: ${key} cannot be stored as JSON`);
      connection.write(() => {
        orm.delete(pluginData).where(matches(plugin, key)).run();
        orm.insert(pluginData).values({ plugin, key, value: text }).run();
      });
    },

    delete(plugin, key) {
      return connection.write(() => orm.delete(pluginData).where(matches(plugin, key)).run().changes > 0);
    },

    keys(plugin) {
      return connection.read(() =>
        orm
          .select({ key: pluginData.key })
          .from(pluginData)
          .where(eq(pluginData.plugin, plugin))
          .orderBy(asc(pluginData.key))
          .all()
          .map((row) => row.key),
      );
    },
  };
}
