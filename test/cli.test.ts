/**
 * The real entry point (dist/index.js, built by the global setup) run as a child process.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptionsWithStdioTuple } from 'node:child_process';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../src/config.js';
import { SimClient } from '../src/sim/client.js';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const shippedConfig = fileURLToPath(new URL('../config.toml', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function tempDir(): string {
  return mkdtempSync(joinPath(tmpdir(), 'ghosting-test-'));
}

function writeConfig(text: string): string {
  const path = joinPath(tempDir(), 'config.toml');
  writeFileSync(path, text);
  return path;
}

function run(args: string[], cwd = tempDir()) {
  return spawnSync(process.execPath, [entry, ...args], { cwd, encoding: 'utf8', timeout: 10_000 });
}

interface StartOptions {
  /** Node options before the entry point (e.g. --import of a fault injector). */
  nodeArgs?: string[];
  /** `ulimit -f`: the largest file the server may write, in 512-byte blocks. */
  fileSizeLimitBlocks?: number;
}

interface Started {
  child: ChildProcess;
  port: number;
  /** Standard output and standard error so far. */
  output: () => string;
  /** Resolves once the output (so far or later) matches `pattern`. */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
}

/** Starts the server and resolves with its port once it logs that it is listening. */
function startProcess(args: string[], options: StartOptions = {}): Promise<Started> {
  const command = [...(options.nodeArgs ?? []), entry, ...args];
  const spawnOptions: SpawnOptionsWithStdioTuple<'ignore', 'pipe', 'pipe'> = {
    cwd: tempDir(),
    stdio: ['ignore', 'pipe', 'pipe'],
  };
  const child =
    options.fileSizeLimitBlocks === undefined
      ? spawn(process.execPath, command, spawnOptions)
      : spawn(
          '/bin/sh',
          ['-c', `ulimit -f ${options.fileSizeLimitBlocks} && exec "$0" "$@"`, process.execPath, ...command],
          spawnOptions,
        );
  children.push(child);
  let output = '';
  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      check();
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      output += text;
      const match = /"port":(\d+),"msg":"ghost server listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), output: () => output, waitForOutput });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('configuration', () => {
  it('uses the defaults when there is no config file', () => {
    const { config, loadedFrom } = loadConfig(joinPath(tempDir(), 'config.toml'), { required: false });
    expect(loadedFrom).toBeUndefined();
    expect(config).toEqual(defaultConfig());
    expect(config.server).toMatchObject({ hostname: '0.0.0.0', port: 53000 });
    expect(config.timing).toMatchObject({
      tick_interval_ms: 50,
      heartbeat_interval_ms: 5000,
      udp_keepalive_interval_ms: 1000,
    });
  });

  it('ships a config.toml that spells out exactly the defaults', () => {
    expect(loadConfig(shippedConfig, { required: true }).config).toEqual(defaultConfig());
  });

  it.each([
    ['[server]\nport = "53000"', '[server] port: expected a number, got "53000"'],
    ['[server]\nport = 70000', '[server] port: expected a number ≤ 65535, got number 70000'],
    ['[timing]\ntick_interval_ms = 2.5', '[timing] tick_interval_ms: expected a whole number, got number 2.5'],
    [
      '[logging]\nlevel = "verbose"',
      '[logging] level: expected one of "debug", "info", "warn", "error", "critical", got "verbose"',
    ],
    ['[logging]\nconsole = "yes"', '[logging] console: expected true or false, got "yes"'],
    ['[countdown]\ndelay = 0', '[countdown] delay: expected a number ≥ 1, got number 0'],
    ['[server]\nprot = 1', '[server]: unknown key prot'],
    ['[sever]\nport = 1', 'unknown section [sever]'],
    ['server = 3', '[server]: expected a table, got number 3'],
    ['[countdown]\ndelay = 90', '[countdown] delay: expected at most max_delay (60), got number 90'],
    [
      '[countdown.presets.long]\ndelay = 61',
      '[countdown] presets.long.delay: expected at most max_delay (60), got number 61',
    ],
    ['[countdown.presets.race]\npre_commands = "x"', '[countdown] presets.race.delay: expected a number, got nothing'],
  ])('names the key and the expected type: %s', (text, message) => {
    const path = writeConfig(text);
    expect(() => loadConfig(path, { required: true })).toThrow(new ConfigError(`${path}: ${message}`));
  });
});

describe('command line', () => {
  it('exits with 2 and one clear line for a bad config value', () => {
    const result = run(['--config', writeConfig('[server]\nport = "x"\n')]);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringContaining('[server] port: expected a number, got "x"'),
    ]);
    expect(result.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  it('exits with 2 for invalid TOML, a missing --config file, a bad --port or an unknown option', () => {
    expect(run(['--config', writeConfig('[server\n')]).stderr).toMatch(/not valid TOML at line 1/);
    expect(run(['--config', '/nonexistent/config.toml']).status).toBe(2);
    const badPort = run(['--port', 'abc']);
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toMatch(/--port: expected a whole number/);
    expect(run(['--frobnicate']).status).toBe(2);
  }, 30_000); // four processes: slow on a loaded machine

  it('prints its version and help', () => {
    const version = (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
    expect(run(['--version']).stdout.trim()).toBe(version);
    expect(run(['--help']).stdout).toMatch(/--config <path>/);
  });

  it('exits with 1 and says why when the port is taken', async () => {
    const { port } = await startProcess(['--config', writeConfig('[server]\nhostname = "127.0.0.1"\nport = 0\n')]);
    const second = run(['--config', writeConfig(`[server]\nhostname = "127.0.0.1"\nport = ${port}\n`)]);
    expect(second.status).toBe(1);
    // Whichever of the two sockets is bound first meets the other server.
    expect(second.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^ghosting: cannot (listen on TCP|bind UDP) 127\.0\.0\.1:\d+: the port is already in use$/),
    ]);
  });

  it('exits with 1 naming the file when the database cannot be opened', () => {
    const dir = tempDir();
    const notADatabase = joinPath(dir, 'junk.db');
    writeFileSync(notADatabase, 'this is not an SQLite file, just some text that is long enough to have a header');
    const result = run([
      '--config',
      writeConfig(`[server]\nhostname = "127.0.0.1"\nport = 0\n[database]\npath = ${JSON.stringify(notADatabase)}\n`),
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`ghosting: cannot open database ${notADatabase}: SQLITE_NOTADB`);
  });

  it('serves SAR clients, and on SIGTERM tells them, flushes the log file and exits 0', async () => {
    const dir = tempDir();
    const logFile = joinPath(dir, 'logs', 'ghosting.log');
    const config = writeConfig(
      `[server]\nhostname = "127.0.0.1"\nport = 0\n[logging]\nfile = true\nfilename = ${JSON.stringify(logFile)}\n`,
    );
    const { child, port } = await startProcess(['--config', config]);
    const alice = await SimClient.connect({ host: '127.0.0.1', port, name: 'Alice', map: 'sp_a1_intro1' });
    const bob = await SimClient.connect({ host: '127.0.0.1', port, name: 'Bob', map: 'sp_a1_intro1' });
    try {
      alice.sendMessage('hello from alice');
      expect(await bob.waitFor((p) => p.type === 'message')).toMatchObject({ text: 'hello from alice' });
      await bob.waitFor((p, transport) => p.type === 'bulk_update' && transport === 'udp');

      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      expect(bob.received.some((r) => r.packet.type === 'message' && r.packet.id === 0)).toBe(true);
      await bob.waitForClose(1000);
      const log = readFileSync(logFile, 'utf8');
      expect(log).toContain('"msg":"chat"');
      expect(log).toContain('"msg":"ghost server stopped"');
    } finally {
      alice.close();
      bob.close();
    }
  });

  it('--port overrides the config file', async () => {
    const probe = await startProcess(['--config', writeConfig('[server]\nhostname = "127.0.0.1"\nport = 0\n')]);
    probe.child.kill('SIGTERM');
    await exited(probe.child);
    const { port } = await startProcess([
      '--config',
      writeConfig('[server]\nhostname = "127.0.0.1"\nport = 1\n'),
      '--port',
      String(probe.port),
    ]);
    expect(port).toBe(probe.port);
  });
});

/** A server config on 127.0.0.1 with `[logging] file = true` writing to `logFile`. */
function fileConfig(logFile: string, port = 0, extra = ''): string {
  return writeConfig(
    `[server]\nhostname = "127.0.0.1"\nport = ${port}\n[timing]\nshutdown_timeout_ms = 1000\n` +
      `[logging]\nfile = true\nfilename = ${JSON.stringify(logFile)}\n${extra}`,
  );
}

function linesWith(output: string, text: string): string[] {
  return output.split('\n').filter((line) => line.includes(text));
}

/** Two SAR-like players on the server: chat relayed and bulk updates arriving by UDP. */
async function playersServed(port: number): Promise<void> {
  const alice = await SimClient.connect({ host: '127.0.0.1', port, name: 'Alice', map: 'sp_a1_intro1' });
  const bob = await SimClient.connect({ host: '127.0.0.1', port, name: 'Bob', map: 'sp_a1_intro1' });
  try {
    alice.sendMessage('still served');
    expect(await bob.waitFor((p) => p.type === 'message')).toMatchObject({ text: 'still served' });
    await bob.waitFor((p, transport) => p.type === 'bulk_update' && transport === 'udp');
  } finally {
    alice.close();
    bob.close();
  }
}

function listeningServer(): Promise<Server> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('log file', () => {
  it('exits with 1 and one line when the log file cannot be opened', () => {
    const plainFile = joinPath(tempDir(), 'plain-file');
    writeFileSync(plainFile, '');
    const cases = [
      [joinPath(plainFile, 'ghosting.log'), 'not a directory (ENOTDIR)'],
      // Node's recursive mkdir spins forever here (procfs answers ENOENT for a child of /proc).
      ['/proc/ghosting/ghosting.log', 'cannot create folder /proc/ghosting: no such file or directory (ENOENT)'],
    ];
    for (const [logFile, reason] of cases) {
      const result = run(['--no-cli', '--config', fileConfig(logFile!)]);
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([`ghosting: cannot open log file ${logFile}: ${reason}`]);
      expect(result.stdout).toBe(''); // the file is opened before anything is logged
    }
  }, 30_000);

  it('a start-up failure with a log file is one line, no "sonic boom", and the line is in the file', async () => {
    const taken = await listeningServer();
    try {
      const port = (taken.address() as { port: number }).port;
      const logFile = joinPath(tempDir(), 'logs', 'ghosting.log');
      const result = run(['--no-cli', '--config', fileConfig(logFile, port)]);
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([
        `ghosting: cannot listen on TCP 127.0.0.1:${port}: the port is already in use`,
      ]);
      expect(result.stdout + result.stderr).not.toContain('sonic boom');
      expect(readFileSync(logFile, 'utf8')).toContain(`"msg":"cannot listen on TCP 127.0.0.1:${port}`);
    } finally {
      taken.close();
    }
  }, 30_000);

  it('exits with 1 and one line, no stack trace, when the HTTP port is taken', async () => {
    const taken = await listeningServer();
    try {
      const port = (taken.address() as { port: number }).port;
      const config = writeConfig(
        `[server]\nhostname = "127.0.0.1"\nport = 0\n[http]\nenabled = true\nhostname = "127.0.0.1"\nport = ${port}\n`,
      );
      const result = run(['--no-cli', '--config', config]);
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(`^ghosting: cannot listen on HTTP 127\\.0\\.0\\.1:${port}: the port is already in use$`),
      ]);
      expect(result.stdout + result.stderr).not.toMatch(/\bat .*\.js:\d+/);
    } finally {
      taken.close();
    }
  });

  it('a full disk (/dev/full) is reported once; players are still served; SIGTERM exits 0 in time', async () => {
    const { child, port, output, waitForOutput } = await startProcess([
      '--no-cli',
      '--config',
      fileConfig('/dev/full'),
    ]);
    await waitForOutput(/cannot write log file/);
    await playersServed(port); // connections, chat and map lines: each one more failed write
    await playersServed(port);
    expect(linesWith(output(), 'cannot write log file')).toEqual([
      expect.stringContaining('cannot write log file /dev/full: no space left on device (ENOSPC)'),
    ]);

    const stopping = Date.now();
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(5000);
    expect(linesWith(output(), 'gave up writing the last lines to log file /dev/full')).toHaveLength(1);
    expect(output()).not.toMatch(/\bat .*\.js:\d+/);
  }, 30_000);

  /** Starts the server with a fault injector: SIGUSR2 throws from a callback, as a bug would. */
  async function failingServer(logFile: string): Promise<{ output: () => string; exitCode: number; took: number }> {
    const injector = joinPath(tempDir(), 'throw-on-sigusr2.mjs');
    writeFileSync(
      injector,
      "process.on('SIGUSR2', () => setImmediate(() => { throw new Error('injected failure'); }));\n",
    );
    const { child, port, output } = await startProcess(['--no-cli', '--config', fileConfig(logFile)], {
      nodeArgs: ['--import', pathToFileURL(injector).href],
    });
    await playersServed(port);
    const failing = Date.now();
    child.kill('SIGUSR2');
    const exitCode = await exited(child);
    return { output, exitCode: exitCode!, took: Date.now() - failing };
  }

  it('an unexpected error with a full log disk exits 1 at once', async () => {
    const { output, exitCode, took } = await failingServer('/dev/full');
    expect(exitCode).toBe(1);
    expect(took).toBeLessThan(5000); // one bounded try at the file (1 s at most), never a loop
    expect(linesWith(output(), 'ghosting: unexpected error: injected failure; stopping')).toHaveLength(1);
  }, 30_000);

  it('an unexpected error exits 1 with the fatal line, and its stack, in the log file', async () => {
    const logFile = joinPath(tempDir(), 'ghosting.log');
    const { output, exitCode } = await failingServer(logFile);
    expect(exitCode).toBe(1);
    expect(linesWith(output(), 'ghosting: unexpected error: injected failure; stopping')).toHaveLength(1);
    expect(readFileSync(logFile, 'utf8')).toMatch(
      /"message":"injected failure","stack":"Error: injected failure\\n.*"msg":"unexpected error; stopping"/,
    );
  }, 30_000);

  it('a log file at its size limit is reported once, and again once copytruncate frees it; no line is lost', async () => {
    const logFile = joinPath(tempDir(), 'ghosting.log');
    const limitBlocks = 4096; // `ulimit -f`: 2 MiB
    writeFileSync(logFile, '');
    truncateSync(logFile, limitBlocks * 512); // full up to the limit: every write fails (EFBIG)
    const { child, port, output, waitForOutput } = await startProcess(['--no-cli', '--config', fileConfig(logFile)], {
      fileSizeLimitBlocks: limitBlocks,
    });
    await waitForOutput(/cannot write log file .*: file too large \(EFBIG\)/);
    const alice = await SimClient.connect({ host: '127.0.0.1', port, name: 'Alice', map: 'sp_a1_intro1' });
    const bob = await SimClient.connect({ host: '127.0.0.1', port, name: 'Bob', map: 'sp_a1_intro1' });
    try {
      alice.sendMessage('before the rotation');
      await bob.waitFor((p) => p.type === 'message' && p.text === 'before the rotation');
      truncateSync(logFile, 0); // what logrotate's copytruncate does after copying
      alice.sendMessage('after the rotation');
      await bob.waitFor((p) => p.type === 'message' && p.text === 'after the rotation');
      await waitForOutput(/log file .* is written again; 0 lines were dropped/);
    } finally {
      alice.close();
      bob.close();
    }
    expect(linesWith(output(), 'cannot write log file')).toHaveLength(1);
    expect(linesWith(output(), 'is written again')).toHaveLength(1);
    const lines = readFileSync(logFile, 'utf8').trim().split('\n');
    // Everything held while the file was full came out in order, from the very first line.
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'ghosting starting' });
    const chat = lines.filter((line) => line.includes('"msg":"chat"')).map((line) => JSON.parse(line).text);
    expect(chat).toEqual(['before the rotation', 'after the rotation']);

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  }, 30_000);
});
