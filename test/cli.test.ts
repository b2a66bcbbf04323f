/**
 * The real entry point (dist/index.js, built by the global setup) run as a child process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** Starts the server and resolves with its port once it logs that it is listening. */
function startProcess(args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [entry, ...args], { cwd: tempDir(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      output += text;
      const match = /"port":(\d+),"msg":"ghost server listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), output: () => output });
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
  });

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
    expect(second.stderr).toMatch(/cannot listen on TCP 127\.0\.0\.1:\d+: the port is already in use/);
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
