/**
 * The race routes of the management API over real HTTP, against the real app, SAR-like clients
 * typing /ready and sending map changes with SAR's split ticks, and a real SQLite file.
 */
import { describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import type { App } from '../src/app.js';
import { Plugin, type CountdownInfo, type PluginHooks } from '../src/plugins/plugin.js';
import type { RaceSnapshot } from '../src/races/types.js';
import type { SimClient } from '../src/sim/client.js';
import { barrier, joinApp, startApp as startTestApp, tempDatabasePath } from './helpers.js';

const TOKEN = 'race-night-token';

const startApp = (options: { database?: string; token?: string } = {}): Promise<App> =>
  startTestApp({
    ...(options.database !== undefined ? { database: options.database } : {}),
    overrides: { http: { enabled: true, hostname: '127.0.0.1', port: 0, token: options.token ?? TOKEN } },
  });

/** Every player connects from an address of its own, so that the no-address check means something. */
let nextAddress = 70;
const usedAddresses: string[] = [];
const join = (app: App, name: string): Promise<SimClient> => {
  const localAddress = `127.0.0.${nextAddress++}`;
  usedAddresses.push(localAddress);
  return joinApp(app, name, { localAddress, map: 'sp_a1_intro1' });
};

interface Reply {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

/** Every JSON body the API gave in this file, for the no-address check. */
const answered: unknown[] = [];

async function call(app: App, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`http://127.0.0.1:${app.http.port}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await response.json()) as Record<string, unknown>;
  answered.push(json);
  return { status: response.status, json, headers: response.headers } satisfies Reply;
}

const get = async (app: App, path: string) => {
  const reply = await call(app, 'GET', path);
  expect(reply.status, JSON.stringify(reply.json)).toBe(200);
  return reply.json;
};

/** Every string anywhere in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
  return [];
}

/** No value (nor key) in any answer holds the address a client came from, nor looks like one. */
function expectNoAddresses(app: App, replies: unknown[]): void {
  const connected = app.server.listClients().map((client) => client.address);
  expect(connected.length).toBeGreaterThan(0);
  const texts = replies.flatMap(strings);
  for (const address of new Set([...connected, ...usedAddresses])) {
    expect(
      texts.filter((text) => text.includes(address)),
      address,
    ).toEqual([]);
  }
  expect(texts.filter((text) => /^(?:\d{1,3}\.){3}\d{1,3}$|^::|address|^ip$/i.test(text))).toEqual([]);
}

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const MS = expect.any(Number);

/** Waits until a client has a server message matching `pattern`. */
const heard = (client: SimClient, pattern: RegExp) =>
  client.waitFor((p) => p.type === 'message' && p.id === 0 && pattern.test(p.text), 4000);

async function ready(...players: SimClient[]): Promise<void> {
  for (const player of players) {
    player.sendMessage('/ready');
    await heard(player, new RegExp(`^${player.options.name} is ready`));
  }
}

/** `race start` over HTTP, resolving once the race is running. */
async function startRace(app: App): Promise<RaceSnapshot> {
  const go = app.server.bus.once('raceStarted');
  const started = await call(app, 'POST', '/api/race/start', { seconds: 1 });
  expect(started.status, JSON.stringify(started.json)).toBe(200);
  return (await go).race;
}

const countdowns = (client: SimClient, since = 0) =>
  client.received.slice(since).filter((received) => received.packet.type === 'countdown_setup').length;

describe('GET /api/races/:id and /api/races for the live race', () => {
  it('shows the race as it is opened, readied, counted down and run, with SAR split ticks', async () => {
    const app = await startApp();
    const alpha = await join(app, 'Alpha');
    const bravo = await join(app, 'Bravo');
    const charlie = await join(app, 'Charlie');
    const replies: unknown[] = [];
    const keep = <T>(value: T): T => (replies.push(value), value);

    const opened = keep(await call(app, 'POST', '/api/race/open', { title: 'Friday any%' }));
    expect(opened.status).toBe(200);
    const id = (opened.json.race as { id: number }).id;
    expect(opened.json).toEqual({
      message: expect.stringContaining(`Race ${id} "Friday any%" opened`),
      race: {
        id,
        kind: 'race',
        title: 'Friday any%',
        state: 'open',
        openedBy: 'http',
        openedAt: ISO,
        countdownSeconds: null,
        startedAt: null,
        goAt: null,
        endedAt: null,
        route: null,
        entrants: [],
      },
    });

    await ready(bravo, alpha);
    const open = keep(await get(app, `/api/races/${id}`));
    expect(open.race).toMatchObject({ id, state: 'open' });
    expect((open.race as { entrants: unknown[] }).entrants).toEqual(
      ['Alpha', 'Bravo'].map((name, index) => ({
        position: index + 1,
        name,
        status: 'ready',
        place: null,
        map: 'sp_a1_intro1',
        connected: true,
        time: null,
        timeMs: null,
        elapsedMs: null,
        gapMs: null,
        finishedAt: null,
        forfeitedAtMs: null,
        splits: [],
      })),
    );
    expect(keep(await get(app, '/api/races')).races).toEqual([
      {
        id,
        kind: 'race',
        title: 'Friday any%',
        state: 'open',
        openedAt: ISO,
        goAt: null,
        endedAt: null,
        route: null,
        entrants: 2,
        finishers: 0,
        winner: null,
      },
    ]);

    const mark = charlie.mark();
    const go = app.server.bus.once('raceStarted');
    const counting = keep(await call(app, 'POST', '/api/race/start', { seconds: 1 }));
    expect(counting).toMatchObject({
      status: 200,
      json: { message: `Race ${id}: counting down 1 s for 2 entrants`, race: { state: 'counting_down' } },
    });
    expect(keep(await get(app, `/api/races/${id}`)).race).toMatchObject({
      state: 'counting_down',
      countdownSeconds: 1,
      startedAt: ISO,
      goAt: null,
    });
    await Promise.all([alpha, bravo].map((client) => client.waitFor((p) => p.type === 'countdown_setup')));
    await go;
    await barrier(charlie);
    expect(countdowns(charlie, mark)).toBe(0);

    alpha.changeMap('sp_a1_intro2', 600, 600);
    bravo.changeMap('sp_a1_intro2'); // SAR had not split yet: 0xFFFFFFFF, shown as null
    await barrier(alpha, bravo);
    alpha.changeMap('sp_a1_intro3', 700, 1300);
    await barrier(alpha);

    const running = keep(await get(app, `/api/races/${id}`)).race as Record<string, unknown>;
    expect(running).toMatchObject({ id, state: 'running', goAt: ISO, route: 'sp', endedAt: null });
    expect(running.entrants).toEqual([
      expect.objectContaining({
        name: 'Alpha',
        status: 'running',
        place: null,
        map: 'sp_a1_intro3',
        connected: true,
        splits: [
          { fromMap: 'sp_a1_intro1', toMap: 'sp_a1_intro2', ticks: 600, ticksTotal: 600, elapsedMs: MS, at: ISO },
          { fromMap: 'sp_a1_intro2', toMap: 'sp_a1_intro3', ticks: 700, ticksTotal: 1300, elapsedMs: MS, at: ISO },
        ],
      }),
      expect.objectContaining({
        name: 'Bravo',
        status: 'running',
        map: 'sp_a1_intro2',
        splits: [
          { fromMap: 'sp_a1_intro1', toMap: 'sp_a1_intro2', ticks: null, ticksTotal: null, elapsedMs: MS, at: ISO },
        ],
      }),
    ]);
    const [first, second] = (running.entrants as Array<{ splits: Array<{ elapsedMs: number }> }>)[0]!.splits;
    expect(first!.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(second!.elapsedMs).toBeGreaterThanOrEqual(first!.elapsedMs);
    expect(keep(await get(app, '/api/races?limit=1')).races).toEqual([
      expect.objectContaining({ id, state: 'running', goAt: ISO, route: 'sp', entrants: 2, finishers: 0 }),
    ]);

    expectNoAddresses(app, replies);
  });
});

describe('GET /api/races/:id for a race that is over', () => {
  it('gives finishers with SAR time, place and gap, then a forfeit and a DNF, with every split, before and after a restart', async () => {
    const database = tempDatabasePath();
    let app = await startApp({ database });
    const [alpha, bravo, charlie, delta] = await Promise.all(
      ['Alpha', 'Bravo', 'Charlie', 'Delta'].map((name) => join(app, name)),
    );
    const id = ((await call(app, 'POST', '/api/race/open', {})).json.race as { id: number }).id;
    await ready(alpha!, bravo!, charlie!, delta!);
    await startRace(app);

    alpha!.changeMap('sp_a1_intro2', 600, 600);
    bravo!.changeMap('sp_a1_intro2');
    charlie!.changeMap('sp_a1_intro2', 650, 650);
    await barrier(alpha!, bravo!, charlie!);
    bravo!.finishSpeedrun('1:02.345');
    await heard(alpha!, /^Bravo finished 1st/);
    alpha!.finishSpeedrun('1:05.000');
    await heard(alpha!, /^Alpha finished 2nd/);
    charlie!.sendMessage('/forfeit');
    await heard(alpha!, /^Charlie forfeited/);

    const ended = await call(app, 'POST', '/api/race/end', {});
    expect(ended).toMatchObject({
      status: 200,
      json: { message: expect.stringContaining('Bravo'), race: { id, state: 'finished', endedAt: ISO } },
    });
    expect(app.races.current()).toBeUndefined();

    const detail = await get(app, `/api/races/${id}`);
    const race = detail.race as { entrants: Array<Record<string, unknown>> };
    expect(race).toMatchObject({ id, kind: 'race', title: '', state: 'finished', route: 'sp', endedAt: ISO });
    expect(race.entrants.map((entrant) => [entrant.name, entrant.status, entrant.place])).toEqual([
      ['Bravo', 'finished', 1],
      ['Alpha', 'finished', 2],
      ['Charlie', 'forfeited', null],
      ['Delta', 'dnf', null],
    ]);
    const [winner, second, forfeited, dnf] = race.entrants as [
      Record<string, number>,
      Record<string, number>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(winner).toMatchObject({ time: '1:02.345', timeMs: 62_345, elapsedMs: MS, gapMs: 0, finishedAt: ISO });
    expect(second).toMatchObject({ time: '1:05.000', timeMs: 65_000, finishedAt: ISO, connected: false });
    expect(second.gapMs).toBe(second.elapsedMs! - winner.elapsedMs!);
    expect(second.gapMs).toBeGreaterThanOrEqual(0);
    expect(forfeited).toMatchObject({ time: null, elapsedMs: null, gapMs: null, forfeitedAtMs: MS });
    expect(dnf).toMatchObject({ time: null, place: null, gapMs: null, forfeitedAtMs: null, map: 'sp_a1_intro1' });
    expect(
      race.entrants.map((entrant) => (entrant.splits as Array<{ ticks: number | null }>).map((s) => s.ticks)),
    ).toEqual([[null], [600], [650], []]);

    const list = await get(app, '/api/races');
    expect(list.races).toEqual([
      {
        id,
        kind: 'race',
        title: '',
        state: 'finished',
        openedAt: ISO,
        goAt: ISO,
        endedAt: ISO,
        route: 'sp',
        entrants: 4,
        finishers: 2,
        winner: { name: 'Bravo', time: '1:02.345', timeMs: 62_345, elapsedMs: winner.elapsedMs },
      },
    ]);
    expectNoAddresses(app, answered);

    // What the history kept reads the same after a restart.
    await app.stop('restart');
    app = await startApp({ database });
    await join(app, 'Echo'); // so that there is an address to look for
    expect(await get(app, `/api/races/${id}`)).toEqual(detail);
    expect(await get(app, '/api/races')).toEqual(list);
  });
});

/** A request with headers fetch will not send (Host). */
function raw(app: App, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: app.http.port, path, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the race routes refuse', () => {
  it('an unknown race (404), an id or limit that is no number or out of range (400), and lists newest first', async () => {
    const app = await startApp();
    const ids: number[] = []; // one, two, three
    for (const title of ['one', 'two', 'three']) {
      ids.push(((await call(app, 'POST', '/api/race/open', { title })).json.race as { id: number }).id);
      expect((await call(app, 'POST', '/api/race/cancel', {})).json).toMatchObject({ race: { state: 'cancelled' } });
    }
    const live = ((await call(app, 'POST', '/api/race/open', { title: 'four' })).json.race as { id: number }).id;
    const titles = async (query = '') =>
      ((await get(app, `/api/races${query}`)).races as Array<{ title: string; id: number }>).map(
        (race) => `${race.id} ${race.title}`,
      );
    const all = [live, ...[...ids].reverse()].map((id, index) => `${id} ${['four', 'three', 'two', 'one'][index]}`);
    expect(await titles()).toEqual(all);
    expect(await titles('?limit=2')).toEqual(all.slice(0, 2));
    expect(await titles('?limit=100')).toEqual(all);
    expect(await get(app, `/api/races/${ids[1]}`)).toMatchObject({ race: { title: 'two', state: 'cancelled' } });

    expect(await call(app, 'GET', '/api/races/999')).toMatchObject({
      status: 404,
      json: { error: 'no race 999', code: 'not_found' },
    });
    for (const id of ['abc', '1.5', '-1', '1e2', '%201', '99999999999999999999']) {
      expect(await call(app, 'GET', `/api/races/${id}`), id).toMatchObject({
        status: 400,
        json: { code: 'bad_arguments' },
      });
    }
    expect((await call(app, 'GET', '/api/races/abc')).json.error).toBe('the race id must be a whole number, got "abc"');
    for (const [query, error] of [
      ['?limit=0', '"limit" must be at least 1'],
      ['?limit=101', '"limit" must be at most 100'],
      ['?limit=ten', '"limit" must be a whole number, got "ten"'],
      ['?limit=', '"limit" must be a whole number, got ""'],
      ['?page=2', 'unknown query parameter "page"'],
      ['?limit=1&limit=2', 'query parameter "limit" is given more than once'],
    ]) {
      expect(await call(app, 'GET', `/api/races${query}`), query).toMatchObject({
        status: 400,
        json: { error, code: 'bad_arguments' },
      });
    }
    expect(await call(app, 'GET', `/api/races/${live}?limit=1`)).toMatchObject({ status: 400 });
    expect(await call(app, 'GET', '/api/races/1/entrants')).toMatchObject({ status: 404, json: { code: 'no_route' } });
    const wrongMethod = await call(app, 'DELETE', '/api/races/1');
    expect(wrongMethod).toMatchObject({ status: 405, json: { code: 'method_not_allowed' } });
    expect(wrongMethod.headers.get('allow')).toBe('GET');

    // The commands' own refusals, typed fields, and the same rules as every /api/ route.
    expect(await call(app, 'POST', '/api/race/open', { title: 'five' })).toMatchObject({
      status: 409,
      json: { code: 'conflict' },
    });
    expect(await call(app, 'POST', '/api/race/start', { seconds: 'soon' })).toMatchObject({
      status: 400,
      json: { error: '"seconds" must be a whole number, got a string' },
    });
    expect(await call(app, 'POST', '/api/race/start', {})).toMatchObject({
      status: 422,
      json: { code: 'refused', error: expect.stringMatching(/nobody is ready/) },
    });
    expect(await call(app, 'POST', '/api/race/end', { now: true })).toMatchObject({
      status: 400,
      json: { error: 'unknown field "now"' },
    });
    expect(await call(app, 'GET', '/api/races', undefined, { authorization: 'Bearer wrong' })).toMatchObject({
      status: 401,
      json: { code: 'unauthorized' },
    });
    expect(await call(app, 'GET', `/api/races/${live}`, undefined, { origin: 'http://evil.example' })).toMatchObject({
      status: 403,
      json: { code: 'cross_origin' },
    });
    expect(await call(app, 'POST', '/api/race/cancel', undefined, { 'content-type': 'text/plain' })).toMatchObject({
      status: 415,
      json: { code: 'unsupported_media_type' },
    });
    expect(app.races.current()).toMatchObject({ id: live, state: 'open' });

    // Without a token: only to this machine's names (DNS rebinding).
    const tokenless = await startApp({ token: '' });
    const rebinding = await raw(tokenless, '/api/races/1', { host: `rebind.example:${tokenless.http.port}` });
    expect(rebinding.status).toBe(421);
    expect((await raw(tokenless, '/api/races', { host: `localhost:${tokenless.http.port}` })).status).toBe(200);
  });
});

describe('a plugin that vetoes a race start', () => {
  it('refuses race start with its reason before any countdown hook, and nobody gets a countdown', async () => {
    const app = await startApp();
    const asked: string[] = [];
    let closed = true;
    await app.plugins.add(
      new (class extends Plugin implements PluginHooks {
        override name = 'Track Marshal';
        beforeRaceStart(race: RaceSnapshot) {
          asked.push(`beforeRaceStart ${race.state} ${race.entrants.map((entrant) => entrant.name).join(',')}`);
          return closed ? { allow: false as const, reason: 'the track is closed' } : undefined;
        }
        beforeCountdown(countdown: CountdownInfo) {
          asked.push(`beforeCountdown ${countdown.duration}`);
        }
      })(),
    );
    const alpha = await join(app, 'Alpha');
    const bravo = await join(app, 'Bravo');
    const id = ((await call(app, 'POST', '/api/race/open', {})).json.race as { id: number }).id;
    await ready(alpha);

    const marks = [alpha.mark(), bravo.mark()];
    expect(await call(app, 'POST', '/api/race/start', { seconds: 1 })).toMatchObject({
      status: 422,
      json: { error: 'race start refused: the track is closed', code: 'refused' },
    });
    await barrier(alpha, bravo);
    expect([countdowns(alpha, marks[0]), countdowns(bravo, marks[1])]).toEqual([0, 0]);
    expect(asked).toEqual(['beforeRaceStart open Alpha']);
    expect(app.races.current()).toMatchObject({ id, state: 'open' });
    expect((await get(app, `/api/races/${id}`)).race).toMatchObject({ state: 'open', startedAt: null });

    closed = false;
    await startRace(app);
    expect(asked).toEqual(['beforeRaceStart open Alpha', 'beforeRaceStart open Alpha', 'beforeCountdown 1']);
    await alpha.waitFor((p) => p.type === 'countdown_setup', 2000, marks[0]);
    await barrier(bravo);
    expect(countdowns(bravo, marks[1])).toBe(0);
  });
});
