/**
 * Starting and stopping the ghost server under test as a child process (`node dist/index.js`,
 * the product build, as `npm start` runs it) with a temporary config and a fresh database in a
 * temporary folder, and reading what it prints. Only the child started here is ever signalled,
 * by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './stats.js';

export interface ServerOptions {
  host: string;
  tickIntervalMs: number;
  maxDatagramBytes?: number;
  /** More settings as "section.key=value" (value in TOML syntax). */
  extraSettings?: string[];
  startTimeoutMs: number;
  /** Turn on the server's HTTP endpoint (loopback, a free port, no token) to read /metrics. */
  metrics?: boolean;
  /** Keep the server's console (its standard input) open for `command()`. */
  console?: boolean;
}

/** What the server logged (warn and above) that the benchmark tallies. */
export interface ServerLogTally {
  lines: number;
  byMessage: Map<string, number>;
  last: string[];
}

export class ServerProcess {
  private exited = false;
  exitCode: number | null = null;
  readonly log: ServerLogTally = { lines: 0, byMessage: new Map(), last: [] };
  private readonly exitPromise: Promise<void>;
  /** Waiting for the answer of the console command in progress (the next line that is not a log line). */
  private consoleWaiter: ((line: string) => void) | undefined;
  private consoleQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
    readonly port: number,
    private readonly host: string,
    private readonly dir: string,
    /** The server's database file (in `dir` unless `--server-config database.path` moved it). */
    readonly databasePath: string,
    /** The port of its HTTP endpoint, when `metrics` was asked for. */
    readonly httpPort: number | undefined,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code ?? (signal !== null ? 128 : null);
        resolve();
      });
    });
    let pending = '';
    const onOutput = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        this.onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
      if (pending.length > 64 * 1024) pending = '';
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    // A write to the console of a server that has just exited: its exit says what happened.
    child.stdin?.on('error', () => undefined);
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let key = line.slice(0, 80);
    try {
      const entry = JSON.parse(line) as { msg?: string; reason?: string; violation?: string };
      key = [entry.msg, entry.reason ?? entry.violation].filter((part) => part !== undefined).join(': ');
    } catch {
      // Not a JSON log line: a console command's answer, or something else (e.g. a crash on
      // stderr), tallied by its start.
      if (this.consoleWaiter !== undefined) {
        const waiter = this.consoleWaiter;
        this.consoleWaiter = undefined;
        waiter(line);
        return;
      }
    }
    this.log.lines++;
    this.log.byMessage.set(key, (this.log.byMessage.get(key) ?? 0) + 1);
    this.log.last.push(line.slice(0, 400));
    if (this.log.last.length > 20) this.log.last.shift();
  }

  get running(): boolean {
    return !this.exited;
  }

  /**
   * The server's counters from GET /metrics (Prometheus text), as "name{labels}" → value: only
   * `_total` counters, without the per-packet-type traffic and the process (CPU) ones. Undefined
   * if there is no HTTP endpoint or it did not answer within `timeoutMs` (a stalled server does
   * not).
   */
  async counters(timeoutMs = 3000): Promise<Map<string, number> | undefined> {
    if (this.httpPort === undefined || this.exited) return undefined;
    try {
      const response = await fetch(`http://${this.host}:${this.httpPort}/metrics`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) return undefined;
      const counters = new Map<string, number>();
      for (const line of (await response.text()).split('\n')) {
        const match = /^(ghosting_\w+_total)(\{[^}]*\})? (\S+)$/.exec(line);
        if (match === null || /^ghosting_((packets|bytes)_(in|out)_total|process_)/.test(match[1]!)) continue;
        const value = Number(match[3]);
        if (Number.isFinite(value)) counters.set(match[1]! + (match[2] ?? ''), value);
      }
      return counters;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs a command at the server's console (any command of the registry, with admin rights) and
   * resolves with the first line it printed; a failure's line starts with "error: ". Needs
   * `console: true`. One command at a time.
   */
  command(line: string, timeoutMs = 10_000): Promise<string> {
    const run = async () => {
      const stdin = this.child.stdin;
      if (stdin === null || stdin.destroyed || this.exited) throw new Error('the server has no console open');
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.consoleWaiter = undefined;
          reject(new Error(`no answer to "${line}" at the server's console within ${timeoutMs} ms`));
        }, timeoutMs);
        this.consoleWaiter = (answer) => {
          clearTimeout(timer);
          resolve(answer);
        };
        stdin.write(`${line}\n`);
      });
    };
    const result = this.consoleQueue.then(run, run);
    this.consoleQueue = result.catch(() => undefined);
    return result;
  }

  /** A JSON request to the server's HTTP API (needs `metrics: true`): its status and parsed body. */
  async api(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    timeoutMs = 10_000,
  ): Promise<{ status: number; body: unknown }> {
    if (this.httpPort === undefined) throw new Error('the server has no HTTP endpoint');
    const response = await fetch(`http://${this.host}:${this.httpPort}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: handed back as text.
    }
    return { status: response.status, body: parsed };
  }

  static async start(options: ServerOptions): Promise<ServerProcess> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await findFreePort(options.host);
      const dir = mkdtempSync(join(tmpdir(), 'ghosting-bench-'));
      const configPath = join(dir, 'bench.toml');
      const databasePath = databasePathSetting(options.extraSettings) ?? join(dir, 'ghosting.db');
      const httpPort = options.metrics ? await findFreePort(options.host) : undefined;
      writeFileSync(configPath, configText(options, databasePath, httpPort));
      const entry = serverEntry();
      // BENCH_SERVER_NODE_ARGS passes node flags to the server only, e.g. "--cpu-prof".
      const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
      const child = spawn(process.execPath, [...nodeArgs, entry, '--port', String(port), '--config', configPath], {
        stdio: [options.console ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
      if (child.pid === undefined) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error('could not start the server process');
      }
      const server = new ServerProcess(child, child.pid, port, options.host, dir, databasePath, httpPort);
      try {
        await server.waitUntilListening(options.host, options.startTimeoutMs);
        return server;
      } catch (error) {
        lastError = error as Error;
        await server.stop();
        // Status 2 is a bad command line or config: trying another port will not help.
        if (server.exitCode === 2) break;
      }
    }
    throw lastError ?? new Error('could not start the server');
  }

  private async waitUntilListening(host: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.exited) throw new Error(`server exited with status ${this.exitCode}: ${this.log.last.join(' | ')}`);
      if (await canConnect(host, this.port, 500)) return;
      await sleep(100);
    }
    throw new Error(`server did not accept connections within ${timeoutMs} ms`);
  }

  /**
   * SIGTERM, then SIGKILL if it has not exited within `graceMs`; always removes the temp folder
   * (config and database), after calling `beforeRemove` once the server has exited.
   */
  async stop(graceMs = 6000, beforeRemove?: () => void): Promise<void> {
    try {
      if (!this.exited) {
        signal(this.pid, 'SIGTERM');
        await Promise.race([this.exitPromise, sleep(graceMs)]);
      }
      if (!this.exited) {
        signal(this.pid, 'SIGKILL');
        await Promise.race([this.exitPromise, sleep(3000)]);
      }
      beforeRemove?.();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Last-resort synchronous kill (process 'exit' handler). */
  killNow(): void {
    if (!this.exited) signal(this.pid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * The product build this harness measures: `dist/index.js` at the repository root. This file is
 * built to `dist-bench/bench/server-process.js`, two levels below it.
 */
export function serverEntry(): string {
  return fileURLToPath(new URL('../../dist/index.js', import.meta.url));
}

/** Whether the product build exists (`npm run bench` builds it first; `node dist-bench/...` does not). */
export function serverBuilt(): boolean {
  return existsSync(serverEntry());
}

/**
 * The temporary config. The database is a fresh file in the step's temporary folder (on the same
 * filesystem as the system's temp dir), so that every step starts empty, the repository's own
 * `data/` is never touched, and what the server stores (finishes, races) goes through the real
 * SQLite write path. `--server-config database.path="..."` puts it elsewhere.
 */
/** The value of a `database.path=...` setting given on the command line, if any (a TOML string). */
function databasePathSetting(settings: string[] | undefined): string | undefined {
  const setting = settings?.findLast((entry) => entry.startsWith('database.path='));
  if (setting === undefined) return undefined;
  const value = setting.slice('database.path='.length).trim();
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : undefined;
  } catch {
    return value.startsWith("'") && value.endsWith("'") ? value.slice(1, -1) : undefined;
  }
}

function configText(options: ServerOptions, databasePath: string, httpPort: number | undefined): string {
  const sections = new Map<string, string[]>([
    ['server', [`hostname = "${options.host}"`]],
    ['timing', [`tick_interval_ms = ${options.tickIntervalMs}`]],
    // The countdown pinger times one confirm round trip after another, far more often than a
    // player confirms countdowns: it must not meet the per-client confirm limit.
    ['limits', ['countdown_confirm_per_second = 0']],
    ['logging', ['level = "warn"', 'console = true', 'file = false']],
    // Never log a bot in from a benchmark, whatever DISCORD_TOKEN the shell has.
    ['discord', ['enabled = false']],
    ['database', [`path = ${JSON.stringify(databasePath)}`]],
  ]);
  if (httpPort !== undefined)
    sections.set('http', ['enabled = true', `hostname = "${options.host}"`, `port = ${httpPort}`, 'token = ""']);
  if (options.maxDatagramBytes !== undefined)
    sections.get('limits')!.push(`max_datagram_bytes = ${options.maxDatagramBytes}`);
  for (const setting of options.extraSettings ?? []) {
    const dot = setting.indexOf('.');
    const section = setting.slice(0, dot);
    const [key, ...value] = setting.slice(dot + 1).split('=');
    const lines = sections.get(section) ?? [];
    sections.set(section, lines);
    // A later setting of the same key replaces the default written above.
    const existing = lines.findIndex((line) => line.startsWith(`${key} =`));
    if (existing >= 0) lines.splice(existing, 1);
    lines.push(`${key} = ${value.join('=')}`);
  }
  const text = ['# Written by the benchmark (bench/server-process.ts); removed when the step ends.'];
  for (const [section, lines] of sections) if (lines.length > 0) text.push('', `[${section}]`, ...lines);
  return text.join('\n') + '\n';
}

function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    // The server closes a socket that sends nothing within its handshake timeout; we close first.
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A port free for both TCP and UDP on `host` (the server needs both). */
export async function findFreePort(host: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ port: 0, host, exclusive: true }, () => {
        const bound = (server.address() as { port: number }).port;
        server.close(() => resolve(bound));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, host, () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found for TCP and UDP');
}
