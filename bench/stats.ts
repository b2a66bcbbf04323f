/**
 * Small statistics helpers for the benchmark: bounded sample buffers, nearest-rank percentiles,
 * and an event-loop lag monitor (how late a short repeating timer fires), used by both the
 * orchestrator (where the probes live) and the load generator to show whether they kept up.
 */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function summarize(values: ArrayLike<number>): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: total / sorted.length,
  };
}

/** An append-only list of samples that stops growing at `capacity` (and counts what it dropped). */
export class Samples {
  private kept: number[] = [];
  overflow = 0;

  constructor(private readonly capacity = 1_000_000) {}

  add(value: number): void {
    if (this.kept.length < this.capacity) this.kept.push(value);
    else this.overflow++;
  }

  get count(): number {
    return this.kept.length;
  }

  /** The samples kept so far (do not modify). */
  values(): readonly number[] {
    return this.kept;
  }

  reset(): void {
    this.kept = [];
    this.overflow = 0;
  }

  summary(): Summary | undefined {
    return summarize(this.kept);
  }
}

/**
 * Measures event-loop lag: a timer asks to run every `intervalMs`; how much later than asked it
 * actually runs is the time the loop was busy with something else.
 */
export class LagMonitor {
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;
  readonly samples = new Samples(200_000);

  constructor(private readonly intervalMs = 10) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.expected = performance.now() + this.intervalMs;
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    this.samples.add(Math.max(0, now - this.expected));
    this.expected = now + this.intervalMs;
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }
}

/** CPU time of this process (all threads) as a percentage of one core over a period. */
export class CpuMeter {
  private lastUsage = process.cpuUsage();
  private lastAt = performance.now();

  reset(): void {
    this.lastUsage = process.cpuUsage();
    this.lastAt = performance.now();
  }

  percent(): number {
    const usage = process.cpuUsage(this.lastUsage);
    const elapsedMs = performance.now() - this.lastAt;
    return elapsedMs > 0 ? ((usage.user + usage.system) / 1000 / elapsedMs) * 100 : 0;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the promise's value, or rejects after `ms` with `message`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
