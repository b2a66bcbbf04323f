#!/usr/bin/env node
/**
 * `ghosting` / `node dist/index.js`: reads the command line and config.toml, starts the ghost
 * server, and shuts it down cleanly on SIGINT/SIGTERM.
 *
 * Exit status: 0 after a clean shutdown, 1 if the server could not start (or stopped on an
 * unexpected error), 2 for a bad command line or config value (one line on stderr, no stack trace).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createApp, type App } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startConsole } from './console.js';
import { DatabaseError } from './db/database.js';
import { configDirectoryOf, PluginLoadError } from './plugins/loader.js';
import { containPluginError } from './plugins/containment.js';
import { createLogger, LogFileError, type LogOutput } from './logger.js';
import { ServerStartError } from './ghost/server.js';

const USAGE = `Usage: ghosting [options]

A ghost server for SourceAutoRecord (Portal 2).

Options:
  -c, --config <path>  config file (default: ./config.toml if it exists, else built-in defaults)
  -p, --port <port>    TCP and UDP port, overriding [server] port
      --no-cli         do not read commands from standard input
  -h, --help           show this help
  -v, --version        show the version`;

class UsageError extends Error {}

interface Invocation {
  configPath: string;
  configRequired: boolean;
  port?: number;
  console: boolean;
  help: boolean;
  version: boolean;
}

function readInvocation(args: string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        'no-cli': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new UsageError(`--port: expected a whole number from 0 to 65535, got "${values.port}"`);
    }
  }
  return {
    configPath: values.config ?? 'config.toml',
    configRequired: values.config !== undefined,
    ...(port !== undefined ? { port } : {}),
    console: !(values['no-cli'] ?? false),
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

async function main(args: string[]): Promise<number> {
  let invocation: Invocation;
  let config: Config;
  let loadedFrom: string | undefined;
  try {
    invocation = readInvocation(args);
    if (invocation.help) {
      console.log(USAGE);
      return 0;
    }
    if (invocation.version) {
      console.log(packageVersion());
      return 0;
    }
    ({ config, loadedFrom } = loadConfig(invocation.configPath, { required: invocation.configRequired }));
    if (invocation.port !== undefined) config.server.port = invocation.port;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) {
      console.error(`ghosting: ${error.message}`);
      if (error instanceof UsageError) console.error('Run with --help for usage.');
      return 2;
    }
    throw error;
  }

  let logs: LogOutput;
  try {
    logs = createLogger(config.logging);
  } catch (error) {
    if (error instanceof LogFileError) {
      console.error(`ghosting: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const { logger } = logs;
  logger.info({ version: packageVersion(), config: loadedFrom ?? '(built-in defaults)' }, 'ghosting starting');

  // A bug: log it with its stack, give the log file one bounded try, exit 1. A second error
  // while that happens exits at once.
  let failing = false;
  process.on('uncaughtException', (error, origin) => {
    // A plugin's own timer, callback or forgotten promise: logged as that plugin's error (docs/plugins.md).
    if (containPluginError(error, origin)) return;
    if (failing) process.exit(1);
    failing = true;
    try {
      logger.fatal({ err: error }, 'unexpected error; stopping');
      console.error(`ghosting: unexpected error: ${oneLine(error)}; stopping`);
    } catch {
      // Nothing left to report to; exit all the same.
    }
    void logs.close().finally(() => process.exit(1));
  });

  let shutDown: (reason: string) => void = () => {};
  let app: App;
  try {
    const discordToken = process.env.DISCORD_TOKEN;
    app = createApp({
      config,
      logger,
      requestStop: (reason) => shutDown(reason),
      configDirectory: configDirectoryOf(loadedFrom),
      droppedLogLines: () => logs.droppedFileLines,
      ...(discordToken !== undefined ? { discordToken } : {}),
    });
    await app.start();
    // One line with everything an operator checks first.
    logger.info(
      {
        address: `${app.server.hostname}:${app.server.port}`,
        database: app.store.path,
        discord: app.discord.state === 'off' ? 'off' : 'on',
        plugins: app.plugins.loaded.map((loaded) => `${loaded.plugin.name} ${loaded.plugin.version}`),
        http: config.http.enabled ? `${config.http.hostname}:${app.http.port}` : 'off',
      },
      'ghosting ready',
    );
  } catch (error) {
    // One line whatever failed: the known failures say what and where; a system error (an HTTP
    // port in use, say) gets its own words; anything else is a bug and its stack goes to the log.
    const known =
      error instanceof ServerStartError || error instanceof DatabaseError || error instanceof PluginLoadError;
    const message = known ? (error as Error).message : `cannot start: ${oneLine(error)}`;
    if (known || (error as NodeJS.ErrnoException).code !== undefined) logger.fatal(message);
    else logger.fatal({ err: error }, message);
    await logs.close();
    console.error(`ghosting: ${message}`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    shutDown = (reason) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, 'shutting down');
      app.stop(reason).then(
        () => logs.close().then(() => resolve(0)),
        (error: unknown) => {
          logger.error({ err: error }, 'error while shutting down');
          void logs.close().then(() => resolve(1));
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      shutDown(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (invocation.console) {
      // The console keeps running the server after its input ends (a pipe, or /dev/null).
      startConsole(app.commands, {
        input: process.stdin,
        output: process.stdout,
        prompt: process.stdin.isTTY === true,
      });
    }
  });
}

/** An error's message on one line, for stderr: operators get a line, the log gets the stack. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`ghosting: unexpected error: ${oneLine(error)}`);
    process.exit(1);
  },
);
