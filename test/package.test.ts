/**
 * The published package as a separate project sees it: `npm pack`, unpacked into a fresh
 * project's node_modules (its dependencies linked from ours, so no network is needed), then a
 * plugin that imports 'ghosting' is type-checked and the server is created, started and stopped.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('npm package', () => {
  it('contains what users need and type-checks and runs in a separate project', { timeout: 120_000 }, () => {
    const project = mkdtempSync(join(tmpdir(), 'ghosting-consumer-'));
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', project], { cwd: root, encoding: 'utf8' }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((file) => file.path);
    for (const needed of [
      'dist/lib.js',
      'dist/lib.d.ts',
      'dist/index.js',
      'drizzle/meta/_journal.json',
      'config.toml',
      'docs/plugins.md',
    ]) {
      expect(files).toContain(needed);
    }
    expect(
      files.filter((file) => file.startsWith('test/') || file.startsWith('src/') || file.startsWith('bench/')),
    ).toEqual([]);

    const modules = join(project, 'node_modules');
    mkdirSync(join(modules, 'ghosting'), { recursive: true });
    execFileSync('tar', [
      '-xzf',
      join(project, packed[0]!.filename),
      '-C',
      join(modules, 'ghosting'),
      '--strip-components=1',
    ]);
    for (const entry of readdirSync(join(root, 'node_modules'))) {
      if (entry.startsWith('.')) continue;
      symlinkSync(join(root, 'node_modules', entry), join(modules, entry), 'dir');
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['plugin.ts', 'run.ts'],
      }),
    );
    writeFileSync(
      join(project, 'plugin.ts'),
      [
        "import { command, on, Plugin, ServerEvent, type Entrant, type IClient, type PluginHooks, type RaceSnapshot, type RaceStartDecision, type Split } from 'ghosting';",
        'export class Hello extends Plugin implements PluginHooks {',
        "  override name = 'Hello';",
        '  beforeRaceStart(race: RaceSnapshot): RaceStartDecision {',
        "    return race.entrants.some((entrant: Entrant) => entrant.status === 'ready') ? undefined : { allow: false, reason: 'nobody is ready' };",
        '  }',
        '  @on(ServerEvent.RaceSplit)',
        '  onSplit(race: RaceSnapshot, entrant: Entrant, split: Split) {',
        "    this.log.info({ race: race.id, player: entrant.name, map: split.toMap, ticks: split.ticks ?? undefined }, 'split');",
        '  }',
        "  @command('hello [who]', 'Says hello')",
        "  async onHello(who?: string) { await this.respond(`hello ${who ?? 'world'}`); }",
        '  @on(ServerEvent.ClientConnect)',
        '  async onJoin(client: IClient) { await this.respondToClient(client, `hi ${client.name}`); }',
        '  @on(ServerEvent.ClientDisconnect)',
        "  onLeave(client: IClient, reason: string) { this.log.info({ player: client.name, reason }, 'left'); }",
        '}',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'run.ts'),
      [
        "import { containPluginError, createServer, type GhostingServer } from 'ghosting';",
        "const server: GhostingServer = createServer({ server: { hostname: '127.0.0.1', port: 0 }, database: { path: 'data/x.db' }, plugins: { modules: ['./plugin.ts'] } }, { configDirectory: process.cwd() });",
        'await server.start();',
        "const result = await server.command('hello tests');",
        "console.log(JSON.stringify({ port: server.port, result, pluginError: containPluginError(new Error('not a plugin')) }));",
        "await server.stop('done');",
      ].join('\n'),
    );
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], {
      cwd: project,
      stdio: 'pipe',
    });

    // Run it as a user would: the compiled script would do the same; tsx runs the .ts directly.
    const output = execFileSync(process.execPath, ['--import', 'tsx', 'run.ts'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 30_000,
    });
    const report = JSON.parse(output.trim().split('\n').pop()!) as {
      port: number;
      result: { ok: boolean; text: string };
      pluginError: boolean;
    };
    expect(report.port).toBeGreaterThan(0);
    expect(report.result).toEqual({ ok: true, text: 'hello tests' });
    expect(report.pluginError).toBe(false); // an error outside every plugin is not a plugin's
  });
});
