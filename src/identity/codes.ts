/**
 * One-time link codes, in memory only: `/link` in SAR's chat issues one for the player, `/link
 * <code>` in Discord redeems it. A code is 6 characters from an alphabet without look-alikes (no
 * 0/O, 1/I/L), valid `[identity] code_ttl_s`, good for one use; a player has at most one (a new
 * one replaces the old), and codes are few at once (oldest dropped past `maxCodes`), so nobody
 * can fill the memory with them.
 *
 * Both ends are rate-limited here: issuing, once per `issueIntervalMs` per client; redeeming,
 * `maxFailures` wrong codes per `failureWindowMs` per Discord user, after which even a right
 * code is refused until the window has passed. Each table is bounded like the codes.
 *
 * The clock is an option (`now`), so tests can let a code expire without waiting for it.
 */
import { randomInt } from 'node:crypto';

/** 31 characters: digits and capitals without 0, O, 1, I and L. 31^6 ≈ 887 million codes. */
export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const CODE_LENGTH = 6;

/** Who asked for a code: what redeeming it links, and confirms. */
export interface CodeOwner {
  clientId: number;
  name: string;
  address: string;
}

export interface CodeOptions {
  /** How long a code is valid, in milliseconds. */
  ttlMs: number;
  /** Milliseconds since the epoch; Date.now by default. */
  now?: () => number;
  /** At least this long between two codes for one client (10 s). */
  issueIntervalMs?: number;
  /** Wrong codes a Discord user may try per window before being refused (5)... */
  maxFailures?: number;
  /** ...and that window (10 minutes). */
  failureWindowMs?: number;
  /** Codes alive at once, and entries in each rate-limit table (10,000). */
  maxCodes?: number;
}

export type IssueResult = { ok: true; code: string; expiresAt: number } | { ok: false; retryInMs: number };

export type RedeemResult =
  | { ok: true; owner: CodeOwner }
  | { ok: false; why: 'invalid'; failuresLeft: number }
  | { ok: false; why: 'rate_limited'; retryInMs: number };

/** Makes "abc-123 " and "ABC123" the same code. */
export function normaliseCode(text: string): string {
  return text.toUpperCase().replace(/[\s-]/g, '');
}

interface LiveCode {
  owner: CodeOwner;
  expiresAt: number;
}

export class LinkCodes {
  private readonly codes = new Map<string, LiveCode>();
  /** Client id → its live code. */
  private readonly byClient = new Map<number, string>();
  /** Client id → when it last got a code. */
  private readonly issued = new Map<number, number>();
  /** Discord user id → times of their wrong codes within the window, oldest first. */
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly issueIntervalMs: number;
  private readonly maxFailures: number;
  private readonly failureWindowMs: number;
  private readonly maxCodes: number;

  constructor(options: CodeOptions) {
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
    this.issueIntervalMs = options.issueIntervalMs ?? 10_000;
    this.maxFailures = options.maxFailures ?? 5;
    this.failureWindowMs = options.failureWindowMs ?? 600_000;
    this.maxCodes = options.maxCodes ?? 10_000;
  }

  /** Live codes (for tests and metrics). */
  get size(): number {
    this.sweep();
    return this.codes.size;
  }

  /** A new code for this client, replacing its earlier one; or how long it must wait first. */
  issue(owner: CodeOwner): IssueResult {
    const now = this.now();
    this.sweep(now);
    const last = this.issued.get(owner.clientId);
    if (last !== undefined && now - last < this.issueIntervalMs)
      return { ok: false, retryInMs: this.issueIntervalMs - (now - last) };
    this.forget(owner.clientId);
    let code: string;
    do code = randomCode();
    while (this.codes.has(code));
    const expiresAt = now + this.ttlMs;
    this.codes.set(code, { owner: { ...owner }, expiresAt });
    this.byClient.set(owner.clientId, code);
    this.issued.delete(owner.clientId);
    this.issued.set(owner.clientId, now);
    bound(this.issued, this.maxCodes);
    while (this.codes.size > this.maxCodes) this.drop(this.codes.keys().next().value!);
    return { ok: true, code, expiresAt };
  }

  /** Uses up a code typed by Discord user `userId`: its owner, or why not. */
  redeem(text: string, userId: string): RedeemResult {
    const now = this.now();
    this.sweep(now);
    const recent = (this.failures.get(userId) ?? []).filter((at) => now - at < this.failureWindowMs);
    if (recent.length >= this.maxFailures)
      return { ok: false, why: 'rate_limited', retryInMs: this.failureWindowMs - (now - recent[0]!) };
    const code = normaliseCode(text);
    const live = this.codes.get(code);
    if (live === undefined) {
      recent.push(now);
      this.failures.delete(userId);
      this.failures.set(userId, recent);
      bound(this.failures, this.maxCodes);
      return { ok: false, why: 'invalid', failuresLeft: this.maxFailures - recent.length };
    }
    this.drop(code);
    return { ok: true, owner: live.owner };
  }

  /** A client left: its rate-limit entry goes (its code stays valid until it expires). */
  clientLeft(clientId: number): void {
    this.issued.delete(clientId);
  }

  /** Drops the live code of a client, if it has one. */
  forget(clientId: number): void {
    const code = this.byClient.get(clientId);
    if (code !== undefined) this.drop(code);
  }

  private drop(code: string): void {
    const live = this.codes.get(code);
    this.codes.delete(code);
    if (live !== undefined && this.byClient.get(live.owner.clientId) === code)
      this.byClient.delete(live.owner.clientId);
  }

  /** Expired codes, and rate-limit entries that no longer limit anything, go. */
  private sweep(now = this.now()): void {
    // Each table is oldest first (an entry is moved to the end when it changes): stop at the first that stays.
    for (const [code, live] of this.codes) {
      if (live.expiresAt > now) break;
      this.drop(code);
    }
    for (const [clientId, at] of this.issued) {
      if (now - at < this.issueIntervalMs) break;
      this.issued.delete(clientId);
    }
    for (const [userId, times] of this.failures) {
      if (now - times[times.length - 1]! < this.failureWindowMs) break;
      this.failures.delete(userId);
    }
  }
}

function randomCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** Keeps a Map (insertion order = oldest first) to at most `max` entries. */
function bound<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value!);
}
