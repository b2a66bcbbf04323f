/**
 * The public web pages (`/`, `/races/:id`, `/overlay`) and the `/live` stream, in a real browser
 * (Debian's Chromium driven by playwright-core, see browser.ts) against the real app, while
 * SAR-like clients join, change maps with SAR's split ticks, ready up, finish and forfeit. The
 * checks are what a person would see: text, order, the chart drawn, the page following the stream
 * without a reload, readable contrast, a phone-width layout, and no player's address anywhere.
 * Screenshots of every page are kept in test-artifacts/screenshots/.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { App } from '../src/app.js';
import type { HttpSettings } from '../src/config.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import { mapInfo } from '../src/races/routes.js';
import type { SimClient, SimClientOptions } from '../src/sim/client.js';
import { barrier, joinApp, startApp as startTestApp } from './helpers.js';
import {
  attributes,
  canvasInk,
  chartTextContrast,
  checkContrast,
  cutOff,
  layout,
  pageBackgroundAlpha,
  PHONE,
  phoneLayout,
  problemsOf,
  run,
  screenshot,
  texts,
  useBrowser,
} from './browser.js';

const TOKEN = 'some-token';

const startApp = (http: Partial<HttpSettings> = {}): Promise<App> =>
  startTestApp({ overrides: { http: { enabled: true, hostname: '127.0.0.1', port: 0, token: TOKEN, ...http } } });

const command = (app: App, line: string) => app.commands.execute(line, CONSOLE_INVOKER);

const browser = useBrowser();

const pageUrl = (app: App, path: string) => `http://127.0.0.1:${app.http.port}${path}`;

/** Every player connects from an address of its own, never 127.0.0.1 (the address pages are asked at). */
let nextAddress = 40;
const usedAddresses: string[] = [];
function join(app: App, name: string, options: Partial<SimClientOptions> = {}): Promise<SimClient> {
  const localAddress = `127.0.0.${nextAddress++}`;
  usedAddresses.push(localAddress);
  return joinApp(app, name, { localAddress, map: 'sp_a1_intro1', ...options });
}

/**
 * No address a player connected from, nor any other IPv4 address, appears in `text`. The only one
 * allowed is the one in the connect line, which is the address the visitor asked for the page at.
 */
function expectNoAddresses(app: App, text: string, where: string): void {
  const connected = app.server.listClients().map((client) => client.address);
  for (const address of new Set([...connected, ...usedAddresses])) {
    expect(new RegExp(`(^|[^\\d.])${address.replace(/\./g, '\\.')}($|[^\\d])`).test(text), `${where}: ${address}`).toBe(
      false,
    );
  }
  const rest = text.replaceAll(`ghost_connect 127.0.0.1 ${app.server.port}`, 'ghost_connect');
  expect(rest.match(/(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g) ?? [], where).toEqual([]);
}

/** What a map looks like on the pages: "1 The Courtesy Call: Container Ride". */
function mapLine(map: string): string {
  const info = mapInfo(map);
  if (info === undefined) throw new Error(`no map info for ${map}`);
  return `${info.chapter} ${info.chapterTitle}: ${info.title}`;
}

/** Waits until a client has a server message matching `pattern`. */
const heard = (client: SimClient, pattern: RegExp) =>
  client.waitFor((p) => p.type === 'message' && p.id === 0 && pattern.test(p.text), 4000);

const POLL = { timeout: 5000, interval: 25 };
// The checks of how pages look (contrast, phone layout, the chart) are soft: a test goes on after
// one fails, so that one run lists every such problem, and fails at the end.
const CHART_DRAWN = 'canvas#race-chart[data-drawn="true"]';
const LIVE = '#live-status[data-state="open"]';

// -------------------------------------------------------------------------------------------------
// /live from Node: the raw stream, for the event order and the no-address check

interface LiveEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

class LiveStream {
  raw = '';
  readonly events: LiveEvent[] = [];
  private readonly listeners = new Set<() => void>();
  private buffer = '';

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {}

  static async open(url: string): Promise<LiveStream> {
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
    const stream = new LiveStream(response, controller);
    openStreams.push(stream);
    if (response.body !== null) void stream.pump(response.body.getReader());
    return stream;
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value, { stream: true });
        this.raw += chunk;
        this.buffer += chunk;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) !== -1) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          this.parse(block);
        }
        for (const listener of this.listeners) listener();
      }
    } catch {
      // Aborted at the end of the test, or the app stopped.
    }
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    this.events.push({ id, event, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
  }

  /** The first event named `name` (matching `predicate`) from index `since` on, waiting for it. */
  waitFor(
    name: string,
    predicate: (data: Record<string, unknown>) => boolean = () => true,
    since = 0,
    timeoutMs = 5000,
  ): Promise<LiveEvent> {
    const find = () => this.events.slice(since).find((e) => e.event === name && predicate(e.data));
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no "${name}" event on /live within ${timeoutMs} ms; got ${this.names().join(', ')}`));
      }, timeoutMs);
      const check = () => {
        const event = find();
        if (event === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(event);
      };
      this.listeners.add(check);
    });
  }

  names(): string[] {
    return this.events.map((e) => e.event);
  }

  close(): void {
    this.controller.abort();
  }
}

const openStreams: LiveStream[] = [];
afterEach(() => {
  for (const stream of openStreams.splice(0)) stream.close();
});

// -------------------------------------------------------------------------------------------------
// Pages

/** Waits until the page says its stream is live, marks the window, and counts navigations from then on. */
async function followLive(page: Page): Promise<{ reloaded: () => Promise<boolean> }> {
  await page.waitForSelector('#live-status[data-state="open"]');
  expect(await page.evaluate('window.__marker = 1')).toBe(1);
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  return {
    reloaded: async () => navigations > 0 || (await page.evaluate('window.__marker')) !== 1,
  };
}

const standings = (page: Page) => attributes(page, '#standings tr[data-entrant]', 'data-entrant');
const cell = (page: Page, row: string, column: string) =>
  page.locator(`${row} .${column}`).first().textContent({ timeout: 2000 });

async function expectReadable(
  page: Page,
  name: string,
  options: { scope?: string; transparentBackdrop?: boolean } = {},
) {
  const report = await checkContrast(page, options);
  expect(report.checked, `${name}: text elements checked`).toBeGreaterThan(3);
  expect.soft(report.problems, `${name}: contrast below WCAG AA`).toEqual([]);
}

/**
 * A phone opening the page (375×740) sees it whole: nothing scrolls sideways. `ready` is a selector
 * to wait for before measuring (the live stream open, the chart drawn).
 */
async function expectPhoneFriendly(url: string, name: string, ready: string): Promise<Page> {
  const page = await browser.open(url, { viewport: PHONE, waitFor: ready });
  const phone = await layout(page);
  await screenshot(page, `${name}-phone`);
  expect
    .soft(phone.scrollWidth, `${name} scrolls sideways on a phone: ${JSON.stringify(phone)}`)
    .toBeLessThanOrEqual(phone.innerWidth);
  expect(problemsOf(page)).toEqual([]);
  return page;
}

/** On a phone, the standings' names, times and gaps are in view, not behind a sideways scroll. */
async function expectStandingsInView(page: Page, name: string): Promise<void> {
  expect(await page.locator('#standings tr[data-entrant]').count(), name).toBeGreaterThan(0);
  expect
    .soft(await cutOff(page, '#standings .name, #standings .time, #standings .gap'), `${name}: cut off`)
    .toEqual([]);
}

/** The chart's own text (ticks, axis titles, legend: 12 px) is as readable as the page's. */
async function expectChartReadable(page: Page, name: string): Promise<void> {
  const report = await chartTextContrast(page, '#race-chart');
  expect(report.parts.length, name).toBeGreaterThan(2);
  expect
    .soft(
      report.parts.filter((part) => part.ratio < 4.5),
      `${name}: text below 4.5:1 on ${report.background}`,
    )
    .toEqual([]);
}

/** How each runner's line is stepped on the race chart (Chart.js's own instance). */
const chartSteps = (page: Page) =>
  run<Array<{ label: string; stepped: unknown }>>(
    page,
    String.raw`function () {
      const chart = window.Chart.getChart(document.querySelector('#race-chart'));
      return chart.data.datasets.map((dataset) => ({ label: dataset.label, stepped: dataset.stepped ?? false }));
    }`,
  );

/**
 * Progress over time is a staircase whose step is at the split, not at the point before it:
 * Chart.js's `stepped: 'before'` (or `true`); 'after' draws every runner reaching each map at the
 * time of their previous split. Straight lines (false) are not wrong either.
 */
const STEP_AT_SPLIT = [true, 'before', false];

describe('the browser checks themselves', () => {
  it('flag low contrast (faded, small, over a see-through box), a page wider than a phone, and an empty canvas', async () => {
    const page = await browser.render(
      `<html lang="en"><body style="margin:0;background:#fff;font:16px sans-serif">
        <p id="ok" style="color:#767676">4.54:1, just enough</p>
        <p id="grey" style="color:#999">2.85:1, too faint</p>
        <p id="large" style="color:#949494;font-size:24px">3.03:1, large</p>
        <p id="bold" style="color:#949494;font-size:19px;font-weight:700">3.03:1, large and bold</p>
        <p id="faded" style="color:#000;opacity:0.3">black faded to grey</p>
        <p id="hidden" style="color:#eee;display:none">not shown</p>
        <p id="sr" style="color:#eee;position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)">for screen readers</p>
        <div id="dark" style="background:#111"><span style="color:#eee">light on dark</span><span style="color:#444">dark on dark</span></div>
        <div id="box" style="background:rgba(0,0,0,0.5)"><span style="color:#fff">white on half black</span></div>
        <div id="solid" style="background:rgba(0,0,0,0.9)"><span style="color:#fff">white on nine tenths black</span></div>
        <canvas id="blank" width="50" height="50"></canvas>
        <div id="wide" style="width:600px;height:4px"></div>
      </body></html>`,
    );
    const report = await checkContrast(page);
    expect(report.problems.map((problem) => problem.text)).toEqual([
      '2.85:1, too faint',
      'black faded to grey',
      'dark on dark',
      // Over the white page, half black is mid grey: 3.95:1.
      'white on half black',
    ]);
    expect(report.checked).toBe(9);
    expect(report.problems.find((problem) => problem.text.startsWith('2.85'))?.ratio).toBeCloseTo(2.85, 1);
    // On a transparent page (the overlay), a see-through box may be over anything: the worse of black and white counts.
    const overlayLike = await checkContrast(page, { scope: '#box, #solid', transparentBackdrop: true });
    expect(overlayLike.problems.map((problem) => problem.text)).toEqual(['white on half black']);
    expect(await canvasInk(page, '#blank')).toEqual({ drawn: null, inked: 0, total: 2500 });
    await run(page, 'function () { document.querySelector("#blank").getContext("2d").fillRect(0, 0, 10, 10); }');
    expect((await canvasInk(page, '#blank')).inked).toBe(100);
    expect((await layout(page)).scrollWidth).toBeLessThanOrEqual(1280);
    const phone = await phoneLayout(page);
    expect(phone.scrollWidth).toBe(600);
    expect(phone.overflowing).toEqual(['div#wide right=600']);
  });
});

describe('GET /live', () => {
  it('is an event stream that starts with a snapshot and follows joins and map changes, without addresses or chat', async () => {
    const app = await startApp();
    const alpha = await join(app, 'Alpha');
    const watcher = await join(app, 'Watcher', { spectator: true, map: '' });
    const live = await LiveStream.open(pageUrl(app, '/live'));
    expect(live.response.status).toBe(200);
    expect(live.response.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const first = await live.waitFor('snapshot');
    expect(live.events[0]).toBe(first);
    expect(first.id).toMatch(/^\d+$/);
    expect(first.data).toEqual({
      title: 'ghosting',
      connect: `ghost_connect 127.0.0.1 ${app.server.port}`,
      players: expect.arrayContaining([
        expect.objectContaining({ name: 'Alpha', map: 'sp_a1_intro1', spectator: false }),
        expect.objectContaining({ name: 'Watcher', spectator: true }),
      ]),
      race: null,
      recent: [],
      chat: false,
    });
    const players = first.data.players as Array<Record<string, unknown>>;
    expect(players.find((player) => player.name === 'Alpha')?.place).toEqual({
      chapter: 1,
      chapterTitle: 'The Courtesy Call',
      title: 'Container Ride',
    });

    const bravo = await join(app, 'Bravo', { map: 'sp_a1_intro2' });
    expect((await live.waitFor('join', (data) => (data.player as { name: string }).name === 'Bravo')).data).toEqual({
      player: expect.objectContaining({ name: 'Bravo', map: 'sp_a1_intro2', spectator: false }),
    });
    // Chat stays off the stream unless public_chat is on: the map change sent after it is the barrier.
    alpha.sendMessage('secret words from Alpha');
    alpha.changeMap('sp_a2_laser_intro');
    const map = await live.waitFor('map', (data) => data.name === 'Alpha');
    expect(map.data).toMatchObject({
      name: 'Alpha',
      map: 'sp_a2_laser_intro',
      previousMap: 'sp_a1_intro1',
      place: { chapter: 2, chapterTitle: 'The Cold Boot', title: 'Laser Intro' },
    });
    expect(live.names()).not.toContain('chat');
    expect(live.raw).not.toContain('secret words');
    bravo.disconnect();
    expect((await live.waitFor('leave')).data).toMatchObject({ name: 'Bravo' });
    await barrier(alpha, watcher);
    // Every event has an increasing id.
    const ids = live.events.map((event) => Number(event.id));
    expect(ids.every((id, index) => index === 0 || id > ids[index - 1]!)).toBe(true);
    expectNoAddresses(app, live.raw, '/live');
  });

  it('answers 404 for every public page when [http] public_pages = false, and 400/404 for bad race ids', async () => {
    const off = await startApp({ public_pages: false });
    for (const path of ['/', '/live', '/overlay', '/races/1']) {
      const response = await fetch(pageUrl(off, path));
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).toMatch(/no_route/);
    }
    const api = await fetch(pageUrl(off, '/api/races'), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(api.status).toBe(200);
    await api.body?.cancel();

    const on = await startApp();
    expect((await fetch(pageUrl(on, '/races/abc'))).status).toBe(400);
    const unknown = await fetch(pageUrl(on, '/races/999'));
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^text\/html/);
  });
});

// Browser tests wait on a real browser and real sockets; on a loaded 2-core machine they take a few times longer.
const SLOW = { timeout: 45_000 };

describe('the home page', SLOW, () => {
  it('shows the connect line, players by chapter and title, spectators apart, and follows the stream without reloading', async () => {
    const app = await startApp();
    const alpha = await join(app, 'Alpha', { map: 'sp_a1_intro1' });
    await join(app, 'Watcher', { spectator: true, map: '' });
    const page = await browser.open(pageUrl(app, '/'));

    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('header').count()).toBeGreaterThan(0);
    expect(await page.locator('main').count()).toBe(1);
    expect(await page.locator('h1').count()).toBe(1);
    expect(await texts(page, '#connect')).toEqual([`ghost_connect 127.0.0.1 ${app.server.port}`]);
    expect(await attributes(page, '#players tr[data-player]', 'data-player')).toEqual(['Alpha']);
    expect(await texts(page, '#player-count')).toEqual(['1']);
    expect(await cell(page, '#players tr[data-player="Alpha"]', 'map')).toBe(mapLine('sp_a1_intro1'));
    expect(await page.getAttribute('#players tr[data-player="Alpha"] .map', 'title')).toBe('sp_a1_intro1');
    expect(await attributes(page, '#spectators tr[data-spectator]', 'data-spectator')).toEqual(['Watcher']);
    expect(await page.locator('#players [data-spectator], #spectators [data-player]').count()).toBe(0);
    expect(await texts(page, '#race')).toEqual([expect.stringMatching(/No race open/)]);
    const live = await followLive(page);

    // A newcomer appears, on the map they joined on.
    const bravo = await join(app, 'Bravo', { map: 'sp_a2_laser_intro' });
    await expect
      .poll(() => attributes(page, '#players tr[data-player]', 'data-player'), POLL)
      .toEqual(expect.arrayContaining(['Alpha', 'Bravo']));
    await expect.poll(() => texts(page, '#player-count'), POLL).toEqual(['2']);
    expect(await cell(page, '#players tr[data-player="Bravo"]', 'map')).toBe('2 The Cold Boot: Laser Intro');
    expect(await page.getAttribute('#players tr[data-player="Bravo"] .map', 'title')).toBe('sp_a2_laser_intro');

    // A map change changes the cell.
    alpha.changeMap('sp_a1_intro2');
    await expect.poll(() => cell(page, '#players tr[data-player="Alpha"]', 'map'), POLL).toBe(mapLine('sp_a1_intro2'));
    expect(await page.getAttribute('#players tr[data-player="Alpha"] .map', 'title')).toBe('sp_a1_intro2');

    // A spectator joining goes to the spectators, not the players.
    await join(app, 'Lurker', { spectator: true, map: '' });
    await expect
      .poll(() => attributes(page, '#spectators tr[data-spectator]', 'data-spectator'), POLL)
      .toEqual(expect.arrayContaining(['Watcher', 'Lurker']));
    expect(await texts(page, '#player-count')).toEqual(['2']);
    await screenshot(page, 'home');

    // Leaving removes the row.
    bravo.disconnect();
    await expect.poll(() => attributes(page, '#players tr[data-player]', 'data-player'), POLL).toEqual(['Alpha']);
    await expect.poll(() => texts(page, '#player-count'), POLL).toEqual(['1']);

    expect(await live.reloaded(), 'the page reloaded instead of following /live').toBe(false);
    expect(problemsOf(page)).toEqual([]);
    expectNoAddresses(app, await page.content(), 'home page DOM');
    expectNoAddresses(app, await (await fetch(pageUrl(app, '/'))).text(), 'home page HTML');
    await expectReadable(page, 'home');
    await expectPhoneFriendly(pageUrl(app, '/'), 'home', LIVE);
  });
});

describe('a race on the pages', SLOW, () => {
  it('follows a race on the home page and the overlay, then shows its results, splits and chart on /races/:id', async () => {
    const app = await startApp();
    const runners = await Promise.all(['Alpha', 'Bravo', 'Charlie', 'Delta'].map((name) => join(app, name)));
    const [alpha, bravo, charlie, delta] = runners as [SimClient, SimClient, SimClient, SimClient];
    await join(app, 'Watcher', { spectator: true, map: '' });
    const stream = await LiveStream.open(pageUrl(app, '/live'));
    const home = await browser.open(pageUrl(app, '/'));
    const homeLive = await followLive(home);
    const overlay = await browser.open(pageUrl(app, '/overlay?rows=3&theme=light'), {
      viewport: { width: 480, height: 360 },
    });
    await overlay.waitForSelector('#overlay');
    const overlayMarked = await overlay.evaluate('window.__marker = 1');
    expect(overlayMarked).toBe(1);

    // Open: the card appears on both pages.
    expect((await command(app, 'race open Friday any%')).ok).toBe(true);
    const id = app.races.current()!.id;
    await expect.poll(() => texts(home, '#race-title'), POLL).toEqual(['Friday any%']);
    await expect.poll(() => texts(home, '#race-state'), POLL).toEqual(['open']);
    await expect.poll(() => texts(overlay, '#race-title'), POLL).toEqual(['Friday any%']);

    // Ready: the entrants appear.
    for (const runner of runners) {
      runner.sendMessage('/ready');
      await heard(runner, new RegExp(`^${runner.options.name} is ready`));
    }
    await expect
      .poll(() => standings(home), POLL)
      .toEqual(expect.arrayContaining(['Alpha', 'Bravo', 'Charlie', 'Delta']));
    expect(await texts(home, '#standings tr[data-entrant] .status')).toEqual(['ready', 'ready', 'ready', 'ready']);

    // Start: counting down, then running with a clock that moves.
    const go = app.server.bus.once('raceStarted');
    expect((await command(app, 'race start 1')).ok).toBe(true);
    await stream.waitFor('countdown');
    await go;
    await stream.waitFor('go');
    await expect.poll(() => texts(home, '#race-state'), POLL).toEqual(['running']);
    const clock = (await texts(home, '#race-elapsed'))[0]!;
    expect(clock).toMatch(/^\d+:\d\d\.\d$/);
    await expect.poll(() => texts(home, '#race-elapsed'), POLL).not.toEqual([clock]);
    expect(await texts(home, '#race-elapsed')).toEqual([expect.stringMatching(/^\d+:\d\d\.\d$/)]);

    // Splits with SAR's split ticks order the runners by how far along the route they are.
    const route = (client: SimClient, maps: string[], ticks: number) => {
      let total = 0;
      for (const map of maps) {
        total += ticks;
        client.changeMap(map, ticks, total);
      }
    };
    route(charlie, ['sp_a1_intro2', 'sp_a1_intro3', 'sp_a1_intro4'], 300);
    route(delta, ['sp_a1_intro2', 'sp_a1_intro3'], 320);
    route(bravo, ['sp_a1_intro2'], 340);
    await barrier(charlie, delta, bravo);
    await expect.poll(() => standings(home), POLL).toEqual(['Charlie', 'Delta', 'Bravo', 'Alpha']);
    expect(await cell(home, '#standings tr[data-entrant="Charlie"]', 'progress')).toBe(mapLine('sp_a1_intro4'));
    expect(await texts(home, '#standings tr[data-entrant] .position')).toEqual(['1', '2', '3', '4']);
    await expect
      .poll(() => attributes(overlay, '#overlay-standings li[data-entrant]', 'data-entrant'), POLL)
      .toEqual(['Charlie', 'Delta', 'Bravo']);

    // Alpha overtakes everyone.
    route(alpha, ['sp_a1_intro2', 'sp_a1_intro3', 'sp_a1_intro4', 'sp_a1_intro5'], 250);
    await barrier(alpha);
    await expect.poll(() => standings(home), POLL).toEqual(['Alpha', 'Charlie', 'Delta', 'Bravo']);
    expect(await cell(home, '#standings tr[data-entrant="Alpha"]', 'progress')).toBe(mapLine('sp_a1_intro5'));
    await expect
      .poll(() => attributes(overlay, '#overlay-standings li[data-entrant]', 'data-entrant'), POLL)
      .toEqual(['Alpha', 'Charlie', 'Delta']);

    // Finishes show SAR's time; the overlay shows it too.
    alpha.finishSpeedrun('1:02.345');
    await expect.poll(() => cell(home, '#standings tr[data-entrant="Alpha"]', 'time'), POLL).toBe('1:02.345');
    expect(await cell(home, '#standings tr[data-entrant="Alpha"]', 'status')).toBe('finished');
    await expect
      .poll(() => texts(overlay, '#overlay-standings li[data-entrant="Alpha"]'), POLL)
      .toEqual([expect.stringContaining('1:02.345')]);
    await stream.waitFor('finish', (data) => data.name === 'Alpha' && data.time === '1:02.345');
    await screenshot(home, 'home-race');
    await expectReadable(home, 'home during a race');

    // The overlay, mid-race: transparent, no scrollbars, at most three rows, readable rows.
    expect(await overlay.locator('#overlay-standings li').count()).toBe(3);
    const background = await pageBackgroundAlpha(overlay);
    expect(background).toEqual({ html: 0, body: 0, images: [] });
    const box = await layout(overlay);
    expect(box.scrollWidth, JSON.stringify(box)).toBeLessThanOrEqual(box.innerWidth);
    expect(box.scrollHeight, JSON.stringify(box)).toBeLessThanOrEqual(box.innerHeight);
    const scrollbars = await run<{ vertical: boolean; horizontal: boolean }>(
      overlay,
      String.raw`function () {
        const root = document.documentElement;
        return { vertical: innerWidth > root.clientWidth, horizontal: innerHeight > root.clientHeight };
      }`,
    );
    expect(scrollbars).toEqual({ vertical: false, horizontal: false });
    await expectReadable(overlay, 'overlay rows', { scope: '#overlay', transparentBackdrop: true });
    await screenshot(overlay, 'overlay', { transparent: true });
    await expectPhoneFriendly(pageUrl(app, '/overlay?rows=3&theme=light'), 'overlay', '#overlay-standings li');
    expect(await overlay.evaluate('window.__marker'), 'the overlay reloaded').toBe(1);
    expect(problemsOf(overlay)).toEqual([]);
    expectNoAddresses(app, await overlay.content(), 'overlay DOM');

    charlie.finishSpeedrun('1:05.000');
    await expect.poll(() => cell(home, '#standings tr[data-entrant="Charlie"]', 'time'), POLL).toBe('1:05.000');
    expect(await cell(home, '#standings tr[data-entrant="Charlie"]', 'gap')).toMatch(/^\+\d+\.\d{3}$/);

    // The race ends when everyone is done; it joins the recent races, linking to its page.
    const ended = app.server.bus.once('raceEnded');
    delta.sendMessage('/ff');
    await heard(alpha, /^Delta forfeited/);
    bravo.sendMessage('/ff');
    expect((await ended).race.state).toBe('finished');
    await stream.waitFor('races');
    await expect
      .poll(() => attributes(home, `#recent li[data-race="${id}"] a`, 'href'), POLL)
      .toEqual([`/races/${id}`]);
    const recent = (await texts(home, `#recent li[data-race="${id}"]`))[0]!;
    expect(recent).toContain('Friday any%');
    expect(recent).toContain('Alpha');
    expect(await homeLive.reloaded(), 'the home page reloaded instead of following /live').toBe(false);
    expect(problemsOf(home)).toEqual([]);
    expectNoAddresses(app, await home.content(), 'home page DOM after a race');

    // The race's page, reached by its link.
    await home.click(`#recent li[data-race="${id}"] a`);
    await home.waitForURL(pageUrl(app, `/races/${id}`));
    const race = home;
    expect(await texts(race, 'h1')).toEqual(['Friday any%']);
    expect(await race.locator('main').count()).toBe(1);
    const final = await standings(race);
    expect(final.slice(0, 2)).toEqual(['Alpha', 'Charlie']);
    expect([...final].sort()).toEqual(['Alpha', 'Bravo', 'Charlie', 'Delta']);
    expect(await texts(race, '#standings tr[data-entrant] .time')).toEqual(['1:02.345', '1:05.000', '', '']);
    const gaps = await texts(race, '#standings tr[data-entrant] .gap');
    expect(gaps[0]).not.toMatch(/^\+/);
    expect(gaps[1]).toMatch(/^\+\d+\.\d{3}$/);
    expect(await texts(race, '#standings tr[data-entrant="Delta"] .status')).toEqual(['forfeited']);
    // Splits: a table per entrant, one row per split (Alpha 4, Charlie 3, Delta 2, Bravo 1).
    expect(await race.locator('#splits table').count()).toBe(4);
    expect(await race.locator('#splits table tbody tr').count()).toBe(10);
    const splitsText = (await texts(race, '#splits')).join(' ');
    for (const name of ['Alpha', 'Bravo', 'Charlie', 'Delta']) expect(splitsText).toContain(name);
    expect(splitsText).toContain('Portal Carousel');
    // The chart is drawn.
    await race.waitForSelector(CHART_DRAWN);
    const ink = await canvasInk(race, '#race-chart');
    expect(ink.drawn).toBe('true');
    expect(ink.inked, JSON.stringify(ink)).toBeGreaterThan(100);
    await screenshot(race, 'race');
    expect(problemsOf(race)).toEqual([]);
    expectNoAddresses(app, await race.content(), 'race page DOM');
    await expectReadable(race, 'race page');
    const racePhone = await expectPhoneFriendly(pageUrl(app, `/races/${id}`), 'race', CHART_DRAWN);
    await expectStandingsInView(racePhone, 'race page on a phone');

    // Nothing anywhere gives a player's address away: the served HTML, the stream.
    for (const path of ['/', `/races/${id}`, '/overlay', '/overlay?rows=3&theme=light']) {
      const response = await fetch(pageUrl(app, path));
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy'), path).toMatch(/default-src 'self'/);
      const html = await response.text();
      expectNoAddresses(app, html, `${path} HTML`);
      // No inline script: every <script> has a src, or is data (never run).
      const scripts = html.match(/<script\b[^>]*>/g) ?? [];
      expect(
        scripts.filter((tag) => !/\ssrc=/.test(tag) && !/type="application\/json"/.test(tag)),
        path,
      ).toEqual([]);
      expect(html, path).toMatch(/^<!doctype html><html lang="en">/i);
    }
    expect(stream.names()[0]).toBe('snapshot');
    expect(stream.names()).toEqual(expect.arrayContaining(['race', 'countdown', 'go', 'finish', 'races']));
    expectNoAddresses(app, stream.raw, '/live during a race');

    // Last, as it is about how the chart draws rather than what the pages say.
    for (const dataset of await chartSteps(race))
      expect
        .soft(STEP_AT_SPLIT, `chart line of ${dataset.label} is stepped ${String(dataset.stepped)}`)
        .toContain(dataset.stepped);
  });

  it('shows the overlay readable in the dark theme, and the race page on a phone mid-race', async () => {
    const app = await startApp();
    const runners = await Promise.all(['Alpha', 'Bravo'].map((name) => join(app, name)));
    expect((await command(app, 'race open Overlay check')).ok).toBe(true);
    const id = app.races.current()!.id;
    for (const runner of runners) {
      runner.sendMessage('/ready');
      await heard(runner, new RegExp(`^${runner.options.name} is ready`));
    }
    const go = app.server.bus.once('raceStarted');
    expect((await command(app, 'race start 1')).ok).toBe(true);
    await go;
    runners[0]!.changeMap('sp_a1_intro2', 300, 300);
    await barrier(runners[0]!);

    const overlay = await browser.open(pageUrl(app, '/overlay?title=0'), { viewport: { width: 480, height: 360 } });
    await overlay.waitForSelector('#overlay-standings li[data-entrant]');
    expect(await attributes(overlay, '#overlay-standings li[data-entrant]', 'data-entrant')).toEqual([
      'Alpha',
      'Bravo',
    ]);
    expect(await pageBackgroundAlpha(overlay)).toEqual({ html: 0, body: 0, images: [] });
    // title=0: the title is there for screen readers, not on screen.
    const title = await overlay.locator('#race-title').boundingBox();
    expect(title === null || title.width <= 1 || title.height <= 1, JSON.stringify(title)).toBe(true);
    await expectReadable(overlay, 'dark overlay rows', { scope: '#overlay', transparentBackdrop: true });
    await screenshot(overlay, 'overlay-dark', { transparent: true });

    const race = await browser.open(pageUrl(app, `/races/${id}`), { waitFor: CHART_DRAWN });
    expect(await standings(race)).toEqual(['Alpha', 'Bravo']);
    // A running race's page follows the stream too.
    const raceLive = await followLive(race);
    runners[1]!.changeMap('sp_a1_intro2', 200, 200);
    runners[1]!.changeMap('sp_a1_intro3', 200, 400);
    await barrier(runners[1]!);
    await expect.poll(() => standings(race), POLL).toEqual(['Bravo', 'Alpha']);
    await expect
      .poll(() => cell(race, '#standings tr[data-entrant="Bravo"]', 'progress'), POLL)
      .toBe(mapLine('sp_a1_intro3'));
    await expect
      .poll(() => attributes(overlay, '#overlay-standings li[data-entrant]', 'data-entrant'), POLL)
      .toEqual(['Bravo', 'Alpha']);
    expect(await raceLive.reloaded(), 'the race page reloaded instead of following /live').toBe(false);
    await screenshot(race, 'race-running');
    await expectReadable(race, 'race page mid-race');
    await expectPhoneFriendly(pageUrl(app, `/races/${id}`), 'race-running', CHART_DRAWN);
    const homePhone = await expectPhoneFriendly(pageUrl(app, '/'), 'home-race', LIVE);
    await expectStandingsInView(homePhone, 'home page on a phone during a race');
    // Dark mode (prefers-color-scheme: dark) is readable too.
    const darkHome = await browser.open(pageUrl(app, '/'), { colorScheme: 'dark', waitFor: LIVE });
    await screenshot(darkHome, 'home-dark');
    await expectReadable(darkHome, 'home page, dark');
    const darkRace = await browser.open(pageUrl(app, `/races/${id}`), { colorScheme: 'dark', waitFor: CHART_DRAWN });
    await screenshot(darkRace, 'race-dark');
    await expectReadable(darkRace, 'race page, dark');
    await expectChartReadable(race, 'race chart');
    await expectChartReadable(darkRace, 'race chart, dark');
    // Narrowing the window (or turning a tablet) to a phone's width reflows the page, chart included.
    const narrowed = await phoneLayout(race);
    // Chart.js follows its box's size a frame or two later.
    await expect
      .poll(async () => (await layout(race)).scrollWidth, POLL)
      .toBeLessThanOrEqual(PHONE.width)
      .catch(() => undefined);
    const after = await layout(race);
    expect(
      after.scrollWidth,
      `race page narrowed to 375 px: ${JSON.stringify({ narrowed, after })}`,
    ).toBeLessThanOrEqual(after.innerWidth);
    expect(problemsOf(race)).toEqual([]);
    expect(problemsOf(overlay)).toEqual([]);
  });
});
