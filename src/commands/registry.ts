/**
 * The command registry: each admin command is defined once (name, aliases, typed arguments,
 * help text, required permission, handler) and run from anywhere — the console today, Discord
 * and plugins later — through `execute` (a typed line) or `run` (already split arguments).
 *
 * Expected failures are values, not exceptions: a handler returns `fail(...)` after checking
 * everything and before changing anything, so a failed command changes nothing. A handler that
 * throws anyway is reported as an internal error, never thrown at the caller.
 */
import { restOfLine, tokenize, type Token } from './tokenize.js';

export type Permission = 'everyone' | 'moderator' | 'admin';
const PERMISSION_RANK: Record<Permission, number> = { everyone: 0, moderator: 1, admin: 2 };

/** Whether an invoker's level is enough for a command. */
export function permits(invoker: Invoker, definition: { permission: Permission }): boolean {
  return PERMISSION_RANK[invoker.permission] >= PERMISSION_RANK[definition.permission];
}

export type CommandSource = 'console' | 'discord' | 'plugin' | 'http' | 'chat';

/** Who runs a command, from where, and what they may do. */
export interface Invoker {
  source: CommandSource;
  name: string;
  permission: Permission;
  /** The SAR client that typed it, for commands run from in-game chat. */
  clientId?: number;
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
  /** Suggest connected players' names or ids where the front end can (Discord autocomplete). */
  complete?: 'player-name' | 'player-id';
}

export type ArgumentValues = Record<string, string | number | undefined>;

/**
 * Why a command failed, as an identifier callers can act on without reading the text: the HTTP
 * API maps it to a status, chat commands pick their reply by it, logs and docs/errors.md name it.
 */
export type FailureCode =
  /** No command by that name (or that group has no such subcommand). */
  | 'unknown_command'
  /** Missing, extra or malformed arguments; the text ends with the usage line. */
  | 'bad_arguments'
  /** The invoker's level is below the command's. */
  | 'forbidden'
  /** What the command names does not exist: no such client, ban, race, preset. */
  | 'not_found'
  /** It already is so: a whitelist entry that exists. */
  | 'conflict'
  /** A rule or a hook said no: a countdown vetoed by a plugin, a length out of range. */
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
  /** Changes server state: successful runs go to the audit log. */
  mutates?: boolean;
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
    return this.byName.get(name.trim().toLowerCase().replace(/\s+/g, ' '));
  }

  usage(definition: CommandDefinition<Context>): string {
    const parts = (definition.arguments ?? []).map((arg) => {
      const label = arg.choices ? arg.choices.join('|') : arg.type === 'rest' ? `${arg.name}...` : arg.name;
      return arg.optional ? `[${label}]` : `<${label}>`;
    });
    return [definition.name, ...parts].join(' ');
  }

  /** Runs a typed command line such as `kick name "Some Player"`. */
  async execute(line: string, invoker: Invoker): Promise<CommandResult> {
    const tokens = tokenize(line);
    if (tokens.length === 0) return fail('unknown_command', 'empty command');
    const match = this.resolve(tokens);
    if (match === undefined)
      return fail('unknown_command', `unknown command "${tokens[0]!.text}"; type "help" for the list`);
    const parsed = this.parseArguments(match.definition, line, tokens, match.words);
    if (!parsed.ok) return fail('bad_arguments', `${parsed.error}\nusage: ${this.usage(match.definition)}`);
    return this.invoke(match.definition, parsed.values, invoker);
  }

  /** Runs a command with arguments already split (Discord options, plugin calls). */
  async run(name: string, args: ArgumentValues, invoker: Invoker): Promise<CommandResult> {
    const definition = this.find(name);
    if (definition === undefined) return fail('unknown_command', `unknown command "${name}"`);
    const checked = this.checkValues(definition, args);
    if (!checked.ok) return fail('bad_arguments', `${checked.error}\nusage: ${this.usage(definition)}`);
    return this.invoke(definition, checked.values, invoker);
  }

  private async invoke(
    definition: CommandDefinition<Context>,
    args: ArgumentValues,
    invoker: Invoker,
  ): Promise<CommandResult> {
    if (!permits(invoker, definition)) {
      return fail('forbidden', `"${definition.name}" needs ${definition.permission} permission`);
    }
    let result: CommandResult;
    try {
      result = await definition.run(this.context, args, invoker);
    } catch (error) {
      this.options.onError?.(definition.name, error);
      return fail('internal', `"${definition.name}" failed: ${(error as Error).message ?? String(error)}`);
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
    if (index < tokens.length) return { ok: false, error: `too many arguments (from "${tokens[index]!.text}")` };
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
        if (!/^-?\d+$/.test(text)) return { ok: false, error: `${spec.name} must be a whole number, got "${text}"` };
        const number = Number(text);
        if (spec.min !== undefined && number < spec.min)
          return { ok: false, error: `${spec.name} must be at least ${spec.min}` };
        if (spec.max !== undefined && number > spec.max)
          return { ok: false, error: `${spec.name} must be at most ${spec.max}` };
        values[spec.name] = number;
      } else if (spec.choices !== undefined) {
        const choice = String(given).toLowerCase();
        if (!spec.choices.includes(choice)) {
          return { ok: false, error: `${spec.name} must be one of ${spec.choices.join(', ')}, got "${String(given)}"` };
        }
        values[spec.name] = choice;
      } else {
        values[spec.name] = String(given);
      }
    }
    return { ok: true, values };
  }
}
