/** The orchestrator's handle on the load-generator child process (see loadgen.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromLoadGen, ToLoadGen } from './ipc.js';
import { sleep } from './stats.js';

type Reply<T extends FromLoadGen['type']> = Extract<FromLoadGen, { type: T }>;

export class LoadGenChild {
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private readonly listeners = new Set<(message: FromLoadGen) => void>();
  private fatal: string | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        resolve();
      });
    });
    child.on('message', (raw) => {
      const message = raw as FromLoadGen;
      if (message.type === 'fatal') this.fatal = message.message;
      for (const listener of [...this.listeners]) listener(message);
    });
    child.on('error', () => {
      // Reported through the exit / time-outs.
    });
  }

  static start(): LoadGenChild {
    const entry = fileURLToPath(new URL('./loadgen.js', import.meta.url));
    const child = fork(entry, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      execArgv: [],
    });
    if (child.pid === undefined) throw new Error('could not start the load generator');
    return new LoadGenChild(child, child.pid);
  }

  get running(): boolean {
    return !this.exited;
  }

  post(message: ToLoadGen): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  /** Waits for a message of `type` (calling `onOther` for the others), for at most `timeoutMs`. */
  waitFor<T extends FromLoadGen['type']>(
    type: T,
    timeoutMs: number,
    onOther?: (message: FromLoadGen) => void,
  ): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`load generator: no '${type}' within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const exitCheck = setInterval(() => {
        if (this.exited) finish(new Error(`load generator exited${this.fatal ? `: ${this.fatal}` : ''}`));
      }, 200);
      const listener = (message: FromLoadGen) => {
        if (message.type === 'fatal') finish(new Error(`load generator failed: ${message.message}`));
        else if (message.type === type) finish(undefined, message as Reply<T>);
        else onOther?.(message);
      };
      const finish = (error: Error | undefined, value?: Reply<T>) => {
        clearTimeout(timer);
        clearInterval(exitCheck);
        this.listeners.delete(listener);
        if (error !== undefined) reject(error);
        else resolve(value!);
      };
      this.listeners.add(listener);
    });
  }

  request<T extends FromLoadGen['type']>(message: ToLoadGen, replyType: T, timeoutMs: number): Promise<Reply<T>> {
    const reply = this.waitFor(replyType, timeoutMs);
    this.post(message);
    return reply;
  }

  /** Asks it to close everything and exit; SIGKILL (by PID) if it has not within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    this.post({ type: 'exit' });
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
