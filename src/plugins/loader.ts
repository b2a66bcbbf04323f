/**
 * Finds and imports plugin modules listed in config.toml. A path (./x, ../x, /x) is relative to
 * the config file; anything else is a package name resolved from there. TypeScript files are
 * compiled on the fly by tsx (esbuild), which also lowers standard decorators for Node 20;
 * JavaScript files are imported as they are.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPluginClass, type Plugin } from './plugin.js';

export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Where a module specifier points, seen from the config file's directory. */
export function resolvePluginPath(specifier: string, configDirectory: string): string {
  if (specifier.startsWith('./') || specifier.startsWith('../') || isAbsolute(specifier)) {
    return resolve(configDirectory, specifier);
  }
  try {
    return createRequire(resolve(configDirectory, 'config.toml')).resolve(specifier);
  } catch {
    throw new PluginLoadError(`plugin "${specifier}": no such package (looked from ${configDirectory})`);
  }
}

async function importFile(path: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT.has(extname(path))) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** Imports a plugin module and returns the plugin classes it exports (default export first). */
export async function loadPluginClasses(specifier: string, configDirectory: string): Promise<Array<new () => Plugin>> {
  const path = resolvePluginPath(specifier, configDirectory);
  let exports: Record<string, unknown>;
  try {
    exports = await importFile(path);
  } catch (error) {
    // A missing import inside the plugin is also ERR_MODULE_NOT_FOUND: say which one it is.
    const reason = !existsSync(path) ? 'file not found' : String((error as Error).message ?? error).split('\n')[0];
    throw new PluginLoadError(`plugin "${specifier}" (${path}): cannot load: ${reason}`, { cause: error });
  }
  const classes = [
    exports.default,
    ...Object.entries(exports)
      .filter(([key]) => key !== 'default')
      .map(([, value]) => value),
  ];
  const plugins = [...new Set(classes.filter(isPluginClass))];
  if (plugins.length === 0) {
    throw new PluginLoadError(`plugin "${specifier}" (${path}): exports no class that extends Plugin`);
  }
  return plugins;
}

export function configDirectoryOf(configPath: string | undefined): string {
  return configPath === undefined ? process.cwd() : dirname(resolve(configPath));
}
