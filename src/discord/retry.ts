/**
 * How long the bridge waits before trying Discord again: from `firstMs`, doubling after each
 * failure in a row, never more than `maxMs`. Used for logging in, for re-sending what an outage
 * held back, and for checking whether REST works again.
 */
export interface Backoff {
  firstMs: number;
  maxMs: number;
}

export interface RetryTimings {
  /** Logging in at start-up (the API unreachable or failing): 5 s doubling to 5 min. */
  login: Backoff;
  /** Sends held back by a REST outage, and the health check while degraded: 2 s doubling to 1 min. */
  rest: Backoff;
}

export const DEFAULT_RETRY: RetryTimings = {
  login: { firstMs: 5_000, maxMs: 300_000 },
  rest: { firstMs: 2_000, maxMs: 60_000 },
};

/** The wait after the `failures`-th failure in a row (1 = the first). */
export function backoffDelay(failures: number, backoff: Backoff): number {
  const doublings = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(backoff.firstMs * 2 ** doublings, backoff.maxMs);
}

/** "5 s", "2.5 min": for log lines. */
export function formatDelay(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6_000) / 10} min`;
}
