/**
 * The interactive console: one command per line from stdin — a terminal or a pipe
 * (`echo "say hi" | ghosting`) — run through the command registry with admin rights, results
 * printed on stdout. Lines run one after another, in order, even when a command is slow.
 *
 * Results carry text that players and remote users chose (names, maps, reasons). Commands show
 * it with `printable` already; as a second guard the console itself never writes a control
 * character but the newlines between the lines it prints: an ESC, a carriage return or a bidi
 * override anywhere in a result is printed as an escape (`\x1b`), never sent to the terminal.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { CONSOLE_INVOKER, type CommandRegistry } from './commands/registry.js';
import { printableLines } from './text/printable.js';

export interface ConsoleOptions {
  input: Readable;
  output: Writable;
  /** Show a prompt (only useful on a terminal). */
  prompt?: boolean;
}

export interface RunningConsole {
  /** Resolves when the input has ended and every line read has been run. */
  readonly finished: Promise<void>;
  close(): void;
}

export function startConsole<Context>(registry: CommandRegistry<Context>, options: ConsoleOptions): RunningConsole {
  const lines = createInterface({ input: options.input, terminal: false });
  const prompt = () => {
    if (options.prompt) options.output.write('> ');
  };
  let queue = Promise.resolve();
  lines.on('line', (line) => {
    queue = queue.then(async () => {
      if (line.trim() === '') return prompt();
      const result = await registry.execute(line, CONSOLE_INVOKER);
      options.output.write(`${printableLines(result.ok ? result.text : `error: ${result.text}`)}\n`);
      prompt();
    });
  });
  const finished = new Promise<void>((resolve) => lines.once('close', () => void queue.then(resolve)));
  prompt();
  return { finished, close: () => lines.close() };
}
