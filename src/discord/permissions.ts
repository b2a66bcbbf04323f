/**
 * Who may run what from Discord. A member's level is the highest of: admin if they hold
 * Discord's Administrator permission (so a fresh install can be set up at all), and the levels
 * granted with /role to them or to any of their roles, stored in SQLite. Checked on every
 * invocation, so a revoked role takes effect at once.
 *
 * The same rule gives a linked SAR player their level in game (`MemberLevels`): there the member
 * is fetched from the guild, since no interaction carries their roles.
 */
import { PermissionFlagsBits, type Guild, type GuildMember, type Interaction } from 'discord.js';
import type { Invoker, Permission } from '../commands/registry.js';
import type { GrantStore } from '../db/database.js';

/** What a member's level is decided by: their id, their roles, and whether they are Administrator. */
export interface MemberFacts {
  userId: string;
  roleIds: readonly string[];
  administrator: boolean;
}

/** The one rule: Administrator is admin, else the highest level granted to the member or a role. */
export function levelOf(facts: MemberFacts, grants: GrantStore): Permission {
  if (facts.administrator) return 'admin';
  return grants.levelFor(facts.userId, [...facts.roleIds]);
}

export function memberLevel(interaction: Interaction, grants: GrantStore): Permission {
  const member = interaction.member;
  let roleIds: string[] = [];
  if (member !== null) {
    // A cached GuildMember has a role manager; a raw API member has an array of ids.
    roleIds = Array.isArray(member.roles) ? member.roles : [...(member as GuildMember).roles.cache.keys()];
  }
  return levelOf(
    {
      userId: interaction.user.id,
      roleIds,
      administrator: interaction.memberPermissions?.has(PermissionFlagsBits.Administrator) === true,
    },
    grants,
  );
}

export function discordInvoker(interaction: Interaction, grants: GrantStore): Invoker {
  return {
    source: 'discord',
    name: interaction.user.username,
    permission: memberLevel(interaction, grants),
    discordId: interaction.user.id,
  };
}

/** How long a fetched member's roles are trusted before they are fetched again. */
export const MEMBER_CACHE_MS = 30_000;
/** How long a member fetch may take before the member counts as `everyone`. */
const FETCH_TIMEOUT_MS = 3_000;

export interface MemberLevelsOptions {
  grants: GrantStore;
  /** The configured guild, while the bot is logged in; undefined otherwise. */
  guild(): Guild | undefined;
  cacheMs?: number;
  fetchTimeoutMs?: number;
  /** Told when a member could not be fetched (and so counts as `everyone`). */
  onFailure?(discordId: string, error: unknown): void;
}

/**
 * The level of a Discord member who is not running an interaction (a linked player in game): the
 * member is fetched from the guild (their roles and Administrator, cached for `cacheMs`; the
 * grants are read fresh every time, so /role takes effect at once), then `levelOf`. Fails
 * closed: an unknown member, Discord down or slow, or the bot logged out gives `everyone`.
 */
export class MemberLevels {
  private readonly cache = new Map<string, { facts: MemberFacts; until: number }>();

  constructor(private readonly options: MemberLevelsOptions) {}

  async level(discordId: string): Promise<Permission> {
    const facts = await this.facts(discordId);
    return facts === undefined ? 'everyone' : levelOf(facts, this.options.grants);
  }

  /** Forgets cached members (the bot logged out, or tests). */
  clear(): void {
    this.cache.clear();
  }

  private async facts(discordId: string): Promise<MemberFacts | undefined> {
    const cached = this.cache.get(discordId);
    if (cached !== undefined && cached.until > Date.now()) return cached.facts;
    this.cache.delete(discordId);
    const guild = this.options.guild();
    if (guild === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const member = await Promise.race([
        // force: the bot has no GuildMembers intent, so discord.js's own copy of a member goes stale.
        guild.members.fetch({ user: discordId, force: true }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new Error('Discord did not answer in time')),
            this.options.fetchTimeoutMs ?? FETCH_TIMEOUT_MS,
          );
        }),
      ]);
      const facts: MemberFacts = {
        userId: discordId,
        roleIds: [...member.roles.cache.keys()],
        administrator: member.permissions.has(PermissionFlagsBits.Administrator),
      };
      // Some members are seen often (a moderator in game); keep the cache to those seen lately.
      if (this.cache.size >= 1000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(discordId, { facts, until: Date.now() + (this.options.cacheMs ?? MEMBER_CACHE_MS) });
      return facts;
    } catch (error) {
      this.options.onFailure?.(discordId, error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
