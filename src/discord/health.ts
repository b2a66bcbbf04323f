/**
 * Whether Discord's REST API works, for the bridge's `degraded` state (and so `/healthz`).
 * Every HTTP answer counts (discord.js's REST `response` event): a 5xx is a failure, anything
 * else (a 4xx or a 429 included) shows the API is there. A request that got no answer at all
 * (network error, time-out) is reported by whoever made it (`error`). While failing, a cheap
 * request is tried now and then with a backoff, so the state comes back without waiting for
 * chat or a command to need REST.
 */
import { DiscordAPIError } from 'discord.js';
import type { Logger } from '../logger.js';
import { backoffDelay, formatDelay, type Backoff } from './retry.js';

/** One line about what went wrong with a request, without a stack. */
export function describeError(error: unknown): string {
  if (error instanceof DiscordAPIError) return `HTTP ${error.status} ${error.message}`;
  if (error instanceof Error) {
    const status = (error as { status?: unknown }).status;
    const code = (error as { code?: unknown }).code;
    const prefix = typeof status === 'number' ? `HTTP ${status} ` : '';
    return `${prefix}${error.message}${typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : ''}`;
  }
  return String(error);
}

/**
 * Whether a failed request may work later: no answer (network error, time-out) or a 5xx. A
 * Discord error answer (4xx: missing permissions, bad request) will fail the same way again.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof DiscordAPIError) return error.status >= 500;
  const status = error instanceof Error ? (error as { status?: unknown }).status : undefined;
  if (typeof status === 'number') return status >= 500;
  return isNetworkError(error);
}

/** undici's `UND_ERR_*` codes and the system ones for a host that cannot be reached or answers nothing. */
const NETWORK_CODE =
  /^(?:UND_ERR_\w+|ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)$/;

function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current.name === 'AbortError' || current.name === 'TimeoutError') return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODE.test(code)) return true;
    current = current.cause;
  }
  return false;
}

export class RestHealth {
  /** Why REST fails, while it does. */
  private failing: string | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly backoff: Backoff,
    private readonly log: Logger,
  ) {}

  get ok(): boolean {
    return this.failing === undefined;
  }

  /** An HTTP answer from Discord. */
  response(status: number): void {
    if (status >= 500) this.fail(`HTTP ${status}`);
    else this.recover();
  }

  /** A request that failed (answered requests are already counted by `response`). */
  error(error: unknown): void {
    if (isTransient(error)) this.fail(describeError(error));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fail(reason: string): void {
    if (this.closed) return;
    if (this.failing === undefined)
      this.log.warn({ reason }, `Discord REST calls fail (${reason}); Discord is degraded until one works again`);
    this.failing = reason;
    if (this.timer !== undefined) return;
    const delay = backoffDelay(++this.failures, this.backoff);
    this.log.debug({ reason }, `checking Discord REST again in ${formatDelay(delay)}`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.probe().catch((error: unknown) => this.error(error));
    }, delay);
    this.timer.unref();
  }

  private recover(): void {
    if (this.failing === undefined) return;
    this.log.info({ reason: this.failing }, 'Discord REST calls work again');
    this.failing = undefined;
    this.failures = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
