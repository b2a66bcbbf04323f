/**
 * `GET /live` and the public pages over real HTTP, against the real app with SAR-like clients
 * (real TCP and UDP sockets) and a real SQLite file: what the stream says and in what order,
 * what it never says (addresses, chat unless allowed), how it treats a viewer that does not read,
 * and how the pages answer what they do not serve. The pages in a real browser: web-pages.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import type { App } from '../src/app.js';
import type { Config } from '../src/config.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import type { RaceSnapshot } from '../src/races/types.js';
import type { SimClient } from '../src/sim/client.js';
import type { LiveSnapshot, PublicRace } from '../src/web/shared/types.js';
import { barrier, joinApp, startApp as startTestApp, until } from './helpers.js';
import { SseReader } from './sse.js';

type HttpOverrides = Partial<Config['http']>;

const startApp = (http: HttpOverrides = {}): Promise<App> =>
  startTestApp({
    overrides: { http: { enabled: true, hostname: '127.0.0.1', port: 0, token: 'secret-token', ...http } },
  });

const run = (app: App, line: string) => app.commands.execute(line, CONSOLE_INVOKER);

/** Every player connects from an address of its own, so that "no address in the stream" means something. */
let nextAddress = 40;
const addresses: string[] = [];
const join = (app: App, name: string, options: Parameters<typeof joinApp>[2] = {}): Promise<SimClient> => {
  const localAddress = `127.0.0.${nextAddress++}`;
  addresses.push(localAddress);
  return joinApp(app, name, { localAddress, map: 'sp_a1_intro1', ...options });
};

const readers: SseReader[] = [];
const live = async (app: App, headers: Record<string, string> = {}) => {
  const reader = await SseReader.open(app.http.port, '/live', headers);
  readers.push(reader);
  return reader;
};

async function runningRace(app: App, players: SimClient[]): Promise<RaceSnapshot> {
  expect((await run(app, 'race open Live race')).ok).toBe(true);
  for (const player of players) player.sendMessage('/ready');
  await barrier(...players);
  const started = app.server.bus.once('raceStarted');
  expect((await run(app, 'race start 1')).ok).toBe(true);
  return (await started).race;
}

describe('GET /live', () => {
  it('starts with a snapshot, then tells joins, map changes, finishes and leaves in order, without any address', async () => {
    const app = await startApp();
    const alpha = await join(app, 'Alpha', { map: 'sp_a2_laser_intro' });
    const watcher = await join(app, 'Watcher', { spectator: true, map: '' });

    const reader = await live(app, { host: 'ghost.example.org:8080' });
    expect(reader.response.statusCode).toBe(200);
    expect(reader.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(reader.response.headers['cache-control']).toBe('no-store');
    const snapshot = await reader.next<LiveSnapshot>('snapshot');
    expect(reader.events[0]!.event).toBe('snapshot');
    expect(snapshot.connect).toBe(`ghost_connect ghost.example.org ${app.server.port}`);
    expect(snapshot.players).toEqual([
      {
        id: expect.any(Number),
        name: 'Alpha',
        map: 'sp_a2_laser_intro',
        place: { chapter: 2, chapterTitle: 'The Cold Boot', title: 'Laser Intro' },
        spectator: false,
      },
      { id: expect.any(Number), name: 'Watcher', map: '', place: null, spectator: true },
    ]);
    expect(snapshot).toMatchObject({ race: null, recent: [], chat: false });

    const bravo = await join(app, 'Bravo', { map: 'sp_a1_intro3' });
    alpha.changeMap('sp_a2_laser_stairs', 600, 1200);
    await barrier(alpha);
    alpha.finishSpeedrun('12.345');
    await barrier(alpha);
    bravo.close();
    await reader.next('leave', (data: { name: string }) => data.name === 'Bravo');

    const names = reader.events.map((event) => event.event);
    expect(names.slice(0, 5)).toEqual(['snapshot', 'join', 'map', 'finish', 'leave']);
    expect(reader.named('join')[0]).toMatchObject({ player: { name: 'Bravo', map: 'sp_a1_intro3' } });
    expect(reader.named('map')[0]).toMatchObject({
      name: 'Alpha',
      map: 'sp_a2_laser_stairs',
      previousMap: 'sp_a2_laser_intro',
      place: { chapter: 2, title: 'Laser Stairs' },
    });
    expect(reader.named('finish')[0]).toMatchObject({ name: 'Alpha', time: '12.345' });
    const ids = reader.events.map((event) => Number(event.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    for (const address of addresses) expect(reader.text).not.toContain(address);
    expect(reader.text).not.toContain('secret-token');
    void watcher;
  });

  it('never sends a new viewer events older than its snapshot', async () => {
    const app = await startApp();
    const first = await live(app);
    await first.next('snapshot');
    // Queued for the next batch (a quarter second away) when the second viewer arrives.
    app.server.bus.emit('serverMessage', { text: 'before' });
    const second = await live(app);
    await second.next('snapshot');
    app.server.bus.emit('serverMessage', { text: 'after' });
    await second.next('message', (data: { text: string }) => data.text === 'after');
    await first.next('message', (data: { text: string }) => data.text === 'after');
    expect(first.named('message')).toEqual([{ text: 'before' }, { text: 'after' }]);
    expect(second.named('message')).toEqual([{ text: 'after' }]);
    const ids = second.events.map((event) => Number(event.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('gives viewers arriving together one snapshot, and a newer one after anything changed, watched or not', async () => {
    const app = await startApp();
    const alpha = await join(app, 'Alpha', { map: 'sp_a1_intro2' });
    const first = await live(app);
    const firstSnapshot = await first.next<LiveSnapshot>('snapshot');
    // A rush right after: one snapshot for all of them (two if the rush straddles an interval),
    // not one each; every one of them the whole picture.
    const [elsewhere, ...rush] = await Promise.all([
      live(app, { host: 'ghost.example.net' }),
      ...Array.from({ length: 6 }, () => live(app)),
    ]);
    for (const reader of rush) expect(await reader.next<LiveSnapshot>('snapshot')).toEqual(firstSnapshot);
    expect(new Set(rush.map((reader) => reader.events[0]!.id)).size).toBeLessThanOrEqual(2);
    // A viewer that came by another name gets its own connect line, and the same picture.
    expect(await elsewhere!.next<LiveSnapshot>('snapshot')).toEqual({
      ...firstSnapshot,
      connect: `ghost_connect ghost.example.net ${app.server.port}`,
    });

    // A change while watched: the next viewer's snapshot has it.
    alpha.changeMap('sp_a1_intro3', 100, 200);
    await first.next('map');
    const third = await live(app);
    expect((await third.next<LiveSnapshot>('snapshot')).players).toMatchObject([
      { name: 'Alpha', map: 'sp_a1_intro3' },
    ]);

    // Changes while nobody watches (no event is even encoded): the next viewer still sees them.
    for (const reader of [first, elsewhere!, ...rush, third]) reader.close();
    await until(() => app.http.liveViewers === 0, 2000, 'the viewers to leave');
    const bravo = await join(app, 'Bravo', { map: 'sp_a1_intro4' });
    alpha.changeMap('sp_a1_intro5', 100, 300);
    await barrier(alpha, bravo);
    const fourth = await live(app);
    expect((await fourth.next<LiveSnapshot>('snapshot')).players).toMatchObject([
      { name: 'Alpha', map: 'sp_a1_intro5' },
      { name: 'Bravo', map: 'sp_a1_intro4' },
    ]);
  });

  it('carries chat only when [http] public_chat is on, and never chat commands', async () => {
    const quiet = await startApp();
    const talker = await join(quiet, 'Talker');
    const quietReader = await live(quiet);
    await quietReader.next('snapshot');
    talker.sendMessage('hello there');
    talker.changeMap('sp_a1_intro2');
    await quietReader.next('map');
    expect(quietReader.named('chat')).toEqual([]);
    expect(quietReader.text).not.toContain('hello there');

    const open = await startApp({ public_chat: true });
    const speaker = await join(open, 'Speaker');
    const reader = await live(open);
    expect((await reader.next<LiveSnapshot>('snapshot')).chat).toBe(true);
    speaker.sendMessage('/ping');
    speaker.sendMessage('good luck all');
    expect(await reader.next('chat')).toEqual({ id: expect.any(Number), name: 'Speaker', text: 'good luck all' });
    expect(reader.text).not.toContain('/ping');
  });

  it('follows a race: splits one by one, the standings coalesced, the final state always sent, then the recent list', async () => {
    const app = await startApp();
    const alpha = await join(app, 'Alpha');
    const bravo = await join(app, 'Bravo');
    const reader = await live(app);
    await reader.next('snapshot');
    const race = await runningRace(app, [alpha, bravo]);
    await reader.next<{ race: PublicRace }>('race', ({ race: view }) => view.state === 'running');
    expect(reader.named('countdown')).toEqual([{ seconds: 1, raceId: race.id }]);
    expect(reader.named('go')).toEqual([{ raceId: race.id }]);

    // Bravo goes three maps ahead in a burst: three splits, fewer standings updates.
    const from = reader.events.length;
    // Each map change is its own race update (a round trip apart), all within a quarter second.
    bravo.changeMap('sp_a1_intro2', 300, 300);
    await barrier(bravo);
    bravo.changeMap('sp_a1_intro3', 310, 610);
    await barrier(bravo);
    bravo.changeMap('sp_a1_intro4', 320, 930);
    await barrier(bravo);
    const leading = await reader.next<{ race: PublicRace }>(
      'race',
      ({ race: view }) => view.entrants[0]?.name === 'Bravo' && view.entrants[0].map === 'sp_a1_intro4',
    );
    expect(leading.race.entrants.map((entrant) => [entrant.position, entrant.name])).toEqual([
      [1, 'Bravo'],
      [2, 'Alpha'],
    ]);
    expect(leading.race.entrants[0]).not.toHaveProperty('splits');
    const splits = reader.named<{ name: string; split: { toMap: string; ticks: number; progress: number } }>('split');
    expect(splits.map((split) => [split.name, split.split.toMap, split.split.ticks, split.split.progress])).toEqual([
      ['Bravo', 'sp_a1_intro2', 300, 1],
      ['Bravo', 'sp_a1_intro3', 310, 2],
      ['Bravo', 'sp_a1_intro4', 320, 3],
    ]);
    // Three updates in a burst: the standings went out once or twice, not three times.
    const burst = reader.events.slice(from);
    const upToLeading = burst.slice(0, burst.findIndex((event) => event.data === leading) + 1);
    expect(upToLeading.filter((event) => event.event === 'race').length).toBeLessThanOrEqual(2);

    bravo.finishSpeedrun('4:05.250');
    const finished = await reader.next<{ race: PublicRace }>(
      'race',
      ({ race: view }) => view.entrants[0]?.status === 'finished',
    );
    expect(finished.race.entrants[0]).toMatchObject({ name: 'Bravo', place: 1, time: '4:05.250', gapMs: 0 });
    await run(app, 'race end');
    const ended = await reader.next<{ race: PublicRace }>('race', ({ race: view }) => view.state === 'finished');
    expect(ended.race.entrants.map((entrant) => entrant.status)).toEqual(['finished', 'dnf']);
    const recent = await reader.next<{ recent: Array<{ id: number; winner: { name: string } | null }> }>('races');
    expect(recent.recent[0]).toMatchObject({ id: race.id, winner: { name: 'Bravo' } });
    // A page opened now still shows the race that just ended, until the next one opens.
    const late = await live(app);
    expect((await late.next<LiveSnapshot>('snapshot')).race).toMatchObject({ id: race.id, state: 'finished' });
    await run(app, 'race open The next one');
    const fresh = await live(app);
    expect((await fresh.next<LiveSnapshot>('snapshot')).race).toMatchObject({ title: 'The next one', state: 'open' });
    // Many more race changes happened (ready, countdown, go, three splits, a finish, the end) than were sent.
    expect(reader.named('race').length).toBeLessThan(12);
  });

  it('drops a viewer that does not read, keeps the others, and counts it', async () => {
    const app = await startApp();
    const reader = await live(app);
    await reader.next('snapshot');

    // A viewer that asks for the stream and never reads a byte of it.
    const stalled: Socket = connect(app.http.port, '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', resolve));
    stalled.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    stalled.pause();
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    stalled.on('error', () => undefined);
    await until(() => app.http.liveViewers === 2, 3000, 'the second viewer');

    // Up to 400 server messages of 60 kB (24 MB), a batch at a time, each read by the other viewer.
    const text = 'x'.repeat(60_000);
    for (let batch = 0; batch < 40 && app.http.liveViewers === 2; batch++) {
      for (let i = 0; i < 10; i++) app.server.bus.emit('serverMessage', { text: `${batch}:${i}:${text}` });
      await reader.next('message', (data: { text: string }) => data.text.startsWith(`${batch}:9:`));
    }
    expect(app.http.liveViewers).toBe(1);
    expect(reader.closed).toBe(false);
    const metrics = await (await fetch(`http://127.0.0.1:${app.http.port}/metrics`)).text();
    expect(metrics).toMatch(/^ghosting_live_viewers_dropped_total 1$/m);
    expect(metrics).toMatch(/^ghosting_live_viewers 1$/m);
    // Once it reads again, the stalled viewer finds its connection closed by the server.
    stalled.resume();
    await until(() => stalledClosed, 10_000, 'the stalled connection to close');
    stalled.destroy();
  });

  it('refuses viewers over [http] max_live_viewers with 503, and sends heartbeats to quiet streams', async () => {
    const app = await startApp({ max_live_viewers: 1, live_heartbeat_ms: 100 });
    const first = await live(app);
    await first.next('snapshot');
    const second = await fetch(`http://127.0.0.1:${app.http.port}/live`);
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('30');
    await first.until(() => first.comments.includes('keep-alive'), 'a heartbeat');
    first.close();
    await until(() => app.http.liveViewers === 0, 2000, 'the viewer to leave');
    const third = await live(app);
    await third.next('snapshot');
  });
});

describe('the public pages over HTTP', () => {
  const get = (app: App, path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${app.http.port}${path}`, { redirect: 'manual', ...init });

  it('render the server and a race as HTML before any script runs, with no address and a strict policy', async () => {
    const app = await startApp({ public_address: 'ghost.example.org:53001', page_title: 'Race <night>' });
    const alpha = await join(app, 'Alpha', { map: 'sp_a2_laser_intro' });
    const bravo = await join(app, 'Bravo<script>', { map: 'sp_a1_intro1' });
    const race = await runningRace(app, [alpha, bravo]);
    alpha.changeMap('sp_a1_intro2', 400, 400);
    await barrier(alpha);

    const home = await get(app, '/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(home.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await home.text();
    expect(html).toContain('<code id="connect">ghost_connect ghost.example.org 53001</code>');
    expect(html).toContain('<title>Race &lt;night&gt;</title>');
    expect(html).toContain(
      'title="sp_a1_intro2"><span class="chapter">1 The Courtesy Call: </span>Portal Carousel</td>',
    );
    expect(html).toContain('Bravo&lt;script&gt;');
    expect(html).not.toContain('Bravo<script>');
    expect(html).toMatch(/id="race-title">Live race</);
    for (const address of addresses) expect(html).not.toContain(address);

    const page = await (await get(app, `/races/${race.id}`)).text();
    expect(page).toContain('<canvas id="race-chart"');
    expect(page).toContain('<script type="application/json" id="race-data">');
    expect(page).not.toContain('<script>');
    expect(page).toContain('1 The Courtesy Call: Portal Carousel');
    for (const address of addresses) expect(page).not.toContain(address);

    // Pages are rendered at most once a second, but a race page is never older than its race.
    expect(page).toContain('id="race-state" data-state="running"');
    await run(app, 'race end');
    const ended = await (await get(app, `/races/${race.id}`)).text();
    expect(ended).toContain('id="race-state" data-state="finished"');

    const overlay = await get(app, '/overlay?rows=1&theme=light&title=0');
    const overlayHtml = await overlay.text();
    expect(overlayHtml).toContain('class="overlay theme-light"');
    expect(overlayHtml.match(/<li data-entrant=/g)).toHaveLength(1);
    expect(overlay.headers.get('content-security-policy')).not.toContain('frame-ancestors');
  });

  it('answer what they do not serve plainly: 400, 404, 405, and only listed files under /assets/', async () => {
    const app = await startApp();
    expect((await get(app, '/races/abc')).status).toBe(400);
    expect((await get(app, '/races/999')).status).toBe(404);
    expect((await get(app, '/races/1/2')).status).toBe(404);
    expect((await get(app, '/assets/../config.toml')).status).toBe(404);
    expect((await get(app, '/assets/%2e%2e/package.json')).status).toBe(404);
    expect((await get(app, '/assets/browser/nope.js')).status).toBe(404);
    const post = await get(app, '/', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await get(app, '/', { method: 'HEAD' });
    expect(head.status).toBe(200);

    const style = await get(app, '/assets/style.css');
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const etag = style.headers.get('etag')!;
    expect((await get(app, '/assets/style.css', { headers: { 'if-none-match': etag } })).status).toBe(304);
    const chart = await get(app, '/assets/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect(await chart.text()).toContain('Chart');
    expect((await get(app, '/assets/browser/home.js')).status).toBe(200);

    // The API keeps its token; the pages never needed one.
    expect((await get(app, '/api/players')).status).toBe(401);
  });

  it('are gone with [http] public_pages = false, leaving /healthz, /metrics and the API', async () => {
    const app = await startApp({ public_pages: false });
    for (const path of ['/', '/live', '/overlay', '/races/1', '/assets/style.css']) {
      const response = await get(app, path);
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'no_route' });
    }
    expect((await get(app, '/healthz')).status).toBe(200);
    expect((await get(app, '/api/players', { headers: { authorization: 'Bearer secret-token' } })).status).toBe(200);
  });
});
