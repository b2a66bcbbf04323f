/**
 * Per-client rate limits for every packet type the server relays, stores or answers. One client
 * must not be able to make the server do unbounded work for everybody: a finish is relayed to
 * every player and written to the database, a model change of 16 KiB is copied to every player,
 * a ping is answered. The limit is checked on the header byte, before the packet is decoded, so
 * a flood costs almost nothing beyond reading it.
 *
 * Each limit is "at most N in any window of one second" (a fraction, e.g. 0.2, means one per
 * five seconds); 0 turns a limit off. Limiters are allocated on first use: most clients never
 * send a taunt or a locator.
 */
import type { LimitSettings } from '../config.js';
import { Header, HEADER_NAMES } from './protocol/packets.js';
import { SlidingWindowLimiter } from './rate-limit.js';

/** The `[limits]` key for each rate-limited packet type, and the reason its drops are counted under. */
export const RATE_LIMITED_PACKETS = [
  { header: Header.Ping, key: 'ping_per_second', reason: 'ping_rate' },
  { header: Header.MapChange, key: 'map_change_per_second', reason: 'map_change_rate' },
  { header: Header.Message, key: 'chat_per_second', reason: 'chat_rate' },
  { header: Header.Countdown, key: 'countdown_confirm_per_second', reason: 'countdown_confirm_rate' },
  { header: Header.Update, key: 'update_per_second', reason: 'update_rate' },
  { header: Header.SpeedrunFinish, key: 'finish_per_second', reason: 'finish_rate' },
  { header: Header.ModelChange, key: 'model_change_per_second', reason: 'model_change_rate' },
  { header: Header.ColorChange, key: 'color_change_per_second', reason: 'color_change_rate' },
  { header: Header.Taunt, key: 'taunt_per_second', reason: 'taunt_rate' },
  { header: Header.Locator, key: 'locator_per_second', reason: 'locator_rate' },
  { header: Header.Voice, key: 'voice_per_second', reason: 'voice_rate' },
] as const satisfies ReadonlyArray<{ header: number; key: keyof LimitSettings; reason: string }>;

export type RateLimitKey = (typeof RATE_LIMITED_PACKETS)[number]['key'];

interface Window {
  count: number;
  windowMs: number;
}

/** "N per second" as N events per window: whole numbers per second, fractions as one per longer window. */
function windowOf(perSecond: number): Window | undefined {
  if (!(perSecond > 0)) return undefined;
  if (perSecond < 1) return { count: 1, windowMs: Math.round(1000 / perSecond) };
  return { count: Math.round(perSecond), windowMs: 1000 };
}

/** The limits from config, by header byte; shared by every client. */
export class PacketRatePolicy {
  // One slot per header byte value a packet can have (0–15), all present: lookups stay fast.
  private readonly windows: Array<Window | undefined> = Array.from({ length: HEADER_NAMES.length }, () => undefined);
  private readonly described: Array<{ reason: string; detail: string } | undefined> = [];

  constructor(limits: Pick<LimitSettings, RateLimitKey>) {
    for (const { header, key, reason } of RATE_LIMITED_PACKETS) {
      this.windows[header] = windowOf(limits[key]);
      this.described[header] = {
        reason,
        detail: `sent more ${HEADER_NAMES[header]} packets than [limits] ${key} (${limits[key]}); extra ones dropped`,
      };
    }
  }

  /** Why a packet with this header was dropped: the metric's reason, and a line for the log. */
  describeDrop(header: number): { reason: string; detail: string } {
    return this.described[header] ?? { reason: 'rate', detail: 'over its rate limit' };
  }

  /** A fresh set of limiters for one client. */
  forClient(): ClientPacketLimits {
    return new ClientPacketLimits(this.windows);
  }
}

export class ClientPacketLimits {
  private readonly limiters: Array<SlidingWindowLimiter | undefined>;

  constructor(private readonly windows: ReadonlyArray<Window | undefined>) {
    this.limiters = Array.from({ length: windows.length }, () => undefined);
  }

  /** Whether one more packet with this header is within the client's limit (and counts it if so). */
  allow(header: number, now: number): boolean {
    let limiter = this.limiters[header];
    if (limiter === undefined) {
      const window = this.windows[header];
      if (window === undefined) return true;
      limiter = new SlidingWindowLimiter(window.count, window.windowMs);
      this.limiters[header] = limiter;
    }
    return limiter.tryAcquire(now);
  }
}
