/**
 * The command registry: each command is defined once (name, aliases, typed arguments, help text,
 * required permission, handler) and that one definition drives parsing, usage and help text and
 * the permission check wherever it runs — the console, Discord, SAR chat, plugins and the HTTP
 * API — through `execute` (a typed line) or `run` (already split arguments).
 *
 * Names have up to three words; the first words of several names form a group (`kick` → kick
 * name, kick id, kick ip). A group word typed alone, or followed by something that is not one of
 * its subcommands, is answered with the group's usage. The invoker's level is checked before
 * the arguments, so nobody is taught how to use what they may not run.
 *
 * Expected failures are values with a `FailureCode` (docs/errors.md lists them), not exceptions:
 * a handler returns `fail(...)` after checking everything and before changing anything, so a
 * failed command changes nothing. A handler that throws anyway is reported as `unavailable` (the
 * store's DatabaseError) or `internal`, never thrown at the caller.
 */
import { oneLine } from '../text/printable.js';
import { restOfLine, tokenize, type Token } from './tokenize.js';

export type Permission = 'everyone' | 'moderator' | 'admin';
const PERMISSION_RANK: Record<Permission, number> = { everyone: 0, moderator: 1, admin: 2 };

/** Whether an invoker's level is enough for a command. */
export function permits(invoker: Invoker, definition: { permission: Permission }): boolean {
  return PERMISSION_RANK[invoker.permission] >= PERMISSION_RANK[definition.permission];
}

/** Whether a command can be run from where the invoker is (see `CommandDefinition.sources`). */
export function reachable(source: CommandSource, definition: { sources?: readonly CommandSource[] }): boolean {
  return definition.sources === undefined || definition.sources.includes(source);
}

export type CommandSource = 'console' | 'discord' | 'plugin' | 'http' | 'chat';

/** Who runs a command, from where, and what they may do. */
export interface Invoker {
  source: CommandSource;
  name: string;
  permission: Permission;
  /** The SAR client that typed it, for commands run from in-game chat. */
  clientId?: number;
  /** What the invoker types before a command name (`/` in SAR chat); help shows usage with it. */
  prefix?: string;
  /** The Discord user id of who ran it, for commands run from Discord (`/link`, `/profile`). */
  discordId?: string;
}

export const CONSOLE_INVOKER: Invoker = { source: 'console', name: 'console', permission: 'admin' };

export type ArgumentType = 'word' | 'integer' | 'rest';

export interface ArgumentSpec {
  name: string;
  /** word: one token (quote it to include spaces); integer: a whole number; rest: the rest of the line. */
  type: ArgumentType;
  optional?: boolean;
  /** Accepted values for a word, matched case-insensitively and returned in lower case. */
  choices?: readonly string[];
  min?: number;
  max?: number;
  description?: string;
  /**
   * Suggest connected players' names or ids where the front end can (Discord autocomplete).
   * `member` (on a word): a Discord member. Discord offers a user picker and passes the choice as
   * the mention `<@id>`; elsewhere people type a mention, an id or a linked name.
   */
  complete?: 'player-name' | 'player-id' | 'member';
}

export type ArgumentValues = Record<string, string | number | undefined>;

/**
 * Why a command failed, as an identifier callers can act on without reading the text: the HTTP
 * API maps it to a status, chat commands pick their reply by it, logs and docs/errors.md name it.
 */
export type FailureCode =
  /** No command and no group of commands starts with that word. */
  | 'unknown_command'
  /**
   * Missing, extra or malformed arguments, a value out of range, or a group word without one of
   * its subcommands (`kick`); when the line could not be parsed the text ends with the usage.
   */
  | 'bad_arguments'
  /** The invoker's level is below the command's. */
  | 'forbidden'
  /** What the command names does not exist: no such client, ban, race, preset. */
  | 'not_found'
  /** It already is so: a whitelist entry that exists. */
  | 'conflict'
  /** A rule or a hook said no: a countdown vetoed by a plugin, a plugin command's refusal. */
  | 'refused'
  /** Something the command needs is down: the database cannot be written. */
  | 'unavailable'
  /** The handler threw: a bug, logged with its stack. */
  | 'internal';

export const FAILURE_CODES: readonly FailureCode[] = [
  'unknown_command',
  'bad_arguments',
  'forbidden',
  'not_found',
  'conflict',
  'refused',
  'unavailable',
  'internal',
];

export type CommandResult =
  | {
      ok: true;
      text: string;
      /** Structured result for callers that render it themselves (Discord embeds, JSON APIs). */
      data?: unknown;
    }
  | { ok: false; code: FailureCode; text: string; data?: unknown };

export function ok(text: string, data?: unknown): CommandResult {
  return data === undefined ? { ok: true, text } : { ok: true, text, data };
}

export function fail(code: FailureCode, text: string): CommandResult {
  return { ok: false, code, text };
}

export interface CommandDefinition<Context> {
  /** One or more words, e.g. "list" or "countdown start". */
  name: string;
  aliases?: readonly string[];
  summary: string;
  arguments?: readonly ArgumentSpec[];
  permission: Permission;
  /** GhostServer's older command names are grouped separately in help. */
  legacy?: boolean;
  /**
   * Where it can be run from, when not from everywhere: `['chat']` for what only a player in game
   * can do (`/ready`). Help elsewhere leaves it out, and Discord offers no slash command for it.
   */
  sources?: readonly CommandSource[];
  /** Changes server state: successful runs go to the audit log. */
  mutates?: boolean;
  /** Its answer is for the invoker alone even when not `mutates` (Discord replies privately). */
  replyPrivately?: boolean;
  /** Its result concerns everyone (a ban): front ends with a public channel post it there too. */
  announce?: boolean;
  run(context: Context, args: ArgumentValues, invoker: Invoker): CommandResult | Promise<CommandResult>;
}

export interface AuditEntry {
  invoker: Invoker;
  command: string;
  args: ArgumentValues;
  result: CommandResult;
}

export interface RegistryOptions {
  /** Called after every successful command that changes state. */
  audit?: (entry: AuditEntry) => void;
  /** Called when a handler throws (a bug, or an unexpected failure such as a full disk). */
  onError?: (command: string, error: unknown) => void;
}

const MAX_NAME_WORDS = 3;

const normalise = (name: string) => name.trim().toLowerCase().replace(/\s+/g, ' ');

/** The lowest of some levels: who may run at least one of these commands. */
export function lowestPermission(definitions: readonly { permission: Permission }[]): Permission {
  return definitions.reduce<Permission>(
    (low, definition) => (PERMISSION_RANK[definition.permission] < PERMISSION_RANK[low] ? definition.permission : low),
    'admin',
  );
}

/**
 * What an invoker types before a command name: the `prefix` it says, else `/` in SAR chat (the
 * default `[plugins] command_prefix`), else nothing.
 */
export function commandPrefix(invoker: Invoker): string {
  return invoker.prefix ?? (invoker.source === 'chat' ? '/' : '');
}

export class CommandRegistry<Context> {
  private readonly byName = new Map<string, CommandDefinition<Context>>();
  private readonly definitions: CommandDefinition<Context>[] = [];

  constructor(
    private readonly context: Context,
    private readonly options: RegistryOptions = {},
  ) {}

  register(definition: CommandDefinition<Context>): void {
    for (const name of [definition.name, ...(definition.aliases ?? [])]) {
      const key = name.toLowerCase();
      if (this.byName.has(key)) throw new Error(`command "${name}" is already registered`);
      if (key.split(' ').length > MAX_NAME_WORDS) throw new Error(`command "${name}" has too many words`);
    }
    for (const name of [definition.name, ...(definition.aliases ?? [])])
      this.byName.set(name.toLowerCase(), definition);
    this.definitions.push(definition);
  }

  /** Removes a command and its aliases (a plugin that failed to load). */
  unregister(name: string): void {
    const definition = this.find(name);
    if (definition === undefined) return;
    for (const key of [definition.name, ...(definition.aliases ?? [])]) this.byName.delete(key.toLowerCase());
    this.definitions.splice(this.definitions.indexOf(definition), 1);
  }

  list(): readonly CommandDefinition<Context>[] {
    return this.definitions;
  }

  find(name: string): CommandDefinition<Context> | undefined {
    return this.byName.get(normalise(name));
  }

  /** The group a word (or words) starts: "kick" → kick name, kick id, kick ip; none for "list". */
  members(group: string): CommandDefinition<Context>[] {
    const prefix = `${normalise(group)} `;
    return this.definitions.filter((definition) => definition.name.toLowerCase().startsWith(prefix));
  }

  /**
   * Every form a name takes that the invoker may run: the command of that name, then its group's
   * members. "ban" → the older `ban <name...>`, then ban name, ban id, ban ip, ban list.
   */
  forms(name: string, invoker: Invoker): CommandDefinition<Context>[] {
    const definition = this.find(name);
    return [...(definition !== undefined ? [definition] : []), ...this.members(name)].filter((form) =>
      permits(invoker, form),
    );
  }

  /** `kick id <id> [reason...]`, with the invoker's prefix (`/kick id ...` in chat). */
  usage(definition: CommandDefinition<Context>, invoker?: Invoker): string {
    const parts = (definition.arguments ?? []).map((arg) => {
      const label = arg.choices ? arg.choices.join('|') : arg.type === 'rest' ? `${arg.name}...` : arg.name;
      return arg.optional ? `[${label}]` : `<${label}>`;
    });
    return [`${invoker === undefined ? '' : commandPrefix(invoker)}${definition.name}`, ...parts].join(' ');
  }

  /** "usage: X" for one form, or "usage:" and one indented line per form. */
  usageText(forms: readonly CommandDefinition<Context>[], invoker: Invoker): string {
    if (forms.length === 1) return `usage: ${this.usage(forms[0]!, invoker)}`;
    return ['usage:', ...forms.map((form) => `  ${this.usage(form, invoker)}`)].join('\n');
  }

  /** Runs a typed command line such as `kick name "Some Player"`. */
  async execute(line: string, invoker: Invoker): Promise<CommandResult> {
    const tokens = tokenize(line);
    if (tokens.length === 0) return fail('unknown_command', 'empty command');
    const match = this.resolve(tokens);
    if (match === undefined)
      return this.incomplete(
        tokens.map((token) => token.text),
        invoker,
      );
    const { definition, words } = match;
    if (!reachable(invoker.source, definition)) return this.elsewhere(definition);
    if (!permits(invoker, definition)) return this.forbidden(definition);
    const parsed = this.parseArguments(definition, line, tokens, words);
    if (!parsed.ok)
      return fail('bad_arguments', `${parsed.error}\n${this.usageText(this.forms(definition.name, invoker), invoker)}`);
    return this.invoke(definition, parsed.values, invoker);
  }

  /** Runs a command with arguments already split (Discord options, plugin calls, the HTTP API). */
  async run(name: string, args: ArgumentValues, invoker: Invoker): Promise<CommandResult> {
    const definition = this.find(name);
    if (definition === undefined) return this.incomplete(normalise(name).split(' '), invoker);
    if (!reachable(invoker.source, definition)) return this.elsewhere(definition);
    if (!permits(invoker, definition)) return this.forbidden(definition);
    const checked = this.checkValues(definition, args);
    if (!checked.ok) return fail('bad_arguments', `${checked.error}\nusage: ${this.usage(definition, invoker)}`);
    return this.invoke(definition, checked.values, invoker);
  }

  private elsewhere(definition: CommandDefinition<Context>): CommandResult {
    const where = (definition.sources ?? []).map((source) =>
      source === 'chat' ? `SAR's chat (/${definition.name})` : `the ${source}`,
    );
    return fail('refused', `"${definition.name}" is run from ${where.join(' or ')}`);
  }

  private forbidden(definition: CommandDefinition<Context>): CommandResult {
    return fail('forbidden', `"${definition.name}" needs ${definition.permission} permission`);
  }

  /**
   * No command is named by the first words: a group word without one of its subcommands (`kick`,
   * `whitelist`, `kick bob`) gets the group's usage; anything else is unknown.
   */
  private incomplete(words: readonly string[], invoker: Invoker): CommandResult {
    for (let count = Math.min(MAX_NAME_WORDS - 1, words.length); count >= 1; count--) {
      const group = words.slice(0, count).join(' ').toLowerCase();
      const members = this.members(group);
      if (members.length === 0) continue;
      const runnable = members.filter((member) => permits(invoker, member));
      if (runnable.length === 0)
        return fail('forbidden', `"${group}" commands need ${lowestPermission(members)} permission`);
      const next = words[count];
      const what =
        next === undefined ? `"${group}" needs one of its subcommands` : oneLine`"${next}" is not a ${group} command`;
      return fail('bad_arguments', `${what}\n${this.usageText(runnable, invoker)}`);
    }
    return fail(
      'unknown_command',
      oneLine`unknown command "${words[0] ?? ''}"; type "${commandPrefix(invoker)}help" for the list`,
    );
  }

  private async invoke(
    definition: CommandDefinition<Context>,
    args: ArgumentValues,
    invoker: Invoker,
  ): Promise<CommandResult> {
    let result: CommandResult;
    try {
      result = await definition.run(this.context, args, invoker);
    } catch (error) {
      this.options.onError?.(definition.name, error);
      const message = error instanceof Error ? error.message : String(error);
      // The store's DatabaseError (src/db/errors.ts): the disk or the database is at fault, not the command.
      if (error instanceof Error && error.name === 'DatabaseError')
        return fail('unavailable', oneLine`"${definition.name}" could not be done: ${message}`);
      return fail('internal', oneLine`"${definition.name}" failed: ${message}`);
    }
    if (result.ok && definition.mutates) {
      try {
        this.options.audit?.({ invoker, command: definition.name, args, result });
      } catch (error) {
        // The action happened; failing to record it must not report it as not done.
        this.options.onError?.('audit', error);
      }
    }
    return result;
  }

  /** The longest registered name made of the first words of the line. */
  private resolve(tokens: Token[]): { definition: CommandDefinition<Context>; words: number } | undefined {
    for (let words = Math.min(MAX_NAME_WORDS, tokens.length); words >= 1; words--) {
      const name = tokens
        .slice(0, words)
        .map((token) => token.text.toLowerCase())
        .join(' ');
      const definition = this.byName.get(name);
      if (definition !== undefined) return { definition, words };
    }
    return undefined;
  }

  private parseArguments(
    definition: CommandDefinition<Context>,
    line: string,
    tokens: Token[],
    first: number,
  ): { ok: true; values: ArgumentValues } | { ok: false; error: string } {
    const raw: Record<string, string | undefined> = {};
    let index = first;
    for (const spec of definition.arguments ?? []) {
      if (spec.type === 'rest') {
        raw[spec.name] = index < tokens.length ? restOfLine(line, tokens, index) : undefined;
        index = tokens.length;
      } else {
        raw[spec.name] = tokens[index]?.text;
        index++;
      }
    }
    if (index < tokens.length) return { ok: false, error: oneLine`too many arguments (from "${tokens[index]!.text}")` };
    return this.checkValues(definition, raw);
  }

  private checkValues(
    definition: CommandDefinition<Context>,
    input: ArgumentValues,
  ): { ok: true; values: ArgumentValues } | { ok: false; error: string } {
    const values: ArgumentValues = {};
    for (const spec of definition.arguments ?? []) {
      const given = input[spec.name];
      // An explicit "" is a value (it clears optional text); only a required argument needs content.
      if (given === undefined || (given === '' && !spec.optional)) {
        if (!spec.optional) return { ok: false, error: `missing ${spec.name}` };
        continue;
      }
      if (spec.type === 'integer') {
        const text = String(given).trim();
        if (!/^-?\d+$/.test(text))
          return { ok: false, error: oneLine`${spec.name} must be a whole number, got "${text}"` };
        const number = Number(text);
        if (spec.min !== undefined && number < spec.min)
          return { ok: false, error: `${spec.name} must be at least ${spec.min}` };
        if (spec.max !== undefined && number > spec.max)
          return { ok: false, error: `${spec.name} must be at most ${spec.max}` };
        values[spec.name] = number;
      } else if (spec.choices !== undefined) {
        const choice = String(given).toLowerCase();
        if (!spec.choices.includes(choice)) {
          return {
            ok: false,
            error: oneLine`${spec.name} must be one of ${spec.choices.join(', ')}, got "${String(given)}"`,
          };
        }
        values[spec.name] = choice;
      } else {
        values[spec.name] = String(given);
      }
    }
    return { ok: true, values };
  }
}
