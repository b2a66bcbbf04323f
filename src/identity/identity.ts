/**
 * Who a SAR player is, as far as Discord knows: names linked to Discord members (src/db/identity.ts),
 * the one-time codes that link them (./codes.ts), whether a connected player is the owner of
 * their linked name, and asking the owner when that is not known.
 *
 * A linked name is "confirmed" for a client when the client's address is one its owner vouched
 * for: the address `/link` was typed from, or one the owner confirmed with the Discord buttons.
 * SAR's protocol has no authentication, so that is as much as the server can know.
 *
 * The Discord side plugs in what only it can do: `setConfirmer` (send the owner a message with
 * Confirm / Deny buttons, then call `answer`) and `setLevelResolver` (a member's level from
 * grants and roles). Without them, confirmations are `unavailable` and every player's level is
 * `everyone`.
 */
import { randomUUID } from 'node:crypto';
import type { Permission } from '../commands/registry.js';
import type { IdentitySettings } from '../config.js';
import type { Store } from '../db/database.js';
import type { GhostServer } from '../ghost/server.js';
import type { Logger } from '../logger.js';
import { oneLine } from '../text/printable.js';
import { LinkCodes } from './codes.js';

export type Trust = 'unlinked' | 'unconfirmed' | 'confirmed';

/** What the owner of a linked name is asked: may this client play as `name`? */
export interface ConfirmationRequest {
  id: string;
  name: string;
  clientId: number;
  /** The owner, who alone may answer. */
  discordId: string;
  expiresAt: Date;
}

export type ConfirmationOutcome = 'confirmed' | 'denied' | 'timeout' | 'unavailable';

/** Time, for code expiry, rate limits and confirmation time-outs; tests pass one they move by hand. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `run` after `ms` milliseconds; the function returned cancels it. */
  after(ms: number, run: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, run) {
    const timer = setTimeout(run, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface IdentityOptions {
  store: Store;
  server: GhostServer;
  settings: IdentitySettings;
  logger: Logger;
  clock?: Clock;
}

export type CodeRequest = { ok: true; code: string; expiresInSeconds: number } | { ok: false; reason: string };
/** `wrongCode`: no such live code (wrong, used or expired), as opposed to a refusal. */
export type Redemption = { ok: true; name: string } | { ok: false; reason: string; wrongCode?: boolean };

/** How long a level resolver (a Discord lookup) may take before the player counts as `everyone`. */
const LEVEL_TIMEOUT_MS = 5000;
const LEVELS: readonly Permission[] = ['everyone', 'moderator', 'admin'];

interface Pending {
  request: ConfirmationRequest;
  /** The client's address when it was asked: what Confirm remembers. */
  address: string;
  disconnect: boolean;
  outcome: Promise<ConfirmationOutcome>;
  settle(outcome: ConfirmationOutcome): void;
  cancelTimer(): void;
}

export class Identity {
  private readonly store: Store;
  private readonly server: GhostServer;
  private readonly settings: IdentitySettings;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly codes: LinkCodes;
  private confirmer: ((request: ConfirmationRequest) => Promise<void>) | undefined;
  private levelResolver: ((discordId: string) => Promise<Permission>) | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly pendingByClient = new Map<number, Pending>();

  constructor(options: IdentityOptions) {
    this.store = options.store;
    this.server = options.server;
    this.settings = options.settings;
    this.log = options.logger.child({ module: 'identity' });
    this.clock = options.clock ?? systemClock;
    this.codes = new LinkCodes({ ttlMs: this.settings.code_ttl_s * 1000, now: () => this.clock.now() });
    this.server.bus.on('clientDisconnected', ({ client }) => this.codes.clientLeft(client.id));
    // Clients carry their member's id (`ClientInfo.discordId`) for the API and plugins.
    this.server.setLinkedAccounts((name, address) => {
      const link = this.store.identity.memberOf(name);
      return link !== undefined && this.isConfirmed(name, address) ? link.discordId : undefined;
    });
  }

  /** `[identity] protect_linked_names`. */
  get protectLinkedNames(): boolean {
    return this.settings.protect_linked_names;
  }

  /**
   * SAR chat `/link`: a code for this client to type in Discord, or why not (asked again within
   * 10 s; the name is linked to someone and this address is not confirmed for it; the name's
   * owner is banned). A new code replaces the client's earlier one.
   */
  requestCode(clientId: number): CodeRequest {
    const client = this.server.getClient(clientId);
    if (client === undefined) return { ok: false, reason: 'you are not connected' };
    const link = this.store.identity.memberOf(client.name);
    if (link !== undefined) {
      if (this.store.identity.memberBan(link.discordId) !== undefined)
        return { ok: false, reason: oneLine`"${client.name}" belongs to a banned member` };
      if (!this.store.identity.isConfirmed(client.name, client.address))
        return {
          ok: false,
          reason: oneLine`"${client.name}" is linked to a Discord member and this address is not confirmed for it: only its owner can link it again`,
        };
    }
    const issued = this.codes.issue({ clientId, name: client.name, address: client.address });
    if (!issued.ok)
      return { ok: false, reason: `wait ${Math.ceil(issued.retryInMs / 1000)} s before asking for another code` };
    this.log.info({ clientId, name: client.name }, 'link code issued');
    return { ok: true, code: issued.code, expiresInSeconds: Math.round((issued.expiresAt - this.clock.now()) / 1000) };
  }

  /**
   * Discord `/link <code>`: links the code's name to the member and confirms the address the code
   * was asked from. Refused for a banned member, a wrong, used or expired code, and after 5 wrong
   * codes in 10 minutes (even a right one, until then).
   */
  async redeem(code: string, member: { id: string; name: string }): Promise<Redemption> {
    if (this.store.identity.memberBan(member.id) !== undefined)
      return { ok: false, reason: 'you are banned from this server: you cannot link a name' };
    const redeemed = this.codes.redeem(code, member.id);
    if (!redeemed.ok) {
      if (redeemed.why === 'rate_limited') {
        const minutes = Math.ceil(redeemed.retryInMs / 60_000);
        return { ok: false, reason: `too many wrong codes: try again in ${minutes} minute${minutes === 1 ? '' : 's'}` };
      }
      return {
        ok: false,
        reason: "that code is wrong, used or expired: type /link in SAR's chat for a new one",
        wrongCode: true,
      };
    }
    const { owner } = redeemed;
    const current = this.store.identity.memberOf(owner.name);
    // Someone else linked the name since the code was issued, and this address is not theirs.
    if (current !== undefined && current.discordId !== member.id && !this.isConfirmed(owner.name, owner.address))
      return { ok: false, reason: oneLine`"${owner.name}" was linked by another member meanwhile` };
    await this.store.identity.link(owner.name, member.id, member.name, owner.address);
    this.server.refreshLinkedAccounts(owner.name);
    this.log.info({ name: owner.name, discordId: member.id, discordName: member.name }, 'name linked');
    const client = this.server.getClient(owner.clientId);
    if (client !== undefined && client.name === owner.name)
      this.server.sendServerMessage(client.id, oneLine`${owner.name} is now linked to Discord member ${member.name}.`);
    return { ok: true, name: owner.name };
  }

  /** Forgets a name's link (and the addresses confirmed for it); false if it was not linked. */
  async unlink(name: string): Promise<boolean> {
    const unlinked = await this.store.identity.unlink(name);
    this.server.refreshLinkedAccounts(name);
    return unlinked;
  }

  /** Forgets every name linked to a member; resolves with those names. */
  async unlinkMember(discordId: string): Promise<string[]> {
    const names = await this.store.identity.unlinkMember(discordId);
    for (const name of names) this.server.refreshLinkedAccounts(name);
    return names;
  }

  memberOf(name: string): { discordId: string; discordName: string } | undefined {
    const link = this.store.identity.memberOf(name);
    return link === undefined ? undefined : { discordId: link.discordId, discordName: link.discordName };
  }

  namesOf(discordId: string): string[] {
    return this.store.identity.namesOf(discordId);
  }

  /** By the client's name and address; `unlinked` for a client that is not connected. */
  trustOf(clientId: number): Trust {
    const client = this.server.getClient(clientId);
    if (client === undefined || this.store.identity.memberOf(client.name) === undefined) return 'unlinked';
    return this.isConfirmed(client.name, client.address) ? 'confirmed' : 'unconfirmed';
  }

  /** The Discord member a client is, only when its linked name is confirmed from its address. */
  discordIdOf(clientId: number): string | undefined {
    const client = this.server.getClient(clientId);
    if (client === undefined) return undefined;
    const link = this.store.identity.memberOf(client.name);
    if (link === undefined || !this.isConfirmed(client.name, client.address)) return undefined;
    return link.discordId;
  }

  /** How the owner of a name is asked (the Discord side sets it; undefined: nobody can be asked). */
  setConfirmer(ask: ((request: ConfirmationRequest) => Promise<void>) | undefined): void {
    this.confirmer = ask;
  }

  /** How a member's level is read (the Discord side sets it: grants, roles, Administrator). */
  setLevelResolver(resolve: ((discordId: string) => Promise<Permission>) | undefined): void {
    this.levelResolver = resolve;
  }

  /** Requests waiting for an answer (for the Discord side's buttons, and tests). */
  pendingConfirmations(): ConfirmationRequest[] {
    return [...this.pending.values()].map((pending) => ({ ...pending.request }));
  }

  /**
   * Asks the owner of the client's linked name, through the confirmer, whether this client may
   * play as that name. Resolves `confirmed` (the address is remembered; also at once when it is
   * already confirmed), `denied` or `timeout` (no answer within `confirm_timeout_s`) — both
   * disconnect the client with a reason unless `disconnect` is false — or `unavailable` (the
   * name is not linked, the client is gone, no confirmer, or it failed to ask). Asking again for
   * a client already waiting gives the same answer.
   */
  async requestConfirmation(clientId: number, options: { disconnect?: boolean } = {}): Promise<ConfirmationOutcome> {
    const client = this.server.getClient(clientId);
    if (client === undefined) return 'unavailable';
    const link = this.store.identity.memberOf(client.name);
    if (link === undefined) return 'unavailable';
    if (this.isConfirmed(client.name, client.address)) return 'confirmed';
    const waiting = this.pendingByClient.get(clientId);
    if (waiting !== undefined && waiting.request.name === client.name) return waiting.outcome;
    const confirmer = this.confirmer;
    if (confirmer === undefined) return 'unavailable';

    const timeoutMs = this.settings.confirm_timeout_s * 1000;
    const request: ConfirmationRequest = {
      id: randomUUID(),
      name: client.name,
      clientId,
      discordId: link.discordId,
      expiresAt: new Date(this.clock.now() + timeoutMs),
    };
    let settle!: (outcome: ConfirmationOutcome) => void;
    const outcome = new Promise<ConfirmationOutcome>((resolve) => (settle = resolve));
    const pending: Pending = {
      request,
      address: client.address,
      disconnect: options.disconnect ?? true,
      outcome,
      settle,
      cancelTimer: () => {},
    };
    this.pending.set(request.id, pending);
    this.pendingByClient.set(clientId, pending);
    pending.cancelTimer = this.clock.after(timeoutMs, () => this.finish(pending, 'timeout'));
    this.log.info({ clientId, name: client.name, discordId: link.discordId }, 'asking the owner to confirm');
    try {
      await confirmer({ ...request });
    } catch (error) {
      this.log.warn({ err: error, clientId, name: client.name }, 'could not ask the owner to confirm');
      this.finish(pending, 'unavailable');
    }
    return outcome;
  }

  /**
   * The owner's answer to a request (the Discord buttons). Only the member the request was sent to
   * may answer, once, before it times out.
   */
  async answer(requestId: string, byDiscordId: string, confirm: boolean): Promise<{ ok: boolean; text: string }> {
    const pending = this.pending.get(requestId);
    if (pending === undefined) return { ok: false, text: 'This request is over (answered or timed out).' };
    const { name, discordId, clientId } = pending.request;
    if (byDiscordId !== discordId) return { ok: false, text: oneLine`Only the owner of ${name} can answer this.` };
    if (this.store.identity.memberOf(name)?.discordId !== discordId) {
      this.finish(pending, 'unavailable');
      return { ok: false, text: oneLine`${name} is no longer linked to you.` };
    }
    if (!confirm) {
      this.finish(pending, 'denied');
      return { ok: true, text: oneLine`Denied: the player using ${name} was disconnected.` };
    }
    this.detach(pending);
    try {
      await this.store.identity.confirm(name, pending.address);
      this.server.refreshLinkedAccounts(name);
    } catch (error) {
      // Not remembered: the player stays unconfirmed, and can be asked again.
      this.log.warn({ err: error, clientId, name }, 'could not remember a confirmed address');
      pending.settle('unavailable');
      return { ok: false, text: `Could not save the confirmation: ${(error as Error).message}` };
    }
    this.log.info({ clientId, name, discordId }, 'address confirmed by the owner');
    if (this.server.getClient(clientId)?.name === name)
      this.server.sendServerMessage(clientId, oneLine`The owner of ${name} confirmed you.`);
    pending.settle('confirmed');
    return { ok: true, text: oneLine`Confirmed: ${name} may play from that address.` };
  }

  /** The level a player has from Discord: `everyone` unless linked, confirmed and resolved (fails closed). */
  async levelOf(clientId: number): Promise<Permission> {
    const discordId = this.discordIdOf(clientId);
    const resolve = this.levelResolver;
    if (discordId === undefined || resolve === undefined) return 'everyone';
    if (this.store.identity.memberBan(discordId) !== undefined) return 'everyone';
    let timer: NodeJS.Timeout | undefined;
    try {
      const level = await Promise.race([
        resolve(discordId),
        new Promise<Permission>((resolveTimeout) => {
          timer = setTimeout(() => resolveTimeout('everyone'), LEVEL_TIMEOUT_MS);
        }),
      ]);
      return LEVELS.includes(level) ? level : 'everyone';
    } catch (error) {
      this.log.warn({ err: error, clientId, discordId }, 'could not read a member level');
      return 'everyone';
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends every waiting request as `unavailable` (the server is stopping). */
  stop(): void {
    this.server.setLinkedAccounts(undefined);
    for (const pending of [...this.pending.values()]) {
      this.detach(pending);
      pending.settle('unavailable');
    }
  }

  private isConfirmed(name: string, address: string): boolean {
    return this.store.identity.isConfirmed(name, address);
  }

  private detach(pending: Pending): void {
    pending.cancelTimer();
    this.pending.delete(pending.request.id);
    if (this.pendingByClient.get(pending.request.clientId) === pending)
      this.pendingByClient.delete(pending.request.clientId);
  }

  /** Settles a request; a denial or a time-out disconnects the client if it is still there, unconfirmed. */
  private finish(pending: Pending, outcome: ConfirmationOutcome): void {
    if (this.pending.get(pending.request.id) !== pending) return;
    this.detach(pending);
    const { clientId, name } = pending.request;
    const client = this.server.getClient(clientId);
    if (
      pending.disconnect &&
      (outcome === 'denied' || outcome === 'timeout') &&
      client !== undefined &&
      client.name === name &&
      !this.isConfirmed(client.name, client.address)
    ) {
      const reason =
        outcome === 'denied'
          ? oneLine`the owner of ${name} did not confirm this connection`
          : oneLine`the owner of ${name} did not confirm this connection in time`;
      this.server.sendServerMessage(clientId, `Disconnected: ${reason}.`);
      this.server.kick(clientId, reason);
    }
    this.log.info({ clientId, name, outcome }, 'confirmation over');
    pending.settle(outcome);
  }
}
