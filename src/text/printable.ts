/**
 * Untrusted text made safe to show on one line: a player's name or map, chat, a ban reason, a
 * Discord member's name — anything a client or a remote user chose. Every character that would
 * act rather than be seen is shown as an escape instead:
 *
 * - line breaks and every other C0 or C1 control character, and DEL: `\n`, `\r`, `\t`, `\x1b`
 *   (ESC, which starts terminal escape sequences), `\x7f`, `\x85`;
 * - line and paragraph separators and the bidi controls that reorder the rest of a line
 *   (U+061C, U+200E–200F, U+202A–202E, U+2066–2069): `\u2028`, `\u202e`;
 * - invisible formatting (every other "format" character: zero-width space, word joiner, soft
 *   hyphen, byte order mark, tag characters) and the blank Hangul fillers used for empty-looking
 *   names: `\u200b`, `\u3164`, `\u{e0041}`; a lone surrogate half: `\ud800`.
 *
 * Zero-width joiners and non-joiners (U+200C, U+200D) are kept between two non-ASCII visible
 * characters, where Persian, Indic scripts and emoji sequences need them, and escaped elsewhere
 * (an invisible character inside "Alice"). Everything else is kept as it is, so names in any
 * script, with accents or emoji, stay readable.
 *
 * Backslashes are kept too, so the output is its own printable form: applying this twice changes
 * nothing, and each layer may apply it (a command to what it embeds, the console to all it
 * writes) without double escapes.
 */

/** Characters that may need escaping; `escapes` decides for the joiners. */
const CANDIDATE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115f\u1160\u3164\uffa0]/gu;
const JOINERS = new Set([0x200c, 0x200d]);
const VISIBLE_NON_ASCII = /^[^\x00-\x7f]$/u;
const VISIBLE = /^[\p{L}\p{M}\p{N}\p{S}]$/u;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The character that ends just before `offset` (a whole surrogate pair when there is one). */
function before(text: string, offset: number): string {
  const low = text.charCodeAt(offset - 1);
  const high = text.charCodeAt(offset - 2);
  if (low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff) return text.slice(offset - 2, offset);
  return offset > 0 ? text.slice(offset - 1, offset) : '';
}

/** The character that starts at `offset`. */
function after(text: string, offset: number): string {
  const codePoint = text.codePointAt(offset);
  return codePoint === undefined ? '' : String.fromCodePoint(codePoint);
}

const joinsScript = (character: string) => VISIBLE_NON_ASCII.test(character) && VISIBLE.test(character);

function escape(character: string): string {
  const named = NAMED[character];
  if (named !== undefined) return named;
  const codePoint = character.codePointAt(0)!;
  const hex = codePoint.toString(16);
  if (codePoint <= 0xff) return `\\x${hex.padStart(2, '0')}`;
  if (codePoint <= 0xffff) return `\\u${hex.padStart(4, '0')}`;
  return `\\u{${hex}}`;
}

/** `text` on one line with every control, bidi and invisible formatting character escaped. */
export function printable(text: string): string {
  return text.replace(CANDIDATE, (character: string, offset: number, whole: string) => {
    const codePoint = character.codePointAt(0)!;
    if (
      JOINERS.has(codePoint) &&
      joinsScript(before(whole, offset)) &&
      joinsScript(after(whole, offset + character.length))
    )
      return character;
    return escape(character);
  });
}

/**
 * Text of several lines made safe to print: the newlines between lines are kept, everything else
 * is as `printable` shows it (so a `\r` or an ESC inside a line is escaped).
 */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/**
 * A template literal whose interpolated values are untrusted: each is shown with `printable`,
 * the literal parts are kept. `` oneLine`Kicked ${client.name} (#${client.id})` ``
 */
export function oneLine(strings: TemplateStringsArray, ...values: unknown[]): string {
  let text = strings[0] ?? '';
  values.forEach((value, index) => {
    text += printable(String(value)) + (strings[index + 1] ?? '');
  });
  return text;
}
