/**
 * The console of the real entry point, fed through a pipe like `echo "say hi" | ghosting`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandRegistry, fail, ok } from '../src/commands/registry.js';
import { startConsole } from '../src/console.js';
import { SimClient } from '../src/sim/client.js';
import { barrier, until } from './helpers.js';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const children: ChildProcess[] = [];
const clients: SimClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  command(line: string): void;
}

function start(extraArgs: string[] = [], extraConfig = ''): Promise<Running> {
  const dir = mkdtempSync(joinPath(tmpdir(), 'ghosting-console-'));
  const config = joinPath(dir, 'config.toml');
  writeFileSync(
    config,
    `[server]\nhostname = "127.0.0.1"\nport = 0\n[database]\npath = ${JSON.stringify(joinPath(dir, 'data', 'ghosting.db'))}\n${extraConfig}`,
  );
  const child = spawn(process.execPath, [entry, '--config', config, ...extraArgs], {
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stdout}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = /"port":(\d+),"msg":"ghost server listening/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          port: Number(match[1]),
          stdout: () => stdout,
          command: (line) => child.stdin!.write(`${line}\n`),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${stdout}`)));
  });
}

async function join(port: number, name: string): Promise<SimClient> {
  const client = await SimClient.connect({ host: '127.0.0.1', port, name, map: 'sp_a1_intro1' });
  clients.push(client);
  return client;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  );

describe('console on standard input', () => {
  it('runs commands from a pipe against real clients, prints results and usage, and stops on "stop"', async () => {
    const server = await start();
    const alice = await join(server.port, 'Alice');
    const bob = await join(server.port, 'Bob');

    server.command('say hi from the console');
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({
      text: 'hi from the console',
    });

    server.command('list');
    await until(() => server.stdout().includes('2 clients:'), 3000, 'the list output');
    expect(server.stdout()).toContain('#1 Alice (127.0.0.1) on sp_a1_intro1');

    server.command('ban name');
    await until(
      () => server.stdout().includes('error: missing name\nusage: ban name <name> [reason...]'),
      3000,
      'usage',
    );

    server.command('kick name Alice');
    await alice.waitForClose();
    await bob.waitFor((p) => p.type === 'disconnect' && p.id === alice.id);

    server.command('stop');
    expect(await exited(server.child)).toBe(0);
    await bob.waitForClose();
  });

  it('prints names that clients chose on one line each and never sends the terminal an escape sequence', async () => {
    const server = await start();
    await join(server.port, 'Alice');
    await join(server.port, 'Bob\nFake line');
    await join(server.port, '\u001b[31mRed\u001b]0;title\u0007');
    server.command('list');
    await until(() => server.stdout().includes('3 clients:\n'), 3000, 'the list output');
    // The console writes a result in one go: the three lines after the header are the list.
    const after = server.stdout().split('3 clients:\n')[1]!.split('\n');
    expect(after.slice(0, 3)).toEqual([
      '#1 Alice (127.0.0.1) on sp_a1_intro1',
      '#2 Bob\\nFake line (127.0.0.1) on sp_a1_intro1',
      '#3 \\x1b[31mRed\\x1b]0;title\\x07 (127.0.0.1) on sp_a1_intro1',
    ]);
    expect(server.stdout().split('\n')).not.toContain('Fake line (127.0.0.1) on sp_a1_intro1');
    expect(server.stdout()).not.toContain('\u001b');
    expect(server.stdout()).not.toContain('\u0007');
    server.child.kill('SIGTERM');
    expect(await exited(server.child)).toBe(0);
  });

  it('never writes a control character but the newlines between lines, whatever a command returns', async () => {
    const commands = new CommandRegistry({});
    const hostile = 'A\u001b[2J\rB\u202eC\u2066D\u0000E\u009bF\u007f\u2028G';
    commands.register({ name: 'good', summary: '', permission: 'everyone', run: () => ok(`one\n${hostile}`) });
    commands.register({ name: 'bad', summary: '', permission: 'everyone', run: () => fail('refused', hostile) });
    const input = new PassThrough();
    const output = new PassThrough();
    let written = '';
    output.setEncoding('utf8').on('data', (text: string) => (written += text));
    const running = startConsole(commands, { input, output });
    input.end('good\nbad\n');
    await running.finished;
    const escaped = 'A\\x1b[2J\\rB\\u202eC\\u2066D\\x00E\\x9bF\\x7f\\u2028G';
    expect(written).toBe(`one\n${escaped}\nerror: ${escaped}\n`);
  });

  it('keeps serving after its input ends, as with `echo "say hi" | ghosting`', async () => {
    const server = await start();
    const alice = await join(server.port, 'Alice');
    server.command('say hello');
    server.child.stdin!.end();
    expect(await alice.waitFor((p) => p.type === 'message')).toMatchObject({ text: 'hello' });
    // The end of the input was read with "say hello": the server is still answering after it.
    await barrier(alice);
    expect(server.child.exitCode).toBeNull();
    server.child.kill('SIGTERM');
    expect(await exited(server.child)).toBe(0);
  });

  it('ignores standard input with --no-cli', async () => {
    const server = await start(['--no-cli']);
    server.command('stop');
    // A client joins and gets a PING answered after the line was written: had the server read
    // "stop", it would have been handled long before.
    const alice = await join(server.port, 'Alice');
    await barrier(alice);
    expect(server.child.exitCode).toBeNull();
    expect(server.stdout()).not.toContain('Stopping');
    server.child.kill('SIGTERM');
    expect(await exited(server.child)).toBe(0);
  });

  it('loads a TypeScript plugin listed in config.toml: /ping in SAR chat answers pong! to that player', async () => {
    const plugin = fileURLToPath(new URL('../examples/ping.ts', import.meta.url));
    const server = await start(['--no-cli'], `[plugins]\nmodules = [${JSON.stringify(plugin)}]\n`);
    const alice = await join(server.port, 'Alice');
    const bob = await join(server.port, 'Bob');
    alice.sendMessage('/ping');
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0)).toMatchObject({ text: 'pong!' });
    bob.sendMessage('/dm Alice psst');
    expect(await alice.waitFor((p) => p.type === 'message' && p.id === 0 && p.text === 'psst')).toBeTruthy();
    await barrier(bob);
    expect(bob.received.filter((r) => r.packet.type === 'message')).toEqual([]);
    server.child.kill('SIGTERM');
    expect(await exited(server.child)).toBe(0);
  });
});
