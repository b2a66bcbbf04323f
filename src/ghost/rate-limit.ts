/**
 * At most `limit` events in any window of `windowMs`: remembers the times of the last `limit`
 * accepted events in a ring and accepts a new one only when the oldest has left the window.
 * Called for every packet a client sends (20 updates a second from every player), so it is a
 * typed array and two comparisons.
 */
export class SlidingWindowLimiter {
  private readonly accepted: Float64Array;
  private next = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 1000,
  ) {
    this.accepted = new Float64Array(Math.max(0, limit)).fill(-Infinity);
  }

  tryAcquire(now: number): boolean {
    if (this.limit <= 0) return false;
    if (now - this.accepted[this.next]! < this.windowMs) return false;
    this.accepted[this.next] = now;
    if (++this.next === this.limit) this.next = 0;
    return true;
  }
}
