/**
 * The orchestrator's handle on a helper process it forks and drives over IPC: the load
 * generator (loadgen.ts), the countdown pinger (pinger.ts) or the /live viewers (viewers.ts).
 * Each speaks its own messages (ipc.ts); all send `{ type: 'fatal' }` when they cannot go on and
 * exit on `{ type: 'exit' }`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromLoadGen, FromPinger, FromViewers, ToLoadGen, ToPinger, ToViewers } from './ipc.js';
import { sleep } from './stats.js';

interface Message {
  type: string;
}
type Fatal = { type: 'fatal'; message: string };
type Reply<From extends Message, T extends From['type']> = Extract<From, { type: T }>;

export class BenchChild<To extends Message, From extends Message> {
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private readonly listeners = new Set<(message: From) => void>();
  private fatal: string | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
    private readonly label: string,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        resolve();
      });
    });
    child.on('message', (raw) => {
      const message = raw as From;
      if (message.type === 'fatal') this.fatal = (message as unknown as Fatal).message;
      for (const listener of [...this.listeners]) listener(message);
    });
    child.on('error', () => {
      // Reported through the exit / time-outs.
    });
  }

  /** Forks `dist/bench/<file>`; `label` names it in errors ("load generator"). */
  static start<To extends Message, From extends Message>(file: string, label: string): BenchChild<To, From> {
    const entry = fileURLToPath(new URL(`./${file}`, import.meta.url));
    const child = fork(entry, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      execArgv: [],
    });
    if (child.pid === undefined) throw new Error(`could not start the ${label}`);
    return new BenchChild<To, From>(child, child.pid, label);
  }

  get running(): boolean {
    return !this.exited;
  }

  post(message: To): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  /** Waits for a message of `type` (calling `onOther` for the others), for at most `timeoutMs`. */
  waitFor<T extends From['type']>(
    type: T,
    timeoutMs: number,
    onOther?: (message: From) => void,
  ): Promise<Reply<From, T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`${this.label}: no '${type}' within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const exitCheck = setInterval(() => {
        if (this.exited) finish(new Error(`${this.label} exited${this.fatal ? `: ${this.fatal}` : ''}`));
      }, 200);
      const listener = (message: From) => {
        if (message.type === 'fatal')
          finish(new Error(`${this.label} failed: ${(message as unknown as Fatal).message}`));
        else if (message.type === type) finish(undefined, message as Reply<From, T>);
        else onOther?.(message);
      };
      const finish = (error: Error | undefined, value?: Reply<From, T>) => {
        clearTimeout(timer);
        clearInterval(exitCheck);
        this.listeners.delete(listener);
        if (error !== undefined) reject(error);
        else resolve(value!);
      };
      this.listeners.add(listener);
    });
  }

  request<T extends From['type']>(message: To, replyType: T, timeoutMs: number): Promise<Reply<From, T>> {
    const reply = this.waitFor(replyType, timeoutMs);
    this.post(message);
    return reply;
  }

  /** Asks it to close everything and exit; SIGKILL (by PID) if it has not within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    this.post({ type: 'exit' } as To);
    await Promise.race([this.exitPromise, sleep(graceMs)]);
    if (!this.exited) {
      this.killNow();
      await Promise.race([this.exitPromise, sleep(3000)]);
    }
  }

  killNow(): void {
    if (this.exited) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export type LoadGenChild = BenchChild<ToLoadGen, FromLoadGen>;
export const startLoadGenerator = (): LoadGenChild =>
  BenchChild.start<ToLoadGen, FromLoadGen>('loadgen.js', 'load generator');

export type PingerChild = BenchChild<ToPinger, FromPinger>;
export const startPinger = (): PingerChild => BenchChild.start<ToPinger, FromPinger>('pinger.js', 'countdown pinger');

export type ViewersChild = BenchChild<ToViewers, FromViewers>;
export const startViewers = (): ViewersChild =>
  BenchChild.start<ToViewers, FromViewers>('viewers.js', 'viewer process');
