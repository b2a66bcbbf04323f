/**
 * The synchronised start. The server sends every client the countdown setup; each SAR confirms
 * and gets "go" back at once (handlers.ts), then counts down locally, so everyone starts
 * together whatever their ping. Countdown checks (plugins' `beforeCountdown`) may refuse one
 * first; like an admission check, a check that throws or answers nonsense refuses.
 */
import type { Config } from '../config.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { Admission } from './admission.js';
import type { Broadcaster } from './broadcaster.js';
import { frame } from './protocol/framing.js';
import { encodeServerPacket } from './protocol/packets.js';

export interface CountdownOptions {
  duration?: number;
  preCommands?: string;
  postCommands?: string;
  /** Only these clients get the countdown (a race's entrants); everyone when omitted. */
  recipients?: readonly number[];
  /**
   * Whether new players are refused from now on (the GhostServer habit, until the countdown's
   * race ends); default `[countdown] refuse_new_players`. A race started with `race start` lets
   * players join as spectators of the race, so it passes false.
   */
  refuseNewPlayers?: boolean;
}

export interface StartedCountdown {
  duration: number;
  preCommands: string;
  postCommands: string;
  /** The clients it was sent to. */
  clientIds: number[];
}

/** Decides whether a countdown may start; returns a refusal reason, or undefined to allow. */
export type CountdownCheck = (
  countdown: Readonly<Omit<StartedCountdown, 'clientIds'>>,
) => string | undefined | Promise<string | undefined>;

export type CountdownRequest = { started: StartedCountdown } | { refused: string };

export interface CountdownDeps {
  config: Pick<Config, 'countdown'>;
  broadcaster: Broadcaster;
  admission: Admission;
  /** The ids of every joined client (who gets a countdown sent to everyone). */
  clientIds: () => number[];
  log: Logger;
  bus: EventBus;
}

export class Countdown {
  private readonly checks: CountdownCheck[] = [];
  private goTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: CountdownDeps) {}

  addCheck(check: CountdownCheck): void {
    this.checks.push(check);
  }

  /** Runs the checks in order, then starts the countdown; the first refusal wins. */
  async request(options: CountdownOptions = {}): Promise<CountdownRequest> {
    const { duration, preCommands, postCommands } = this.complete(options);
    const countdown = { duration, preCommands, postCommands };
    for (const check of this.checks) {
      let answer: unknown;
      try {
        answer = await check(countdown);
      } catch (error) {
        answer = `a countdown check failed: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (answer === undefined) continue;
      const reason =
        typeof answer === 'string' && answer.trim() !== ''
          ? answer
          : `a countdown check answered ${typeof answer === 'string' ? 'an empty reason' : typeof answer}`;
      this.deps.log.info({ reason }, 'countdown refused');
      return { refused: reason };
    }
    return { started: this.start({ ...options, ...countdown }) };
  }

  /**
   * Sends the countdown setup to every client, without asking the checks. As with GhostServer,
   * new players are refused from now on unless `[countdown] refuse_new_players` is false.
   */
  start(options: CountdownOptions = {}): StartedCountdown {
    const { duration, preCommands, postCommands } = this.complete(options);
    if (!Number.isInteger(duration) || duration < 0 || duration > 0xffffffff) {
      throw new RangeError(`countdown duration must be a whole number of seconds, got ${duration}`);
    }
    const { admission, broadcaster, log, bus } = this.deps;
    const everyone = this.deps.clientIds();
    const joined = new Set(everyone);
    const clientIds = options.recipients === undefined ? everyone : options.recipients.filter((id) => joined.has(id));
    const started = { duration, preCommands, postCommands, clientIds };
    if ((options.refuseNewPlayers ?? this.deps.config.countdown.refuse_new_players) && admission.acceptingPlayers) {
      admission.closeForCountdown();
      log.info('refusing new players: a countdown started');
    }
    const setup = frame(encodeServerPacket({ type: 'countdown_setup', id: 0, duration, preCommands, postCommands }));
    broadcaster.toClients(clientIds, setup);
    log.info({ duration, preCommands, postCommands, clients: clientIds.length }, 'countdown started');
    bus.emit('countdownStarted', started);
    // SAR counts down locally; "go" is when every client's countdown reaches zero.
    clearTimeout(this.goTimer);
    this.goTimer = setTimeout(() => bus.emit('countdownGo', started), duration * 1000);
    this.goTimer.unref();
    return started;
  }

  stop(): void {
    clearTimeout(this.goTimer);
  }

  private complete(options: CountdownOptions): Omit<StartedCountdown, 'clientIds'> {
    const settings = this.deps.config.countdown;
    return {
      duration: options.duration ?? settings.delay,
      preCommands: options.preCommands ?? settings.pre_commands,
      postCommands: options.postCommands ?? settings.post_commands,
    };
  }
}
