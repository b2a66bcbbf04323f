/**
 * Who may run what from Discord. A member's level is the highest of: admin if they hold
 * Discord's Administrator permission (so a fresh install can be set up at all), and the levels
 * granted with /role to them or to any of their roles, stored in SQLite. Checked on every
 * invocation, so a revoked role takes effect at once.
 */
import { PermissionFlagsBits, type GuildMember, type Interaction } from 'discord.js';
import type { Invoker, Permission } from '../commands/registry.js';
import type { GrantStore } from '../db/database.js';

export function memberLevel(interaction: Interaction, grants: GrantStore): Permission {
  const permissions = interaction.memberPermissions;
  if (permissions?.has(PermissionFlagsBits.Administrator)) return 'admin';
  const member = interaction.member;
  let roleIds: string[] = [];
  if (member !== null) {
    // A cached GuildMember has a role manager; a raw API member has an array of ids.
    roleIds = Array.isArray(member.roles) ? member.roles : [...(member as GuildMember).roles.cache.keys()];
  }
  return grants.levelFor(interaction.user.id, roleIds);
}

export function discordInvoker(interaction: Interaction, grants: GrantStore): Invoker {
  return { source: 'discord', name: interaction.user.username, permission: memberLevel(interaction, grants) };
}
