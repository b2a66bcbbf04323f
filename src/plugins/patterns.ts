/**
 * Command patterns as plugin authors write them: `dm <player> <message...>`.
 * Leading plain words are the command's name; then `<arg>` is a required word, `[arg]` an
 * optional one, `<arg...>` / `[arg...]` the rest of the line, and an argument called `player`
 * (or `client`) is the connected client with that name or id.
 */
import type { ArgumentSpec } from '../commands/registry.js';

export interface ParsedPattern {
  name: string;
  arguments: ArgumentSpec[];
  /** Names of the arguments that resolve to a connected client. */
  clientArguments: Set<string>;
}

const CLIENT_ARGUMENTS = new Set(['player', 'client']);

export class PatternError extends Error {}

export function parsePattern(pattern: string): ParsedPattern {
  const words = pattern.trim().split(/\s+/).filter(Boolean);
  const nameWords: string[] = [];
  const args: ArgumentSpec[] = [];
  const clientArguments = new Set<string>();
  for (const word of words) {
    const match = /^([<[])([A-Za-z][\w-]*)(\.\.\.)?([>\]])$/.exec(word);
    if (match === null) {
      if (args.length > 0) throw new PatternError(`"${pattern}": plain word "${word}" after the arguments`);
      if (!/^[a-z0-9][\w-]*$/i.test(word))
        throw new PatternError(`"${pattern}": "${word}" is not a valid command word`);
      nameWords.push(word.toLowerCase());
      continue;
    }
    const [, open, name, rest, close] = match;
    if ((open === '<') !== (close === '>')) throw new PatternError(`"${pattern}": mismatched brackets in "${word}"`);
    const optional = open === '[';
    const previous = args[args.length - 1];
    if (previous?.type === 'rest') throw new PatternError(`"${pattern}": nothing can follow "${previous.name}..."`);
    if (previous?.optional && !optional)
      throw new PatternError(`"${pattern}": required "${name}" after an optional argument`);
    const isClient = CLIENT_ARGUMENTS.has(name!.toLowerCase()) && rest === undefined;
    if (isClient) clientArguments.add(name!);
    args.push({
      name: name!,
      type: rest !== undefined ? 'rest' : 'word',
      ...(optional ? { optional: true } : {}),
      ...(isClient ? { complete: 'player-name' as const } : {}),
    });
  }
  if (nameWords.length === 0) throw new PatternError(`"${pattern}": no command name`);
  if (nameWords.length > 3) throw new PatternError(`"${pattern}": at most three words of command name`);
  return { name: nameWords.join(' '), arguments: args, clientArguments };
}
