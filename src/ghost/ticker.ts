/**
 * A repeating timer that keeps to a fixed schedule: each run is planned from the previous
 * deadline, not from when the previous run finished, so intervals do not drift longer under
 * load. If the process falls a whole interval behind, the schedule restarts from now instead of
 * firing a burst of catch-up runs.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private deadline = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly run: () => void,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.deadline = performance.now() + this.intervalMs;
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.deadline - performance.now()));
  }

  private fire(): void {
    try {
      this.run();
    } finally {
      if (this.timer !== undefined) {
        const now = performance.now();
        this.deadline += this.intervalMs;
        if (this.deadline <= now) this.deadline = now + this.intervalMs;
        this.schedule();
      }
    }
  }
}
