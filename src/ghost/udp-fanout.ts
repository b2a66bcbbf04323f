/**
 * Sends the tick's bulk updates from worker threads. Sending one datagram costs the main thread
 * 4–8 µs (mostly the system call and, on loopback, the receiver's side of it), so a tick for
 * 2,000 clients kept the event loop busy for 13 ms: every client got its update that much later
 * than the first, and a countdown confirm arriving meanwhile waited as long for its reply.
 * With the sends split over threads the main thread only builds the datagrams.
 *
 * Each thread binds its own UDP socket to the server's address and port with SO_REUSEADDR, so
 * its datagrams leave from the port clients know (NAT mappings depend on it). The threads bind
 * before the main socket: Linux gives incoming unicast datagrams to the socket bound last, and
 * any that reach a thread anyway are handed back to the main thread. The price: while the port
 * has SO_REUSEADDR, a process of any local user may bind it too, hence `send_threads = 0` for
 * hosts shared with other users (README, Deploy).
 *
 * A thread serves the clients whose id falls to it (id modulo the number of threads) and keeps
 * their UDP endpoints, updated by messages that travel in order with the send requests.
 */
import type { RemoteInfo } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';

export interface FanoutWorkerData {
  type: 'udp4' | 'udp6';
  hostname: string;
  port: number;
  sendBufferSize: number;
}

/** What each thread is told at start: the socket to open, and its slot in the shared counters. */
interface ThreadData extends FanoutWorkerData {
  index: number;
  /** Int32 per thread: send requests it has finished (see `beginTick`). */
  finished: SharedArrayBuffer;
}

/** Main thread → send thread. */
export type FanoutRequest =
  | { kind: 'endpoint'; id: number; address: string; port: number }
  | { kind: 'forget'; id: number }
  | { kind: 'send'; datagrams: readonly Uint8Array[]; ids: Uint32Array };

/** Send thread → main thread. */
export type FanoutReport =
  | { kind: 'ready' }
  | { kind: 'bind_failed'; code: string | undefined; message: string }
  | { kind: 'datagram'; bytes: ArrayBuffer; address: string; port: number; family: string }
  | { kind: 'send_errors'; count: number; message: string };

export type { ThreadData as FanoutThreadData };

export interface UdpFanoutOptions extends FanoutWorkerData {
  threads: number;
  log: Logger;
  /** A datagram that reached a send thread's socket instead of the main one. */
  onDatagram: (datagram: Buffer, source: RemoteInfo) => void;
}

/** The bind error of a send thread, with the errno code so the caller can retry another port. */
export class FanoutBindError extends Error {
  override readonly name = 'FanoutBindError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class UdpFanout {
  private working = true;
  private forwardedLogged = false;
  /** Send requests posted to each thread, and how many each had finished when this tick began. */
  private readonly posted: number[];
  private readonly behind: boolean[];

  private constructor(
    private readonly workers: Worker[],
    private readonly finished: Int32Array,
    private readonly log: Logger,
  ) {
    this.posted = workers.map(() => 0);
    this.behind = workers.map(() => false);
  }

  /** Starts the threads and resolves once each has bound its socket; rejects (and stops them all) if one cannot. */
  static async start(options: UdpFanoutOptions): Promise<UdpFanout> {
    const { threads, log, onDatagram, ...socketData } = options;
    const finished = new SharedArrayBuffer(4 * threads);
    const workers = Array.from({ length: threads }, (_, index) => spawnWorker({ ...socketData, index, finished }));
    const fanout = new UdpFanout(workers, new Int32Array(finished), log);
    try {
      await Promise.all(workers.map((worker, index) => fanout.watch(worker, index, onDatagram)));
    } catch (error) {
      await fanout.close();
      throw error;
    }
    return fanout;
  }

  /** False once a thread has failed; the caller then sends from the main thread. */
  get available(): boolean {
    return this.working;
  }

  setEndpoint(id: number, address: string, port: number): void {
    this.workerFor(id).postMessage({ kind: 'endpoint', id, address, port } satisfies FanoutRequest);
  }

  forget(id: number): void {
    this.workerFor(id).postMessage({ kind: 'forget', id } satisfies FanoutRequest);
  }

  /**
   * Call once per tick before `send`. A thread that has not finished the previous tick's sends
   * sits this tick out: its clients get the next one instead of a queue of stale positions, as
   * a main thread that cannot keep up would stretch the tick rather than fall behind.
   */
  beginTick(): void {
    for (let index = 0; index < this.workers.length; index++) {
      this.behind[index] = Atomics.load(this.finished, index) < this.posted[index]!;
    }
  }

  /**
   * Sends every datagram to every listed client, each from the thread that serves it. Returns
   * how many of those clients were skipped because their thread is behind.
   */
  send(datagrams: readonly Buffer[], ids: readonly number[]): number {
    const count = this.workers.length;
    const shares: number[][] = Array.from({ length: count }, () => []);
    for (const id of ids) shares[id % count]!.push(id);
    let skipped = 0;
    for (let index = 0; index < count; index++) {
      const share = shares[index]!;
      if (share.length === 0) continue;
      if (this.behind[index]) {
        skipped += share.length;
        continue;
      }
      const request: FanoutRequest = { kind: 'send', datagrams, ids: Uint32Array.from(share) };
      this.workers[index]!.postMessage(request);
      this.posted[index]!++;
    }
    return skipped;
  }

  async close(): Promise<void> {
    this.working = false;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private workerFor(id: number): Worker {
    return this.workers[id % this.workers.length]!;
  }

  /** Resolves when the thread is ready; afterwards, logs its reports and notices if it stops. */
  private watch(worker: Worker, index: number, onDatagram: UdpFanoutOptions['onDatagram']): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (report: FanoutReport) => {
        switch (report.kind) {
          case 'ready':
            ready = true;
            resolve();
            break;
          case 'bind_failed':
            reject(new FanoutBindError(report.message, report.code));
            break;
          case 'datagram':
            if (!this.forwardedLogged) {
              this.forwardedLogged = true;
              this.log.info(
                { thread: index },
                'UDP datagrams are reaching a send thread; handing them to the main thread',
              );
            }
            onDatagram(Buffer.from(report.bytes), {
              address: report.address,
              port: report.port,
              family: report.family as RemoteInfo['family'],
              size: report.bytes.byteLength,
            });
            break;
          case 'send_errors':
            this.log.debug({ thread: index, count: report.count, err: report.message }, 'UDP send errors');
            break;
        }
      });
      worker.on('error', (error) => {
        if (!ready) reject(error);
        else this.fail(index, error.message);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new Error(`UDP send thread exited with status ${code} before it was ready`));
        else this.fail(index, `exited with status ${code}`);
      });
    });
  }

  private fail(index: number, reason: string): void {
    if (!this.working) return;
    this.working = false;
    this.log.error({ thread: index, reason }, 'a UDP send thread stopped; sending bulk updates from the main thread');
  }
}

/**
 * Compiled, the thread is `udp-fanout-worker.js` beside this file. Run from the TypeScript
 * sources (the tests), it is loaded through tsx, which Node 20 cannot apply to a worker by flag.
 */
function spawnWorker(workerData: ThreadData): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./udp-fanout-worker.js', import.meta.url), { workerData });
  }
  const source = new URL('./udp-fanout-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(source)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(bootstrap, { eval: true, workerData });
}
