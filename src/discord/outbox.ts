/**
 * A bounded, ordered queue of things to post to Discord, sent one batch at a time. Producers
 * (the ghost server's events) only ever push, which is O(1) and never waits, so Discord being
 * slow, rate-limited or down can never hold the ghost server up. When the queue is full the
 * oldest item is dropped and counted: during an outage the freshest chat matters most.
 *
 * Each send takes everything queued so far, so a flood becomes a few large messages rather than
 * hundreds of small ones that would hit Discord's rate limits.
 */
import type { Logger } from '../logger.js';

export class Outbox<T> {
  private queue: T[] = [];
  private sending = false;
  private closed = false;
  dropped = 0;
  private lastError = '';

  constructor(
    private readonly name: string,
    private readonly capacity: number,
    private readonly send: (batch: T[]) => Promise<void>,
    private readonly log: Logger,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    if (this.queue.length > this.capacity) {
      this.queue.shift();
      this.dropped++;
    }
    void this.drain();
  }

  /** Resolves once everything queued so far has been sent (or failed). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.sending) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.send(batch);
          if (this.lastError !== '') this.log.info({ outbox: this.name }, 'Discord sends work again');
          this.lastError = '';
        } catch (error) {
          // Logged once per distinct failure, not once per message.
          const message = (error as Error).message ?? String(error);
          if (message !== this.lastError) this.log.warn({ outbox: this.name, err: error }, 'Discord send failed');
          this.lastError = message;
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
