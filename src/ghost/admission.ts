/**
 * Who may join. A CONNECT request goes through the built-in checks (accepting players or
 * spectators, `max_clients`), then every added check in the order it was added — bans and the
 * whitelist, then plugins' `beforeConnect` (app.ts and plugins/host.ts add them) — and the first
 * refusal wins. Checks may be asynchronous, so the built-in ones run again at the end: other
 * players may have filled the server meanwhile.
 *
 * Fail closed: a check that throws, or answers anything but "nothing to say" (undefined), a
 * reason or a Refusal, refuses the player. A server that lets a banned player in because a check
 * broke is worse than one that turns a player away.
 */
import type { ConnectRequest } from './protocol/packets.js';
import { isRefusalCode, type Refusal, type RefusalCode } from './refusals.js';

/**
 * Decides whether a connect request may join: undefined to let it through, a reason (string) or
 * a Refusal to turn it away.
 */
export type AdmissionCheck = (
  request: Readonly<ConnectRequest>,
  address: string,
) => Refusal | string | undefined | Promise<Refusal | string | undefined>;

export interface AdmissionSettings {
  acceptPlayers: boolean;
  acceptSpectators: boolean;
  /** 0 = no limit. */
  maxClients: number;
}

export type AdmissionOutcome = { admitted: true } | { admitted: false; refusal: Refusal } | { admitted: 'abandoned' };

export class Admission {
  private accepting: boolean;
  /** Set when a countdown closed the door to players (not an operator): its race's end reopens it. */
  private closedByCountdown = false;
  acceptingSpectators: boolean;
  private readonly checks: Array<{ check: AdmissionCheck; code: RefusalCode }> = [];

  constructor(
    private readonly settings: AdmissionSettings,
    /** How many clients have joined (for max_clients). */
    private readonly joinedCount: () => number,
  ) {
    this.accepting = settings.acceptPlayers;
    this.acceptingSpectators = settings.acceptSpectators;
  }

  get acceptingPlayers(): boolean {
    return this.accepting;
  }

  /** An operator's (or plugin's, or config's) decision: it stands until changed again. */
  set acceptingPlayers(accept: boolean) {
    this.accepting = accept;
    this.closedByCountdown = false;
  }

  /** A plain countdown closes the door to players, as GhostServer does, until its race ends. */
  closeForCountdown(): void {
    this.accepting = false;
    this.closedByCountdown = true;
  }

  /** Reopens to players if a countdown closed it (not if an operator did); true if it did. */
  reopenAfterCountdown(): boolean {
    if (!this.closedByCountdown) return false;
    this.accepting = true;
    this.closedByCountdown = false;
    return true;
  }

  /** Why players are refused now, in words; undefined while they are accepted. */
  get playersRefusedBecause(): string | undefined {
    if (this.accepting) return undefined;
    return this.closedByCountdown
      ? 'a countdown race is running (joining opens again when it ends)'
      : 'refused by an operator (accept players opens it)';
  }

  /** Adds a check after the ones already there; a reason it returns is refused with `code`. */
  add(check: AdmissionCheck, code: RefusalCode = 'refused'): void {
    this.checks.push({ check, code });
  }

  /** The checks that need no waiting: whether this kind of client is accepted, and room. */
  builtIn(request: Pick<ConnectRequest, 'spectator'>): Refusal | undefined {
    if (request.spectator && !this.acceptingSpectators)
      return { code: 'not_accepting_spectators', reason: 'not accepting spectators' };
    if (!request.spectator && !this.accepting)
      return { code: 'not_accepting_players', reason: `not accepting players: ${this.playersRefusedBecause}` };
    const max = this.settings.maxClients;
    if (max > 0 && this.joinedCount() >= max) return { code: 'server_full', reason: `server full (${max} clients)` };
    return undefined;
  }

  /**
   * Runs every check. `stillWanted` is asked after each asynchronous one: if the connection closed
   * or the server began stopping meanwhile, the outcome is 'abandoned' and nothing more runs.
   */
  async decide(
    request: Readonly<ConnectRequest>,
    address: string,
    stillWanted: () => boolean,
  ): Promise<AdmissionOutcome> {
    const early = this.builtIn(request);
    if (early !== undefined) return { admitted: false, refusal: early };
    for (const { check, code } of this.checks) {
      let answer: unknown;
      try {
        answer = await check(request, address);
      } catch (error) {
        return {
          admitted: false,
          refusal: { code: 'admission_error', reason: `admission check failed: ${describe(error)}` },
        };
      }
      if (!stillWanted()) return { admitted: 'abandoned' };
      const refusal = readAnswer(answer, code);
      if (refusal !== undefined) return { admitted: false, refusal };
    }
    const late = this.builtIn(request);
    return late === undefined ? { admitted: true } : { admitted: false, refusal: late };
  }
}

/** What a check answered, as a refusal or undefined; anything malformed refuses. */
function readAnswer(answer: unknown, code: RefusalCode): Refusal | undefined {
  if (answer === undefined) return undefined;
  if (typeof answer === 'string') return { code, reason: answer.trim() === '' ? 'refused' : answer };
  if (typeof answer === 'object' && answer !== null) {
    const { code: given, reason } = answer as Partial<Refusal>;
    if (isRefusalCode(given) && typeof reason === 'string') return { code: given, reason: reason || 'refused' };
  }
  return {
    code: 'admission_error',
    reason: `an admission check answered ${answer === null ? 'null' : typeof answer}, not a reason`,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
