/**
 * A Server-Sent-Events reader over a real HTTP connection, for tests of `/live`: it keeps every
 * event (and comment) in order and lets a test wait for the one it expects.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: unknown;
  /** The data as it came, before JSON.parse. */
  raw: string;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Everything received, as text. */
  text = '';
  closed = false;
  private buffer = '';
  private waiters: Array<() => void> = [];

  private constructor(
    readonly response: IncomingMessage,
    private readonly clientRequest: ClientRequest,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.text += chunk;
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        this.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
      }
      this.wake();
    });
    response.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number, path = '/live', headers: Record<string, string> = {}): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const clientRequest = request({ host: '127.0.0.1', port, path, headers }, (response) =>
        resolve(new SseReader(response, clientRequest)),
      );
      clientRequest.on('error', reject);
      clientRequest.end();
    });
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    const raw = data.join('\n');
    this.events.push({ id, event, raw, data: JSON.parse(raw) });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves when `condition` holds (checked after every chunk), or fails after `timeoutMs`. */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.closed) throw new Error(`stream closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got: ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The first event named `event` (after the first `from` events) matching `match`, waiting for it. */
  async next<T = Record<string, unknown>>(
    event: string,
    match: (data: T) => boolean = () => true,
    from = 0,
  ): Promise<T> {
    let found: SseEvent | undefined;
    await this.until(() => {
      found = this.events.slice(from).find((candidate) => candidate.event === event && match(candidate.data as T));
      return found !== undefined;
    }, `a "${event}" event`);
    return found!.data as T;
  }

  named<T = Record<string, unknown>>(event: string): T[] {
    return this.events.filter((candidate) => candidate.event === event).map((candidate) => candidate.data as T);
  }

  close(): void {
    this.clientRequest.destroy();
  }
}
