/**
 * Finds and imports plugin modules listed in config.toml. A path (./x, ../x, /x) is relative to
 * the config file; anything else is a package name resolved from there. TypeScript files are
 * compiled on the fly by tsx (esbuild), which also lowers standard decorators for Node 20;
 * JavaScript files are imported as they are.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPluginClass, type Plugin } from './plugin.js';

export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Picks the file an `exports` entry gives to `import` (conditions: import, node, default). */
function exportTarget(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (entry === null || typeof entry !== 'object') return undefined;
  const conditions = entry as Record<string, unknown>;
  if ('.' in conditions) return exportTarget(conditions['.']);
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget(conditions[condition]);
    if (target !== undefined) return target;
  }
  return undefined;
}

/**
 * Finds an installed package's ES module entry by walking up node_modules folders, for packages
 * that `require.resolve` cannot see because they only export an "import" condition.
 */
function resolveEsmPackage(name: string, from: string): string | undefined {
  for (let directory = from; ; directory = dirname(directory)) {
    const manifestPath = join(directory, 'node_modules', name, 'package.json');
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: unknown; main?: string };
      const entry = exportTarget(manifest.exports) ?? manifest.main ?? 'index.js';
      return resolve(dirname(manifestPath), entry);
    }
    if (dirname(directory) === directory) return undefined;
  }
}

/** Where a module specifier points, seen from the config file's directory. */
export function resolvePluginPath(specifier: string, configDirectory: string): string {
  if (specifier.startsWith('./') || specifier.startsWith('../') || isAbsolute(specifier)) {
    return resolve(configDirectory, specifier);
  }
  try {
    return createRequire(resolve(configDirectory, 'config.toml')).resolve(specifier);
  } catch {
    const esm = resolveEsmPackage(specifier, configDirectory);
    if (esm !== undefined) return esm;
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
