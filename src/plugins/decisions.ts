/**
 * What a hook may answer, checked before anything acts on it. The contracts are exact: the keys
 * of `ConnectDecision`, `ChatDecision`, `RaceStartDecision` and `CountdownDecision` and nothing else, of the right
 * types and within these lengths. A key whose value is `undefined` counts as absent. Anything
 * else is a broken plugin, and the host refuses what the hook guards (docs/plugins.md, "Hooks").
 */
import { printable } from '../text/printable.js';

/** The longest refusal reason a hook may give (it reaches the log, events and command answers). */
export const MAX_REASON_LENGTH = 200;
/** The longest chat text a rewrite may produce, unless the original message was longer. */
export const MAX_REWRITE_LENGTH = 1024;
/** The longest plugin name (it names the plugin in logs and refusal reasons). */
export const MAX_PLUGIN_NAME_LENGTH = 64;

export type Reading<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A beforeConnect, beforeRaceStart or beforeCountdown answer, read: no reason means the caller's default. */
export type GateAnswer = { allow: true } | { allow: false; reason: string | undefined };
export type ChatAnswer = { action: 'allow' } | { action: 'drop' } | { action: 'rewrite'; text: string };

/** "a number", "null", "an array": for saying what a plugin gave instead. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

const invalid = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

/** The defined keys of a plain object, or a problem. */
function fieldsOf(value: unknown, allowed: readonly string[], shape: string): Reading<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return invalid(`answered ${kindOf(value)}, not ${shape} or nothing`);
  const fields: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    if (!allowed.includes(key)) return invalid(`answered an object with an unknown key "${printable(key)}"`);
    fields[key] = field;
  }
  return { ok: true, value: fields };
}

/** Whether text shows as it is: no control, line-breaking, bidi or invisible characters. */
export function isPrintable(text: string): boolean {
  return printable(text) === text;
}

/** Reads a `ConnectDecision`, `RaceStartDecision` or `CountdownDecision`. */
export function readGate(answer: unknown): Reading<GateAnswer> {
  if (answer === undefined) return { ok: true, value: { allow: true } };
  const read = fieldsOf(answer, ['allow', 'reason'], '{ allow, reason? }');
  if (!read.ok) return read;
  const { allow, reason } = read.value;
  if (typeof allow !== 'boolean') return invalid(`answered allow: ${kindOf(allow)}, not true or false`);
  if (allow) return reason === undefined ? { ok: true, value: { allow } } : invalid('gave a reason with allow: true');
  if (reason === undefined) return { ok: true, value: { allow, reason: undefined } };
  if (typeof reason !== 'string') return invalid(`gave a reason that is ${kindOf(reason)}, not a string`);
  if (reason.length > MAX_REASON_LENGTH)
    return invalid(`gave a reason of ${reason.length} characters (at most ${MAX_REASON_LENGTH})`);
  if (!isPrintable(reason)) return invalid('gave a reason with control or invisible characters');
  return { ok: true, value: { allow, reason: reason.trim() === '' ? undefined : reason } };
}

/** Reads a `ChatDecision` about `original`. */
export function readChat(answer: unknown, original: string): Reading<ChatAnswer> {
  if (answer === undefined) return { ok: true, value: { action: 'allow' } };
  const read = fieldsOf(answer, ['action', 'text'], '{ action, text? }');
  if (!read.ok) return read;
  const { action, text } = read.value;
  if (action === 'allow' || action === 'drop') {
    return text === undefined ? { ok: true, value: { action } } : invalid(`gave a text with action "${action}"`);
  }
  if (action !== 'rewrite') {
    const given = typeof action === 'string' ? `"${printable(action.slice(0, 40))}"` : kindOf(action);
    return invalid(`answered action ${given}, not "allow", "rewrite" or "drop"`);
  }
  if (typeof text !== 'string') return invalid(`answered "rewrite" with a text that is ${kindOf(text)}, not a string`);
  if (text.trim() === '') return invalid('answered "rewrite" with an empty text (to drop a message, answer "drop")');
  const limit = Math.max(MAX_REWRITE_LENGTH, original.length);
  if (text.length > limit) return invalid(`answered "rewrite" with ${text.length} characters (at most ${limit})`);
  return { ok: true, value: { action, text } };
}

/** Why a plugin's name cannot be used, or undefined if it can. */
export function checkPluginName(name: unknown): string | undefined {
  if (typeof name !== 'string') return `its name is ${kindOf(name)}, not a string`;
  if (name.trim() === '') return 'its name is empty';
  if (name.length > MAX_PLUGIN_NAME_LENGTH)
    return `its name is ${name.length} characters long (at most ${MAX_PLUGIN_NAME_LENGTH})`;
  if (!isPrintable(name)) return 'its name has control or invisible characters';
  return undefined;
}
