/**
 * The race card: one message in the events channel per race, posted when the race opens and
 * edited in place as runners ready up, split and finish, with a last edit when it ends.
 *
 * Race events only store the newest snapshot of their race and wake the sender: O(1), never
 * waiting, so a race of hundreds of runners changing maps costs the ghost server nothing. One
 * request is in flight at a time. Each card is edited at most once per `updateMs`
 * (`[races] card_update_ms`); whatever changed within that window goes out as one edit drawn
 * from the newest snapshot when the edit is sent, so no stale state is ever queued and the last
 * state is always the one shown in the end.
 *
 * When Discord has trouble (the outbox rules): a rate limit (429) is waited out, then the newest
 * state is sent (the edit route is set to reject rather than wait inside discord.js, see
 * `rejectCardRateLimits`); a REST outage (5xx, no answer) is retried with the REST backoff, again
 * with the newest state; a card message that was deleted is posted again; any other refusal (a
 * 4xx such as missing permissions) drops that edit, logged once per reason, and the next change
 * tries again. A gateway reconnect does not matter: cards are REST only.
 *
 * Each card's message is remembered in the database (`messages`), so that a race the server ends
 * at start-up after a crash (`showRecovered`) gets its own card edited rather than a second one.
 */
import {
  DiscordAPIError,
  RateLimitError,
  RESTJSONErrorCodes,
  type GuildTextBasedChannel,
  type RateLimitData,
} from 'discord.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { RaceSnapshot } from '../races/types.js';
import type { RaceCardStore } from '../db/race-cards.js';
import { NO_MENTIONS } from './format.js';
import { describeError, isTransient } from './health.js';
import { raceEmbed } from './race-render.js';
import { backoffDelay, formatDelay, type Backoff } from './retry.js';

export const DEFAULT_CARD_UPDATE_MS = 2000;

/** Cards kept at most: the live race, and ended ones whose last edit has not gone out yet. */
const MAX_CARDS = 8;

/**
 * For discord.js's `rest.rejectOnRateLimit`: an edit of a channel message (only race cards are
 * edited that way) is given back to the card when rate-limited instead of being re-sent as it
 * was after the wait, so that the card sends its newest state instead.
 */
export function rejectCardRateLimits(data: RateLimitData): boolean {
  return data.method.toUpperCase() === 'PATCH' && data.route === '/channels/:id/messages/:id';
}

interface Card {
  race: RaceSnapshot;
  /** The card's message, once posted (or remembered from before a crash), and its channel. */
  messageId: string | undefined;
  channelId: string | undefined;
  /** A snapshot arrived that has not been sent (or dropped) yet. */
  changed: boolean;
  /** The embed last shown (its JSON without the timestamp): an unchanged drawing is not sent. */
  shown: string | undefined;
  /** When the last request for this card started (ms, Date.now()). */
  lastSentAt: number;
  /** Not before this (ms): a rate limit's or a backoff's wait. */
  notBefore: number;
  failures: number;
}

export interface RaceCardsOptions {
  bus: EventBus;
  logger: Logger;
  /** At most one edit of a card per this many milliseconds. */
  updateMs: number;
  /** How long to wait before trying again after a REST outage. */
  retry: Backoff;
  /** Told about each failed request (REST health). */
  onError(error: unknown): void;
  /** Where each card's message is remembered across restarts. */
  messages?: RaceCardStore;
}

const ended = (race: RaceSnapshot) => race.state === 'finished' || race.state === 'cancelled';

export class RaceCards {
  private channel: GuildTextBasedChannel | undefined;
  private readonly cards = new Map<number, Card>();
  /** Races whose card shows their end (the newest few). */
  private readonly done = new Set<number>();
  private readonly unsubscribers: Array<() => void> = [];
  private inFlight = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private lastError = '';
  private idle: Array<() => void> = [];
  /** Flushing (shutdown, tests): pending states go out without waiting for the throttle window. */
  private urgent = false;

  constructor(private readonly options: RaceCardsOptions) {
    const { bus } = options;
    const take = ({ race }: { race: RaceSnapshot }) => this.update(race);
    this.unsubscribers.push(
      bus.on('raceOpened', take),
      bus.on('raceUpdated', take),
      bus.on('raceStarted', take),
      bus.on('raceSplit', take),
      bus.on('raceFinished', take),
      bus.on('raceEnded', take),
    );
  }

  /** Cards with something left to send. */
  get pending(): number {
    return [...this.cards.values()].filter((card) => card.changed).length;
  }

  /** The events channel, once the bot is logged in; cards of races opened before then are posted now. */
  attach(channel: GuildTextBasedChannel | undefined): void {
    this.channel = channel;
    this.schedule();
  }

  /** Takes the newest snapshot of a race. Never waits, never throws at the ghost server. */
  update(race: RaceSnapshot): void {
    if (this.closed) return;
    let card = this.cards.get(race.id);
    if (card === undefined) {
      // A late event about a race whose card already shows its end: nothing to do.
      if (this.done.has(race.id)) return;
      const remembered = this.rememberedMessage(race.id);
      card = {
        race,
        messageId: remembered?.messageId,
        channelId: remembered?.channelId,
        changed: true,
        shown: undefined,
        lastSentAt: -Infinity,
        notBefore: 0,
        failures: 0,
      };
      this.cards.set(race.id, card);
      this.trim();
    } else {
      // The end is final: a late snapshot from before it does not take it back.
      if (ended(card.race) && !ended(race)) return;
      card.race = race;
      card.changed = true;
    }
    if (this.timer === undefined) this.schedule();
  }

  /**
   * Races ended at start-up because the server had stopped abruptly: their cards (posted before
   * the crash, still showing them open or running) are edited to show how they ended.
   */
  showRecovered(races: readonly RaceSnapshot[]): void {
    for (const race of races) this.update(race);
  }

  /** The message a race's card was posted as, if the database remembers one (a failed read: none). */
  private rememberedMessage(raceId: number): { messageId: string; channelId: string } | undefined {
    try {
      return this.options.messages?.messageOf(raceId);
    } catch (error) {
      this.options.logger.warn(
        { race: raceId, reason: describeError(error) },
        'cannot read which message is a race card',
      );
      return undefined;
    }
  }

  /**
   * Sends what is pending now, without waiting for the throttle window (rate limits are still
   * waited out), and resolves once every card shows its newest state (or the cards are closed).
   * For shutdown and tests: a race's edits stay throttled otherwise.
   */
  flush(): Promise<void> {
    if (this.closed || (!this.inFlight && this.pending === 0) || this.channel === undefined) return Promise.resolve();
    this.urgent = true;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    if (!this.inFlight) this.schedule();
    return done;
  }

  /** `flush`, waiting at most `timeoutMs` (a card may wait for a long rate limit or an outage). */
  async finish(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.closed = true;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.settle();
  }

  /** A card that shows its race's end is done with; later events about that race are ignored. */
  private retire(card: Card): void {
    this.cards.delete(card.race.id);
    this.done.add(card.race.id);
    if (this.done.size > 64) this.done.delete(this.done.values().next().value!);
  }

  /** Keeps the newest cards; an old ended card whose last edit never went out is given up. */
  private trim(): void {
    while (this.cards.size > MAX_CARDS) {
      const oldest = this.cards.keys().next().value!;
      this.cards.delete(oldest);
    }
  }

  /** Sends the card that may go first now, or sets a timer for when one may. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.inFlight || this.channel === undefined) return this.settle();
    let next: Card | undefined;
    let at = Infinity;
    for (const card of this.cards.values()) {
      if (!card.changed) continue;
      const readyAt = Math.max(card.notBefore, this.urgent ? 0 : card.lastSentAt + this.options.updateMs);
      if (readyAt < at) {
        at = readyAt;
        next = card;
      }
    }
    if (next === undefined) return this.settle();
    const wait = at - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.schedule(), wait);
      return;
    }
    void this.send(next);
  }

  private async send(card: Card): Promise<void> {
    const channel = this.channel!;
    this.inFlight = true;
    card.changed = false;
    const race = card.race;
    try {
      const embed = raceEmbed(race, { now: new Date() });
      const { timestamp: _, ...drawn } = embed;
      const key = JSON.stringify(drawn);
      // A card remembered in another channel (the events channel was changed) is posted anew here.
      if (card.channelId !== channel.id) card.messageId = undefined;
      if (key !== card.shown || card.messageId === undefined) {
        card.lastSentAt = Date.now();
        const body = { embeds: [embed], allowedMentions: NO_MENTIONS };
        if (card.messageId === undefined) {
          const message = await channel.send(body);
          card.messageId = message.id;
          card.channelId = channel.id;
          this.remember(race.id, channel.id, message.id);
        } else {
          await channel.messages.edit(card.messageId, body);
        }
        card.shown = key;
        if (this.lastError !== '') this.options.logger.info('race cards are updated again');
        this.lastError = '';
        card.failures = 0;
      }
      if (ended(card.race) && !card.changed) this.retire(card);
    } catch (error) {
      this.failed(card, error);
    } finally {
      this.inFlight = false;
      this.schedule();
    }
  }

  /** Off the card's path: a write that fails only costs the edit after a crash. */
  private remember(raceId: number, channelId: string, messageId: string): void {
    this.options.messages?.remember(raceId, { channelId, messageId }).catch((error: unknown) => {
      this.options.logger.warn(
        { race: raceId, reason: describeError(error) },
        'cannot remember which message is the race card',
      );
    });
  }

  private failed(card: Card, error: unknown): void {
    const { logger } = this.options;
    // Whatever happens, what is on the card is not the newest state: keep it due.
    card.changed = true;
    if (this.closed) return;
    if (error instanceof RateLimitError) {
      const wait = Math.max(error.retryAfter, error.timeToReset, 0);
      card.notBefore = Date.now() + wait;
      logger.debug(
        { race: card.race.id, waitMs: wait },
        'race card rate-limited; the newest state goes out after the wait',
      );
      return;
    }
    if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownMessage) {
      logger.info({ race: card.race.id }, 'the race card was deleted; posting a new one');
      card.messageId = undefined;
      card.shown = undefined;
      card.notBefore = 0;
      return;
    }
    this.options.onError(error);
    const reason = describeError(error);
    const transient = isTransient(error);
    const delay = backoffDelay(++card.failures, this.options.retry);
    if (reason !== this.lastError) {
      logger.warn(
        { race: card.race.id, reason },
        transient
          ? `cannot update the race card (${reason}); trying again in ${formatDelay(delay)}`
          : `cannot update the race card (${reason}); trying again at the next change`,
      );
    }
    this.lastError = reason;
    if (transient) card.notBefore = Date.now() + delay;
    else card.changed = false; // refused for good: this state is dropped, the next change tries again
  }

  private settle(): void {
    if (!this.closed && this.channel !== undefined && (this.inFlight || this.pending > 0)) return;
    this.urgent = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
