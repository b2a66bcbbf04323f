/**
 * Runs slash commands: maps the interaction back to its registry command, checks the member's
 * level (permissions.ts), runs it through the same registry as the console, and replies.
 * Admin actions and errors are answered privately (ephemeral); results that concern everyone
 * (a ban) also go to the events channel. Denied attempts are written to the audit log too.
 * Plus /role, which manages the levels themselves, and the buttons of confirmation DMs
 * (confirmations.ts). A member argument arrives as a user option and is passed on as `<@id>`.
 * No reply can ping (`NO_MENTIONS`), and the text of a reply (which holds player names) is shown
 * literally (format.ts).
 */
import {
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
} from 'discord.js';
import type { AdminContext } from '../commands/context.js';
import { permits, type ArgumentValues, type CommandRegistry, type Invoker } from '../commands/registry.js';
import { DatabaseError, type GrantSubject, type PermissionLevel, type Store } from '../db/database.js';
import type { GhostServer } from '../ghost/server.js';
import type { Logger } from '../logger.js';
import type { EventFeed } from './event-feed.js';
import { discordText, NO_MENTIONS, replyText } from './format.js';
import { printable } from '../text/printable.js';
import { discordInvoker } from './permissions.js';
import { describeError } from './health.js';
import { buildSlashCommands, isMemberArgument, optionName, type SlashCommandSet } from './slash-commands.js';
import type { Confirmations } from './confirmations.js';
import { historyEmbed } from './race-render.js';

const LEVELS: readonly PermissionLevel[] = ['admin', 'moderator', 'everyone'];
const AUTOCOMPLETE_LIMIT = 25;

/** /role grant|revoke|list: which roles or members may run which level of commands. */
export function roleCommand(): SlashCommandBuilder {
  const builder = new SlashCommandBuilder()
    .setName('role')
    .setDescription('Who may run which ghost server commands')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild);
  builder.addSubcommand((sub) =>
    sub
      .setName('grant')
      .setDescription('Give a role or a member a command level')
      .addMentionableOption((option) => option.setName('target').setDescription('A role or a member').setRequired(true))
      .addStringOption((option) =>
        option
          .setName('level')
          .setDescription('admin: everything; moderator: kick, countdowns, messages; everyone: status and results')
          .setRequired(true)
          .addChoices(...LEVELS.map((level) => ({ name: level, value: level }))),
      ),
  );
  builder.addSubcommand((sub) =>
    sub
      .setName('revoke')
      .setDescription('Remove the level given to a role or a member')
      .addMentionableOption((option) =>
        option.setName('target').setDescription('A role or a member').setRequired(true),
      ),
  );
  builder.addSubcommand((sub) => sub.setName('list').setDescription('Show the levels given to roles and members'));
  return builder;
}

export interface InteractionHandlerOptions {
  commands: CommandRegistry<AdminContext>;
  store: Store;
  server: GhostServer;
  feed: EventFeed;
  logger: Logger;
  /** The Confirm / Deny buttons of confirmation DMs, when names can be confirmed. */
  confirmations?: Confirmations;
  /** Told when answering fails (REST health). */
  onError(error: unknown): void;
}

export class InteractionHandler {
  readonly slash: SlashCommandSet;

  constructor(private readonly options: InteractionHandlerOptions) {
    this.slash = buildSlashCommands(options.commands.list(), [roleCommand()]);
  }

  async handle(interaction: Interaction): Promise<void> {
    try {
      if (interaction.isAutocomplete()) await this.autocomplete(interaction);
      else if (interaction.isChatInputCommand()) {
        if (interaction.commandName === 'role') await this.role(interaction);
        else await this.command(interaction);
      } else if (interaction.isButton()) {
        await this.options.confirmations?.onButton(interaction);
      }
    } catch (error) {
      this.options.onError(error);
      this.options.logger.warn({ reason: describeError(error) }, 'cannot answer a Discord interaction');
    }
  }

  private async reply(interaction: ChatInputCommandInteraction, text: string, ephemeral: boolean): Promise<void> {
    await interaction.reply({
      content: replyText(text),
      allowedMentions: NO_MENTIONS,
      ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
    });
  }

  private audit(invoker: Invoker, action: string, detail: string): void {
    try {
      void this.options.store.audit.record({ actor: invoker.name, source: 'discord', action, detail });
    } catch (error) {
      this.options.logger.warn({ err: error }, 'cannot write the audit log');
    }
  }

  private async command(interaction: ChatInputCommandInteraction): Promise<void> {
    const { commands, store, feed } = this.options;
    const name = this.slash.registryName(interaction.commandName, interaction.options.getSubcommand(false));
    const definition = name === undefined ? undefined : commands.find(name);
    if (definition === undefined) {
      await this.reply(interaction, 'This command is not known to the server (yet); try again in a minute.', true);
      return;
    }
    const invoker = discordInvoker(interaction, store.grants);
    if (!permits(invoker, definition)) {
      this.audit(invoker, `denied: ${definition.name}`, `needs ${definition.permission}, has ${invoker.permission}`);
      await this.reply(
        interaction,
        `You need the ${definition.permission} level for /${interaction.commandName}.`,
        true,
      );
      return;
    }
    const args: ArgumentValues = {};
    for (const argument of definition.arguments ?? []) {
      let value: string | number | null;
      if (isMemberArgument(argument)) {
        const user = interaction.options.getUser(optionName(argument));
        value = user === null ? null : `<@${user.id}>`;
      } else if (argument.type === 'integer') value = interaction.options.getInteger(optionName(argument));
      else value = interaction.options.getString(optionName(argument));
      if (value !== null) args[argument.name] = value;
    }
    const result = await commands.run(definition.name, args, invoker);
    const ephemeral = !result.ok || definition.mutates === true || definition.replyPrivately === true;
    // Races and their history read better as an embed; the text stays for everything else.
    const embed = result.ok ? historyEmbed(definition.name, result.data) : undefined;
    if (embed !== undefined) {
      await interaction.reply({
        embeds: [embed],
        allowedMentions: NO_MENTIONS,
        ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
      });
    } else {
      await this.reply(interaction, result.text, ephemeral);
    }
    if (result.ok && definition.announce) {
      // One line: a result of several (`race end` lists the standings, which the card shows) by its first.
      const headline = result.text.split('\n')[0] ?? '';
      feed.add(`🔨 ${discordText(headline)} (by ${discordText(invoker.name)})`);
    }
  }

  private async autocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const name = this.slash.registryName(interaction.commandName, interaction.options.getSubcommand(false));
    const definition = name === undefined ? undefined : this.options.commands.find(name);
    const focused = interaction.options.getFocused(true);
    const argument = definition?.arguments?.find((spec) => optionName(spec) === focused.name);
    const typed = String(focused.value).toLowerCase();
    const clients = this.options.server
      .listClients()
      .filter((client) => client.name.toLowerCase().includes(typed) || String(client.id).startsWith(typed))
      .slice(0, AUTOCOMPLETE_LIMIT);
    if (argument?.complete === 'player-id') {
      await interaction.respond(
        clients.map((client) => ({
          name: `${printable(client.name)} (#${client.id})`.slice(0, 100),
          value: client.id,
        })),
      );
    } else if (argument?.complete === 'player-name') {
      await interaction.respond(
        clients.map((client) => ({ name: printable(client.name).slice(0, 100), value: client.name.slice(0, 100) })),
      );
    } else {
      await interaction.respond([]);
    }
  }

  private async role(interaction: ChatInputCommandInteraction): Promise<void> {
    const { grants } = this.options.store;
    const invoker = discordInvoker(interaction, grants);
    const sub = interaction.options.getSubcommand();
    if (invoker.permission !== 'admin') {
      this.audit(invoker, `denied: role ${sub}`, `needs admin, has ${invoker.permission}`);
      await this.reply(interaction, 'You need the admin level to manage roles.', true);
      return;
    }
    if (sub === 'list') {
      const lines = grants
        .list()
        .map(
          (grant) => `${grant.subject === 'role' ? `<@&${grant.subjectId}>` : `<@${grant.subjectId}>`}: ${grant.level}`,
        );
      await interaction.reply({
        content: lines.length > 0 ? lines.join('\n') : 'No levels given yet; members with Administrator are admins.',
        allowedMentions: NO_MENTIONS,
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    const target = interaction.options.get('target', true);
    const subject: GrantSubject = target.role ? 'role' : 'user';
    const subjectId = target.role?.id ?? target.user?.id ?? String(target.value);
    const mention = subject === 'role' ? `<@&${subjectId}>` : `<@${subjectId}>`;
    let text: string;
    try {
      if (sub === 'grant') {
        const level = interaction.options.getString('level', true) as PermissionLevel;
        await grants.grant(subject, subjectId, level, `discord:${invoker.name}`);
        text = `${mention} now has the ${level} level.`;
      } else {
        const revoked = await grants.revoke(subject, subjectId);
        text = revoked ? `${mention} no longer has a level.` : `${mention} had no level.`;
      }
    } catch (error) {
      // Not stored (the database cannot be written): say so, and change nothing.
      if (!(error instanceof DatabaseError)) throw error;
      await this.reply(interaction, `Not changed: ${error.message}`, true);
      return;
    }
    this.audit(invoker, `role ${sub} ${subject} ${subjectId}`, text);
    await interaction.reply({ content: text, allowedMentions: NO_MENTIONS, flags: MessageFlags.Ephemeral });
  }
}
