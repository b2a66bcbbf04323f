/**
 * The main thread's side of the write thread (src/db/write-worker.ts): every change to the
 * database is sent there as a named operation (src/db/operations.ts) and answered once it is
 * committed, so the tick never waits for the disk.
 *
 * - Bounded: at most `maxQueuedWrites` writes wait for an answer; past that a new write is
 *   refused at once with a DatabaseError (and counted), never buffered without bound.
 * - Acknowledged means committed (synchronous = FULL): a caller that awaited `run` can say
 *   "done", and it survives kill -9 or a power cut.
 * - Failures are DatabaseErrors naming the file and the reason. The writer logs a failure once
 *   (not once per write while the disk stays full), then once more when writes work again.
 * - If the thread stops (a crash), every waiting and later write fails with one clear error,
 *   logged once; nothing waits forever.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import type { FileIdentity } from './connection.js';
import { DatabaseError } from './errors.js';
import type { ArgsOf, OperationName, ResultOf } from './operations.js';

/** What the thread is started with. */
export interface WriterData {
  /** The file to open (a temporary file for ":memory:"). */
  path: string;
  /** The path as the operator wrote it, for messages. */
  label: string;
  /** The file the main thread opened: the thread must open the same one. */
  identity?: FileIdentity;
}

export type ToWriter =
  | { type: 'write'; seq: number; name: string; args: unknown }
  | { type: 'backup'; seq: number; destination: string }
  | { type: 'close' };

export type WriteResult = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; message: string };

export type FromWriter =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'done'; results: WriteResult[]; broken?: string }
  | { type: 'backup'; seq: number; ok: true; bytes: number }
  | { type: 'backup'; seq: number; ok: false; message: string }
  | { type: 'closed' };

/** Counters for /metrics. */
export interface WriteStats {
  /** Writes sent to the thread and not answered yet. */
  readonly queued: number;
  /** Writes committed. */
  readonly committed: number;
  /** Writes that failed: the operation, its batch's commit, or the thread. */
  readonly failed: number;
  /** Writes refused because `max_queued_writes` were already waiting. */
  readonly refused: number;
  /** Transactions the thread ran (each holds every write queued since the one before). */
  readonly batches: number;
}

export interface WriterOptions {
  data: WriterData;
  maxQueuedWrites: number;
  logger?: Logger;
}

/** How long close() waits for the thread to write what is queued before giving up on it. */
const CLOSE_TIMEOUT_MS = 10_000;

type State = 'starting' | 'ready' | 'failed' | 'dead' | 'closing' | 'closed';

interface Waiting {
  name: string;
  resolve(value: unknown): void;
  reject(error: DatabaseError): void;
}

export class Writer {
  private readonly worker: Worker;
  private readonly label: string;
  private readonly log: Logger | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private readonly backups = new Map<number, Waiting>();
  private readonly flushes: { upTo: number; resolve(): void }[] = [];
  private readonly counts = { committed: 0, failed: 0, refused: 0, batches: 0 };
  private state: State = 'starting';
  /** Why writes fail now, once the thread is gone or closing. */
  private stopReason: string | undefined;
  private seq = 0;
  private readonly opened: Promise<void>;
  private closing: Promise<void> | undefined;
  private exited!: () => void;
  private readonly exit = new Promise<void>((resolve) => (this.exited = resolve));
  private crash: string | undefined;
  /** The failure last logged while writes keep failing, and how many failed since. */
  private failing: { message: string; count: number } | undefined;
  private refusing = false;

  constructor(private readonly options: WriterOptions) {
    this.label = options.data.label;
    this.log = options.logger;
    this.worker = spawnWriteThread(options.data);
    let opened!: () => void;
    let notOpened!: (error: DatabaseError) => void;
    this.opened = new Promise<void>((resolve, reject) => {
      opened = resolve;
      notOpened = reject;
    });
    // Whoever awaits ready() sees the failure; nobody awaiting it is not an unhandled rejection.
    this.opened.catch(() => {});
    this.worker.on('message', (message: FromWriter) => {
      switch (message.type) {
        case 'ready':
          if (this.state === 'starting') this.state = 'ready';
          opened();
          break;
        case 'failed':
          this.state = 'failed';
          this.stopReason = message.message;
          notOpened(new DatabaseError(message.message));
          this.failEverything(message.message);
          break;
        case 'done':
          this.settle(message.results);
          if (message.broken !== undefined) this.stopReason ??= message.broken;
          break;
        case 'backup': {
          const backup = this.backups.get(message.seq);
          this.backups.delete(message.seq);
          if (message.ok) backup?.resolve(message.bytes);
          else backup?.reject(new DatabaseError(message.message));
          break;
        }
        case 'closed':
          break;
      }
      this.updateRef();
    });
    this.worker.on('error', (error) => {
      this.crash = error.message;
    });
    this.worker.on('exit', (code) => {
      const wasStarting = this.state === 'starting';
      if (this.state !== 'closing' && this.state !== 'failed' && this.state !== 'closed') {
        this.state = 'dead';
        const why = this.crash ?? `exit status ${code}`;
        this.stopReason = `database ${this.label}: the write thread stopped (${why}); changes cannot be saved until the server restarts`;
        this.log?.error({ reason: why }, this.stopReason);
        if (wasStarting) notOpened(new DatabaseError(this.stopReason));
      }
      this.failEverything(this.stopReason ?? `database ${this.label} is closed`);
      this.exited();
    });
    this.updateRef();
  }

  /** Resolves once the thread has opened the file and committed a probe write; else rejects. */
  ready(): Promise<void> {
    return this.opened;
  }

  get stats(): WriteStats {
    return { queued: this.waiting.size, ...this.counts };
  }

  /**
   * Queues one operation; the promise resolves with its result once committed and rejects with
   * a DatabaseError if it is not. Throws a DatabaseError at once when the write is refused (the
   * queue is full, the thread stopped, the store is closed).
   */
  submit<N extends OperationName>(name: N, args: ArgsOf<N>): Promise<ResultOf<N>> {
    if (this.stopReason !== undefined || this.state === 'closing' || this.state === 'closed') {
      const message = this.stopReason ?? `database ${this.label} is closed`;
      this.counts.failed++;
      throw new DatabaseError(message);
    }
    if (this.waiting.size >= this.options.maxQueuedWrites) {
      this.counts.refused++;
      if (!this.refusing) {
        this.refusing = true;
        this.log?.warn(
          { maxQueuedWrites: this.options.maxQueuedWrites },
          'database write queue is full; refusing writes until it drains ([database] max_queued_writes)',
        );
      }
      throw new DatabaseError(
        `database ${this.label}: write refused: ${this.options.maxQueuedWrites} writes are already waiting for the disk`,
      );
    }
    if (this.refusing) {
      this.refusing = false;
      this.log?.info({ refused: this.counts.refused }, 'database write queue has room again');
    }
    const seq = ++this.seq;
    const result = new Promise<ResultOf<N>>((resolve, reject) => {
      this.waiting.set(seq, { name, resolve: resolve as (value: unknown) => void, reject });
    });
    try {
      this.worker.postMessage({ type: 'write', seq, name, args } satisfies ToWriter);
    } catch (error) {
      // Arguments that cannot be sent to the thread (a bug): this write fails alone.
      this.waiting.delete(seq);
      this.counts.failed++;
      throw new DatabaseError(`database ${this.label}: cannot queue ${name}: ${(error as Error).message}`);
    }
    this.updateRef();
    return result;
  }

  /** submit() for callers that await the result: a refusal is a rejection too. */
  async run<N extends OperationName>(name: N, args: ArgsOf<N>): Promise<ResultOf<N>> {
    return this.submit(name, args);
  }

  /**
   * For writes nobody waits for (finishes, audit lines): resolves with the result, or with
   * undefined if the write failed or was refused — the writer has logged that already.
   */
  fire<N extends OperationName>(name: N, args: ArgsOf<N>): Promise<ResultOf<N> | undefined> {
    try {
      return this.submit(name, args).catch(() => undefined);
    } catch {
      return Promise.resolve(undefined);
    }
  }

  /** Resolves once every write submitted so far has been answered. */
  flush(): Promise<void> {
    const upTo = this.seq;
    if (this.oldestWaiting() > upTo) return Promise.resolve();
    return new Promise((resolve) => this.flushes.push({ upTo, resolve }));
  }

  /**
   * Copies the database into `destination` with SQLite's online backup, on the write thread
   * (writes go on meanwhile and are in the copy). Never overwrites: the file must not exist.
   * Resolves with the copy's size in bytes.
   */
  backup(destination: string): Promise<number> {
    if (this.stopReason !== undefined && this.state !== 'ready') {
      return Promise.reject(new DatabaseError(this.stopReason));
    }
    if (this.state === 'closing' || this.state === 'closed') {
      return Promise.reject(new DatabaseError(`database ${this.label} is closed`));
    }
    const seq = ++this.seq;
    const result = new Promise<number>((resolve, reject) => {
      this.backups.set(seq, { name: 'backup', resolve: resolve as (value: unknown) => void, reject });
    });
    this.worker.postMessage({ type: 'backup', seq, destination } satisfies ToWriter);
    this.updateRef();
    return result;
  }

  /**
   * Lets the thread commit what is queued, then stops it. Writes after this fail. If the thread
   * has not finished within 10 s (a hung disk), it is abandoned and the writes still waiting
   * fail. Never rejects; safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.state === 'failed' || this.state === 'dead') {
        await this.exit;
        this.state = 'closed';
        return;
      }
      this.state = 'closing';
      this.worker.postMessage({ type: 'close' } satisfies ToWriter);
      this.updateRef();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS);
      });
      const late = await Promise.race([this.exit.then(() => false), timedOut]);
      clearTimeout(timer);
      if (late) {
        const message = `database ${this.label}: the write thread did not finish within ${CLOSE_TIMEOUT_MS / 1000} s; writes still waiting are lost`;
        this.log?.error({ waiting: this.waiting.size }, message);
        this.failEverything(message);
        void this.worker.terminate();
      }
      this.state = 'closed';
    })();
    return this.closing;
  }

  /**
   * Stops the thread at once, as a crash would: waiting and later writes fail. Only for when
   * the thread cannot be trusted any more, and for tests of that path.
   */
  async kill(): Promise<void> {
    await this.worker.terminate();
    await this.exit;
  }

  private settle(results: WriteResult[]): void {
    let committed = false;
    this.counts.batches++;
    for (const result of results) {
      const waiting = this.waiting.get(result.seq);
      this.waiting.delete(result.seq);
      if (result.ok) {
        this.counts.committed++;
        committed = true;
        waiting?.resolve(result.value);
      } else {
        this.noteFailure(result.message, waiting?.name);
        waiting?.reject(new DatabaseError(result.message));
      }
    }
    if (committed) {
      if (this.failing !== undefined) {
        this.log?.info({ failed: this.failing.count }, 'database writes work again');
        this.failing = undefined;
      }
    }
    this.resolveFlushes();
  }

  private noteFailure(message: string, operation: string | undefined): void {
    this.counts.failed++;
    if (this.failing?.message === message) {
      this.failing.count++;
      return;
    }
    this.failing = { message, count: 1 };
    this.log?.error({ operation }, message);
  }

  private failEverything(message: string): void {
    for (const [seq, waiting] of [...this.waiting, ...this.backups]) {
      this.waiting.delete(seq);
      this.backups.delete(seq);
      if (waiting.name !== 'backup') this.counts.failed++;
      waiting.reject(new DatabaseError(message));
    }
    this.resolveFlushes();
    this.updateRef();
  }

  private oldestWaiting(): number {
    for (const seq of this.waiting.keys()) return seq;
    return Infinity;
  }

  private resolveFlushes(): void {
    const oldest = this.oldestWaiting();
    for (let i = this.flushes.length - 1; i >= 0; i--) {
      const flush = this.flushes[i]!;
      if (oldest > flush.upTo) {
        this.flushes.splice(i, 1);
        // After the writes' own callbacks (an audit entry leaving the pending list) have run.
        setImmediate(flush.resolve);
      }
    }
  }

  /** The thread keeps the process alive only while something waits for it. */
  private updateRef(): void {
    const busy =
      this.state === 'starting' || this.state === 'closing' || this.waiting.size > 0 || this.backups.size > 0;
    if (busy) this.worker.ref();
    else this.worker.unref();
  }
}

/** The thread's code bundled from the TypeScript sources, made once per process. */
let bundledFromSources: string | undefined;

/**
 * Compiled, the thread is `write-worker.js` beside this file. Run from the TypeScript sources
 * (the tests), its sources are bundled once per process with esbuild (which tsx brings) and run
 * as an eval'd thread: loading tsx in a thread takes over a second, and the suite opens hundreds
 * of databases.
 */
function spawnWriteThread(workerData: WriterData): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./write-worker.js', import.meta.url), { workerData });
  }
  bundledFromSources ??= bundleWriteThread();
  return new Worker(bundledFromSources, { eval: true, workerData });
}

function bundleWriteThread(): string {
  const here = fileURLToPath(import.meta.url);
  const esbuild = createRequire(here)('esbuild') as {
    buildSync(options: Record<string, unknown>): { outputFiles: { text: string }[] };
  };
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [join(dirname(here), 'write-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The native module is loaded from node_modules, resolved from this folder.
    external: ['better-sqlite3'],
    write: false,
    logLevel: 'silent',
  });
  const code = outputFiles[0]!.text;
  return `(function (require, module, exports) {\n${code}\n})(require('node:module').createRequire(${JSON.stringify(here)}), { exports: {} }, {});`;
}
