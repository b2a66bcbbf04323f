/**
 * At most `limit` events in any window of `windowMs`: remembers the times of the last `limit`
 * accepted events in a ring and accepts a new one only when the oldest has left the window.
 */
export class SlidingWindowLimiter {
  private readonly accepted: number[];
  private next = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 1000,
  ) {
    this.accepted = new Array<number>(Math.max(0, limit)).fill(-Infinity);
  }

  tryAcquire(now: number): boolean {
    if (this.limit <= 0) return false;
    const oldest = this.accepted[this.next]!;
    if (now - oldest < this.windowMs) return false;
    this.accepted[this.next] = now;
    this.next = (this.next + 1) % this.limit;
    return true;
  }
}
