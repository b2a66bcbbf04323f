/**
 * Takes the README's screenshots of the public pages (docs/images/): a real server on loopback
 * with SAR-like clients running two races, photographed by Debian's chromium through
 * playwright-core. `npm run screenshots [folder]`.
 */
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config.js';
import { SimClient } from '../src/sim/client.js';
import { CONSOLE_INVOKER } from '../src/commands/registry.js';
import { ROUTES } from '../src/races/routes.js';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const folder = mkdtempSync(join(tmpdir(), 'ghosting-screenshots-'));
const out = process.argv[2] ?? 'docs/images';
const config = defaultConfig();
config.server.hostname = '127.0.0.1';
config.server.port = 0;
config.http.enabled = true;
config.http.port = 0;
config.http.page_title = 'Portal 2 race night';
config.http.public_address = 'ghost.example.org:53000';
config.limits.map_change_per_second = 0;
config.database.path = join(folder, 'ghosting.db');
const app = createApp({ config });
await app.start();
const run = (line: string) => app.commands.execute(line, CONSOLE_INVOKER);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sp = ROUTES.sp.maps.map((m) => m.map);
const names = ['Zypeh', 'Alatreph', 'Betsruner', 'Kiwi', 'Mel', 'nyx'];
const clients: SimClient[] = [];
for (const name of names)
  clients.push(await SimClient.connect({ host: '127.0.0.1', port: app.server.port, name, map: 'sp_a1_intro1' }));
await SimClient.connect({ host: '127.0.0.1', port: app.server.port, name: 'caster', map: '', spectator: true });
// A race: each entrant walks the single-player route at its own pace (every 1st, 2nd or 3rd step).
async function race(title: string, entrants: SimClient[], stepsEach: number, paceMs: number, finishers: number) {
  await run(`race open ${title}`);
  for (const c of entrants) c.sendMessage('/ready');
  await sleep(300);
  await run('race start 1');
  await sleep(1300);
  const runners = entrants.map((client, k) => ({ client, k, reached: 0, total: 0 }));
  for (let step = 0; step < stepsEach * 3; step++) {
    for (const runner of runners) {
      const { k } = runner;
      if (step % ((k % 3) + 1) !== 0 || runner.reached >= stepsEach - (k >= finishers ? 1 + k : 0)) continue;
      const ticks = 300 + k * 60 + (step % 5) * 40;
      runner.total += ticks;
      runner.reached++;
      runner.client.changeMap(sp[runner.reached]!, ticks, runner.total);
    }
    await sleep(paceMs);
  }
}
await race('Warm-up: chapter 1', clients.slice(0, 4), 6, 150, 4);
for (const [k, c] of clients.slice(0, 3).entries()) {
  c.finishSpeedrun(`${12 + k}.${300 + k * 111}`);
  await sleep(200);
}
await run('race end');
await sleep(500);
await race('Saturday any% #42', clients.slice(0, 5), 14, 400, 2);
clients[0]!.finishSpeedrun('6:23.517');
await sleep(700);
clients[1]!.finishSpeedrun('6:25.004');
await sleep(1200);
clients[5]!.changeMap('sp_a3_speed_ramp');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
const base = `http://127.0.0.1:${app.http.port}`;
const shoot = async (
  path: string,
  file: string,
  width: number,
  height: number,
  opts: { clip?: boolean; dark?: boolean; transparent?: boolean } = {},
) => {
  const page = await browser.newPage({ viewport: { width, height }, colorScheme: opts.dark ? 'dark' : 'light' });
  await page.goto(base + path);
  await page.waitForSelector('#live-status[data-state="open"], #overlay', { timeout: 5000 }).catch(() => {});
  await sleep(1200);
  await page.screenshot({
    path: join(out, file), fullPage: !opts.clip, omitBackground: !!opts.transparent });
  await page.close();
};
await shoot('/', 'home.png', 1200, 800);
await shoot('/races/1', 'race.png', 1200, 900, { clip: true });
await shoot('/overlay?rows=5', 'overlay.png', 520, 330, { clip: true, transparent: true });
await shoot('/', 'home-phone.png', 390, 800, { clip: true, dark: true });
await browser.close();
await app.stop('screenshots taken');
rmSync(folder, { recursive: true, force: true });
console.log(`screenshots in ${out}`);
process.exit(0);
