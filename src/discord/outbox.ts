/**
 * A bounded, ordered queue of things to post to Discord, sent one batch at a time. Producers
 * (the ghost server's events) only ever push, which is O(1) and never waits, so Discord being
 * slow, rate-limited or down can never hold the ghost server up. When the queue is full the
 * oldest item is dropped and counted: during an outage the freshest chat matters most.
 *
 * Each send takes everything queued so far, so a flood becomes a few large messages rather than
 * hundreds of small ones that would hit Discord's rate limits. The sender removes each item
 * from the front of the batch once Discord has it; when a send fails for a reason that may pass
 * (no answer, a 5xx) what is left goes back to the front of the queue and is tried again after
 * a backoff, so the bot catches up after an outage without posting anything twice. A failure
 * that will not pass (a 4xx: missing permissions) drops the rest of that batch.
 */
import type { Logger } from '../logger.js';
import { describeError, isTransient } from './health.js';
import { backoffDelay, formatDelay, type Backoff } from './retry.js';

export interface OutboxOptions<T> {
  name: string;
  capacity: number;
  /** Sends items from the front of `pending`, removing each from it once Discord has it. */
  send(pending: T[]): Promise<void>;
  retry: Backoff;
  log: Logger;
  /** Told about each failed send (REST health). */
  onError?(error: unknown): void;
}

export class Outbox<T> {
  private queue: T[] = [];
  private sending = false;
  private closed = false;
  private failures = 0;
  private lastError = '';
  private wake: (() => void) | undefined;
  private idle: Array<() => void> = [];
  dropped = 0;

  constructor(private readonly options: OutboxOptions<T>) {}

  get length(): number {
    return this.queue.length;
  }

  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    this.trim();
    void this.drain();
  }

  /** Resolves once everything queued so far has been sent or dropped (or the outbox closed). */
  flush(): Promise<void> {
    if (!this.sending || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.wake?.();
    this.settle();
  }

  private trim(): void {
    const excess = this.queue.length - this.options.capacity;
    if (excess <= 0) return;
    this.queue.splice(0, excess);
    this.dropped += excess;
  }

  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.options.send(batch);
          if (this.lastError !== '') this.options.log.info({ outbox: this.options.name }, 'Discord sends work again');
          this.lastError = '';
          this.failures = 0;
        } catch (error) {
          this.options.onError?.(error);
          if (await this.failed(error, batch)) break;
        }
      }
    } finally {
      this.sending = false;
      this.settle();
    }
  }

  /** Puts back or drops what a failed send left; true when the outbox closed meanwhile. */
  private async failed(error: unknown, unsent: T[]): Promise<boolean> {
    const reason = describeError(error);
    const retry = isTransient(error) && unsent.length > 0;
    const delay = backoffDelay(++this.failures, this.options.retry);
    // Logged once per distinct failure, not once per attempt or per message.
    if (reason !== this.lastError) {
      this.options.log.warn(
        { outbox: this.options.name, reason, unsent: unsent.length },
        retry ? `Discord send failed; trying again in ${formatDelay(delay)}` : 'Discord send failed; dropped',
      );
    }
    this.lastError = reason;
    if (!retry) {
      this.dropped += unsent.length;
      return false;
    }
    this.queue = unsent.concat(this.queue);
    this.trim();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    return this.closed;
  }

  private settle(): void {
    if (this.sending && !this.closed) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
