/**
 * Splits a command line into words the way operators expect: whitespace separates, a word that
 * starts with a "double" or 'single' quote runs to the matching quote, and a backslash escapes
 * the next character. Quotes inside a word (don't) and a quote that is never closed are plain
 * characters, so chat like `/dm Bob don't forget` works. Each token remembers where it started
 * so that a "rest of the line" argument keeps its original text.
 */

export interface Token {
  text: string;
  /** Offset in the line where the token (including any opening quote) starts. */
  start: number;
  quoted: boolean;
}

export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < line.length) {
    while (index < line.length && /\s/.test(line[index]!)) index++;
    if (index >= line.length) break;
    const start = index;
    const quote = line[index];
    if ((quote === '"' || quote === "'") && line.indexOf(quote, index + 1) !== -1) {
      let text = '';
      index++;
      while (line[index] !== quote) {
        if (quote === '"' && line[index] === '\\' && index + 1 < line.length) index++;
        text += line[index];
        index++;
      }
      index++;
      tokens.push({ text, start, quoted: true });
      continue;
    }
    let text = '';
    while (index < line.length && !/\s/.test(line[index]!)) {
      if (line[index] === '\\' && index + 1 < line.length) index++;
      text += line[index];
      index++;
    }
    tokens.push({ text, start, quoted: false });
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
