/**
 * The plugins in examples/, loaded the way a server owner would load them (`[plugins] modules`
 * with paths relative to the config file's folder, here the repository root) and exercised by
 * SAR-like clients on real sockets. The decorated classes are only ever loaded by the plugin
 * loader (tsx) at run time; vitest never transforms them.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import type { ServerPacket } from '../src/ghost/protocol/packets.js';
import type { SimClient, SimClientOptions } from '../src/sim/client.js';
import { countPackets, joinApp, startApp, tempDatabasePath } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function startExample(file: string, options: { database?: string; logLines?: string[] } = {}): Promise<App> {
  const lines = options.logLines;
  const logger = lines ? pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) : undefined;
  return startApp({
    configDirectory: root,
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(logger ? { logger } : {}),
    configure: (config) => void (config.plugins.modules = [`./examples/${file}`]),
  });
}

const join = (app: App, name: string, options: Partial<SimClientOptions> = {}): Promise<SimClient> =>
  joinApp(app, name, options);

const isServerMessage = (text: string) => (packet: ServerPacket) =>
  packet.type === 'message' && packet.id === 0 && packet.text === text;

/** Server messages (id 0) a client has received, in order. */
const serverMessages = (client: SimClient): string[] =>
  client.received.flatMap(({ packet }) => (packet.type === 'message' && packet.id === 0 ? [packet.text] : []));

/** Chat a client has received from another client, in order. */
const chatFrom = (client: SimClient, sender: SimClient): string[] =>
  client.received.flatMap(({ packet }) => (packet.type === 'message' && packet.id === sender.id ? [packet.text] : []));

let markers = 0;
/**
 * Sends a server message to everyone and waits until each client has it. Anything the server
 * sent a client before it has then arrived too, so "nothing else came" can be checked.
 */
async function barrier(app: App, ...targets: SimClient[]): Promise<string> {
  const marker = `-- marker ${++markers} --`;
  app.server.broadcastServerMessage(marker);
  await Promise.all(targets.map((client) => client.waitFor(isServerMessage(marker))));
  return marker;
}

describe('examples/ping.ts', () => {
  it('answers /ping to the sender only, and /dm reaches only the named player', async () => {
    const log: string[] = [];
    const app = await startExample('ping.ts', { logLines: log });
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');
    const carol = await join(app, 'Carol');

    alice.sendMessage('/ping');
    await alice.waitFor(isServerMessage('pong!'));
    bob.sendMessage('/dm Carol meet at the elevator');
    await carol.waitFor(isServerMessage('meet at the elevator'));
    const marker = await barrier(app, alice, bob, carol);
    expect(serverMessages(alice)).toEqual(['pong!', marker]);
    expect(serverMessages(bob)).toEqual([marker]);
    expect(serverMessages(carol)).toEqual(['meet at the elevator', marker]);
    // Commands are not relayed as chat.
    expect([
      ...chatFrom(bob, alice),
      ...chatFrom(carol, alice),
      ...chatFrom(alice, bob),
      ...chatFrom(carol, bob),
    ]).toEqual([]);

    // A name that is not connected is an error for the sender; ids work too.
    alice.sendMessage('/dm Nobody hello');
    await alice.waitFor(isServerMessage('no player "Nobody" is connected'));
    alice.sendMessage(`/dm #${bob.id} psst`);
    await bob.waitFor(isServerMessage('psst'));

    // The same commands from the console: respond() becomes the command's result.
    expect(await app.commands.execute('ping', CONSOLE_INVOKER)).toEqual({ ok: true, text: 'pong!' });
    expect((await app.commands.execute('dm Alice from the console', CONSOLE_INVOKER)).ok).toBe(true);
    await alice.waitFor(isServerMessage('from the console'));

    // Ordinary chat is relayed, and the @on(ClientMessage) handler sees it.
    bob.sendMessage('gl everyone');
    await alice.waitFor((packet) => packet.type === 'message' && packet.id === bob.id && packet.text === 'gl everyone');
    const seen = log.map((line) => JSON.parse(line) as { msg: string; message?: string; player?: string });
    expect(seen.filter((entry) => entry.msg === 'chat seen by the example plugin')).toMatchObject([
      { player: 'Bob', message: 'gl everyone' },
    ]);
  });
});

describe('examples/welcome.ts', () => {
  it('greets each joining player privately and counts visits across restarts', async () => {
    const database = tempDatabasePath();
    let app = await startExample('welcome.ts', { database });
    const alice = await join(app, 'Alice');
    await alice.waitFor(isServerMessage('Welcome, Alice!'));
    const bob = await join(app, 'Bob');
    await bob.waitFor(isServerMessage('Welcome, Bob!'));
    const marker = await barrier(app, alice, bob);
    expect(serverMessages(alice)).toEqual(['Welcome, Alice!', marker]);
    expect(serverMessages(bob)).toEqual(['Welcome, Bob!', marker]);

    alice.disconnect();
    await alice.waitForClose();
    const again = await join(app, 'Alice');
    await again.waitFor(isServerMessage('Welcome back, Alice! This is your 2nd visit.'));

    await app.stop('restart');
    app = await startExample('welcome.ts', { database });
    const third = await join(app, 'Alice');
    await third.waitFor(isServerMessage('Welcome back, Alice! This is your 3rd visit.'));
    const bobAgain = await join(app, 'Bob');
    await bobAgain.waitFor(isServerMessage('Welcome back, Bob! This is your 2nd visit.'));
    expect(app.store.pluginData.get('Welcome', 'visits:Alice')).toBe(3);
  });
});

describe('examples/auto-countdown.ts', () => {
  const countdowns = (client: SimClient) =>
    client.received.flatMap(({ packet }) => (packet.type === 'countdown_setup' ? [packet.duration] : []));

  it('starts one countdown when every player is on the start map, again only after someone left it', async () => {
    const app = await startExample('auto-countdown.ts');
    const alice = await join(app, 'Alice');
    const watcher = await join(app, 'Watcher', { spectator: true, map: 'sp_a2_laser_intro' });
    const bob = await join(app, 'Bob', { map: 'sp_a1_intro2' });
    await barrier(app, alice, bob, watcher);
    expect(countdowns(alice)).toEqual([]); // Alice alone, then Bob on another map

    bob.changeMap('sp_a1_intro1'); // the spectator's map does not matter
    await Promise.all(
      [alice, bob, watcher].map((client) => client.waitFor((packet) => packet.type === 'countdown_setup')),
    );
    bob.changeMap('sp_a1_intro1'); // reloading the start map is not a reset
    await barrier(app, alice, bob);
    expect(countdowns(alice)).toEqual([5]);
    expect(countdowns(bob)).toEqual([5]);

    bob.changeMap('sp_a1_intro2');
    bob.changeMap('sp_a1_intro1');
    await alice.waitFor((packet) => packet.type === 'countdown_setup', 2000, alice.received.length);
    await barrier(app, alice);
    expect(countdowns(alice)).toEqual([5, 5]);
  });

  it('is configured by moderators, not by players in chat, and keeps its settings', async () => {
    const app = await startExample('auto-countdown.ts');
    const alice = await join(app, 'Alice');
    alice.sendMessage('/autocountdown mp_coop_start 1 3');
    await alice.waitFor(isServerMessage('Not allowed: "autocountdown" needs moderator permission.'));

    expect(await app.commands.execute('autocountdown mp_coop_start 1 3', CONSOLE_INVOKER)).toEqual({
      ok: true,
      text: 'Auto-countdown: 3 s once 1+ players are all on mp_coop_start',
    });
    expect(app.store.pluginData.get('Auto Countdown', 'settings')).toEqual({
      map: 'mp_coop_start',
      players: 1,
      seconds: 3,
    });
    // A bad value changes nothing (plugin commands report it as their answer).
    expect((await app.commands.execute('autocountdown x 0', CONSOLE_INVOKER)).text).toBe(
      'players must be a whole number, at least 1',
    );
    expect(app.store.pluginData.get('Auto Countdown', 'settings')).toMatchObject({ map: 'mp_coop_start' });
    alice.changeMap('mp_coop_start');
    await alice.waitFor((packet) => packet.type === 'countdown_setup' && packet.duration === 3);
    expect(countPackets(alice, 'countdown_setup')).toBe(1);
  });
});

describe('examples/chat-filter.ts', () => {
  it('drops messages with blocked phrases (telling the sender) and masks words in others', async () => {
    const app = await startExample('chat-filter.ts');
    const alice = await join(app, 'Alice');
    const bob = await join(app, 'Bob');

    alice.sendMessage('free NITRO at discord.gg/abc');
    await alice.waitFor(isServerMessage('Your message was not sent: "discord.gg/" is not allowed here.'));
    alice.sendMessage('Darn it, what the heck!');
    alice.sendMessage('darnation is a fine word');
    await bob.waitFor((packet) => packet.type === 'message' && packet.text === 'darnation is a fine word');
    expect(chatFrom(bob, alice)).toEqual(['**** it, what the ****!', 'darnation is a fine word']);
    expect(serverMessages(bob)).toEqual([]);
  });
});

describe('examples/race-announcer.ts', () => {
  it('refuses a practice race with one runner ready, then calls the leader into each map and lead changes', async () => {
    const app = await startExample('race-announcer.ts');
    const alpha = await join(app, 'Alpha');
    const bravo = await join(app, 'Bravo');
    const ready = async (client: SimClient) => {
      client.sendMessage('/ready');
      await client.waitFor(
        (packet) =>
          packet.type === 'message' && packet.id === 0 && packet.text.startsWith(`${client.options.name} is ready`),
      );
    };

    expect((await app.commands.execute('race open practice run', CONSOLE_INVOKER)).ok).toBe(true);
    await ready(alpha);
    expect(await app.commands.execute('race start 1', CONSOLE_INVOKER)).toEqual({
      ok: false,
      code: 'refused',
      text: 'race start refused: a practice race needs two ready players',
    });
    await barrier(app, alpha);
    expect(countPackets(alpha, 'countdown_setup')).toBe(0);
    await ready(bravo);
    const go = app.server.bus.once('raceStarted');
    expect((await app.commands.execute('race start 1', CONSOLE_INVOKER)).ok).toBe(true);
    await Promise.all([go, alpha.waitFor((packet) => packet.type === 'countdown_setup')]);

    const mark = bravo.mark();
    alpha.changeMap('sp_a1_intro2', 2550, 2550); // 42.5 s by SAR's timer
    await bravo.waitFor(isServerMessage('Alpha leads into Portal Carousel, 0:42.5'), 2000, mark);
    bravo.changeMap('sp_a1_intro2'); // behind Alpha: nothing to say
    bravo.changeMap('sp_a1_intro3', 3000, 5550);
    await bravo.waitFor(isServerMessage('Bravo leads into Portal Gun, 1:32.5'), 2000, mark);
    const marker = await barrier(app, alpha, bravo);
    expect(serverMessages(bravo).slice(-4)).toEqual([
      'Alpha leads into Portal Carousel, 0:42.5',
      'Bravo takes the lead!',
      'Bravo leads into Portal Gun, 1:32.5',
      marker,
    ]);
  });
});
