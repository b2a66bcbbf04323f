/**
 * Slash commands generated from the command registry, so each admin command is written once.
 * Registry names become slash commands by their first word: `list` → /list, `kick name`,
 * `kick id`, `kick ip` → /kick with subcommands name, id, ip; where a one-word command has a
 * group too (`unban`, `unban member`), the group's members become /unban_member and the like. GhostServer's legacy names are not
 * offered on Discord, nor what only a player in game can run (`sources: ['chat']`: `/ready`).
 * Arguments become options: words and rest-of-line text are strings,
 * integers keep their bounds, choices become fixed choices, player names/ids autocomplete
 * from the clients connected now, and a member (`complete: 'member'`) is a user picker.
 *
 * Discord's `default_member_permissions` hides admin commands from members without Manage
 * Server and moderator ones from members without Kick Members (guild admins can change this
 * under Server Settings → Integrations); the real check happens when a command runs, against the
 * levels stored with /role (see permissions.ts).
 */
import {
  PermissionFlagsBits,
  SlashCommandBuilder,
  SlashCommandSubcommandBuilder,
  type SlashCommandIntegerOption,
  type SlashCommandStringOption,
  type SlashCommandUserOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { reachable, type ArgumentSpec, type CommandDefinition, type Permission } from '../commands/registry.js';

const DEFAULT_PERMISSIONS: Record<Permission, bigint | undefined> = {
  admin: PermissionFlagsBits.ManageGuild,
  moderator: PermissionFlagsBits.KickMembers,
  everyone: undefined,
};
const PERMISSION_RANK: Record<Permission, number> = { everyone: 0, moderator: 1, admin: 2 };

/** Discord option names: lower case, no spaces, at most 32 characters. */
export function optionName(argument: ArgumentSpec): string {
  return argument.name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .slice(0, 32);
}

function describe(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

/** What commands and subcommands have in common for adding options. */
interface OptionHost {
  addStringOption(build: (option: SlashCommandStringOption) => SlashCommandStringOption): unknown;
  addIntegerOption(build: (option: SlashCommandIntegerOption) => SlashCommandIntegerOption): unknown;
  addUserOption(build: (option: SlashCommandUserOption) => SlashCommandUserOption): unknown;
}

/** A Discord member argument: a user option, passed to the command as the mention `<@id>`. */
export function isMemberArgument(argument: ArgumentSpec): boolean {
  return argument.type === 'word' && argument.complete === 'member';
}

function addOptions(host: OptionHost, definition: CommandDefinition<unknown>): void {
  // Discord wants required options before optional ones; the registry already orders them so.
  for (const argument of definition.arguments ?? []) {
    const description = describe(argument.description ?? argument.name);
    if (isMemberArgument(argument)) {
      host.addUserOption((option) =>
        option.setName(optionName(argument)).setDescription(description).setRequired(!argument.optional),
      );
    } else if (argument.type === 'integer') {
      host.addIntegerOption((option) => {
        option.setName(optionName(argument)).setDescription(description).setRequired(!argument.optional);
        if (argument.min !== undefined) option.setMinValue(argument.min);
        if (argument.max !== undefined) option.setMaxValue(argument.max);
        if (argument.complete !== undefined) option.setAutocomplete(true);
        return option;
      });
    } else {
      host.addStringOption((option) => {
        option.setName(optionName(argument)).setDescription(description).setRequired(!argument.optional);
        if (argument.choices !== undefined)
          option.addChoices(...argument.choices.map((choice) => ({ name: choice, value: choice })));
        else if (argument.complete !== undefined) option.setAutocomplete(true);
        if (argument.type !== 'rest') option.setMaxLength(100);
        return option;
      });
    }
  }
}

export interface SlashCommandSet {
  bodies: RESTPostAPIChatInputApplicationCommandsJSONBody[];
  /** "kick" + "name" → the registry command "kick name"; "list" + null → "list". */
  registryName(command: string, subcommand: string | null): string | undefined;
}

/** Builds the slash commands for every non-legacy registry command (plus any extra builders). */
export function buildSlashCommands(
  definitions: readonly CommandDefinition<unknown>[],
  extra: SlashCommandBuilder[] = [],
): SlashCommandSet {
  const groups = new Map<string, CommandDefinition<unknown>[]>();
  for (const definition of definitions) {
    if (definition.legacy || !reachable('discord', definition)) continue;
    const top = definition.name.split(' ')[0]!;
    groups.set(top, [...(groups.get(top) ?? []), definition]);
  }
  const names = new Map<string, string>();
  const bodies: RESTPostAPIChatInputApplicationCommandsJSONBody[] = [];
  /** One definition as a slash command of its own, named `name`. */
  const standalone = (name: string, definition: CommandDefinition<unknown>): void => {
    const builder = new SlashCommandBuilder().setName(name).setDescription(describe(definition.summary));
    const permissions = DEFAULT_PERMISSIONS[definition.permission];
    if (permissions !== undefined) builder.setDefaultMemberPermissions(permissions);
    addOptions(builder, definition);
    bodies.push(builder.toJSON());
    names.set(name, definition.name);
  };
  for (const [top, members] of groups) {
    const bare = members.find((definition) => !definition.name.includes(' '));
    if (bare !== undefined) {
      // A command cannot have both options and subcommands on Discord: the bare one keeps /top,
      // and the rest of its group become /top_sub (`unban` and `unban member` → /unban, /unban_member).
      standalone(top, bare);
      for (const definition of members) {
        const flat = optionName({ name: definition.name.replace(/ /g, '_'), type: 'word' });
        if (definition !== bare && !groups.has(flat) && !names.has(flat)) standalone(flat, definition);
      }
      continue;
    }
    const builder = new SlashCommandBuilder().setName(top);
    // The command's default visibility follows its least privileged subcommand.
    const lowest = members.reduce((low, definition) =>
      PERMISSION_RANK[definition.permission] < PERMISSION_RANK[low.permission] ? definition : low,
    ).permission;
    const permissions = DEFAULT_PERMISSIONS[lowest];
    if (permissions !== undefined) builder.setDefaultMemberPermissions(permissions);
    builder.setDescription(describe(`${top} commands`));
    for (const definition of members) {
      const sub = definition.name.split(' ').slice(1).join('_');
      const subcommand = new SlashCommandSubcommandBuilder().setName(sub).setDescription(describe(definition.summary));
      addOptions(subcommand, definition);
      builder.addSubcommand(subcommand);
      names.set(`${top} ${sub}`, definition.name);
    }
    bodies.push(builder.toJSON());
  }
  // One-word aliases get a slash command of their own (`ban list` is also /bans).
  for (const definition of definitions) {
    if (definition.legacy || !reachable('discord', definition)) continue;
    for (const alias of definition.aliases ?? []) {
      if (alias.includes(' ') || groups.has(alias) || names.has(alias)) continue;
      standalone(alias, definition);
    }
  }
  for (const builder of extra) bodies.push(builder.toJSON());
  return {
    bodies,
    registryName: (command, subcommand) => names.get(subcommand === null ? command : `${command} ${subcommand}`),
  };
}
