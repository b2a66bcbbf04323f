/**
 * Splits a command line into words the way operators expect from a shell: whitespace separates,
 * "double" or 'single' quotes group, and a backslash escapes the next character inside double
 * quotes or outside quotes. Each token remembers where it started so that a "rest of the line"
 * argument (a chat message, console commands for a countdown) can keep its original spacing.
 */

export interface Token {
  text: string;
  /** Offset in the line where the token (including any opening quote) starts. */
  start: number;
  quoted: boolean;
}

export class TokenizeError extends Error {}

export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < line.length) {
    while (index < line.length && /\s/.test(line[index]!)) index++;
    if (index >= line.length) break;
    const start = index;
    let text = '';
    let quoted = false;
    while (index < line.length && !/\s/.test(line[index]!)) {
      const char = line[index]!;
      if (char === '"' || char === "'") {
        quoted = true;
        const close = char;
        index++;
        while (index < line.length && line[index] !== close) {
          if (close === '"' && line[index] === '\\' && index + 1 < line.length) index++;
          text += line[index];
          index++;
        }
        if (index >= line.length) throw new TokenizeError(`unterminated ${close} quote`);
        index++;
      } else if (char === '\\' && index + 1 < line.length) {
        text += line[index + 1];
        index += 2;
      } else {
        text += char;
        index++;
      }
    }
    tokens.push({ text, start, quoted });
  }
  return tokens;
}

/** The rest of the line from a token on: verbatim, or unquoted if it is one quoted token. */
export function restOfLine(line: string, tokens: Token[], from: number): string {
  const first = tokens[from];
  if (first === undefined) return '';
  if (from === tokens.length - 1 && first.quoted) return first.text;
  return line.slice(first.start).trim();
}
