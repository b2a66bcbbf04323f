/**
 * The public pages as whole HTML documents, rendered on the server from the parts in
 * shared/render.ts: each is complete and readable before any script runs (and without one).
 * The scripts under /assets/browser/ then keep them live from `/live`.
 *
 * Data a script needs at start (a race page's splits) rides in a `<script type="application/json">`
 * block, which the Content-Security-Policy allows because it is never executed.
 */
import {
  escapeHtml,
  formatClock,
  overlayContent,
  playersSection,
  raceCard,
  recentList,
  splitsSection,
  STATE_TEXT,
  standingsTable,
  type OverlayOptions,
} from './shared/render.js';
import type { LiveSnapshot, PublicRace } from './shared/types.js';

/** JSON safe inside a `<script>` element: no `</script>`, no `<!--`. */
function embeddedJson(id: string, value: unknown): string {
  const json = JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return `<script type="application/json" id="${id}">${json}</script>`;
}

interface DocumentParts {
  title: string;
  siteTitle: string;
  bodyClass: string;
  scripts: string[];
  main: string;
  /** Without the header and footer (the overlay). */
  bare?: boolean;
  /** The `<main>` element's attributes (default: `id="main"`). */
  mainAttributes?: string;
}

function document(parts: DocumentParts): string {
  const scripts = parts.scripts
    .map((src) =>
      src.endsWith('.umd.min.js')
        ? `<script src="${src}" defer></script>`
        : `<script type="module" src="${src}"></script>`,
    )
    .join('');
  const header = parts.bare
    ? ''
    : `<header class="site"><p class="site-name"><a href="/">${escapeHtml(parts.siteTitle)}</a></p>` +
      '<p id="live-status" data-state="connecting" role="status">Live updates need JavaScript; reload to see changes.</p></header>';
  const footer = parts.bare
    ? ''
    : '<footer class="site"><p>A ghost server for SourceAutoRecord. Read-only; live from <a href="/live">/live</a>.</p></footer>';
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">' +
    `<title>${escapeHtml(parts.title)}</title><link rel="stylesheet" href="/assets/style.css">${scripts}</head>` +
    `<body class="${parts.bodyClass}">${header}<main ${parts.mainAttributes ?? 'id="main"'}>${parts.main}</main>${footer}</body></html>`
  );
}

/** `GET /`: the server at a glance. */
export function homePage(snapshot: LiveSnapshot): string {
  const people = playersSection(snapshot.players);
  const connect =
    snapshot.connect === null
      ? '<p>Join from Portal 2 with SAR: <code id="connect">ghost_connect &lt;this server&gt;</code></p>'
      : `<p>Join from Portal 2 with SAR: <code id="connect">${escapeHtml(snapshot.connect)}</code> ` +
        '<span class="hint">(or <code>ghost_spec_connect</code> to watch)</span></p>';
  const main =
    `<section id="join" aria-labelledby="site-heading"><h1 id="site-heading">${escapeHtml(snapshot.title)}</h1>${connect}</section>` +
    '<div class="columns">' +
    `<section id="race" aria-labelledby="race-heading">${raceCard(snapshot.race)}</section>` +
    `<section id="players" aria-labelledby="players-heading">${people.players}</section>` +
    `<section id="spectators" aria-labelledby="spectators-heading">${people.spectators}</section>` +
    `<section id="recent">${recentList(snapshot.recent)}</section>` +
    (snapshot.chat
      ? '<section id="chat" aria-labelledby="chat-heading"><h2 id="chat-heading">Chat</h2><ol id="chat-log" aria-live="polite"></ol></section>'
      : '') +
    '</div>';
  return document({
    title: snapshot.title,
    siteTitle: snapshot.title,
    bodyClass: 'page-home',
    scripts: ['/assets/browser/home.js'],
    main,
  });
}

/** `GET /races/:id`: one race, its standings, its chart and every split. */
export function racePage(race: PublicRace, siteTitle: string): string {
  const when = race.goAt ?? race.openedAt;
  const main =
    `<h1 id="race-title">${escapeHtml(race.title)}</h1>` +
    `<p class="race-meta"><span id="race-state" data-state="${race.state}">${STATE_TEXT[race.state]}</span> ` +
    `<time id="race-elapsed">${race.elapsedMs === null ? '' : formatClock(race.elapsedMs)}</time> ` +
    `<span class="when">started <time datetime="${escapeHtml(when)}">${escapeHtml(when.replace('T', ' ').slice(0, 16))} UTC</time></span></p>` +
    `<section id="results" aria-labelledby="results-heading"><h2 id="results-heading">Standings</h2>` +
    `${standingsTable(race.entrants, `Standings of ${race.title}`)}</section>` +
    '<section id="chart" aria-labelledby="chart-heading"><h2 id="chart-heading">The race</h2>' +
    '<div class="chart-box"><canvas id="race-chart" role="img" ' +
    `aria-label="Progress along the route over time, one line per runner"></canvas></div></section>` +
    `<section id="splits" aria-labelledby="splits-heading">${splitsSection(race)}</section>` +
    embeddedJson('race-data', race);
  return document({
    title: `${race.title} · ${siteTitle}`,
    siteTitle,
    bodyClass: 'page-race',
    scripts: ['/assets/chart.umd.min.js', '/assets/browser/race-page.js'],
    main,
  });
}

/** `GET /overlay`: the current race for a stream (OBS browser source). */
export function overlayPage(race: PublicRace | null, options: OverlayOptions & { theme: 'dark' | 'light' }): string {
  return document({
    title: 'Race overlay',
    siteTitle: '',
    bodyClass: `overlay theme-${options.theme}`,
    scripts: ['/assets/browser/overlay.js'],
    bare: true,
    mainAttributes: `id="overlay" data-rows="${options.rows}" data-title="${options.showTitle ? 1 : 0}"`,
    main: overlayContent(race, options),
  });
}

/** A page that is not there (unknown race, unknown path under the pages). */
export function notFoundPage(siteTitle: string, text: string): string {
  return document({
    title: `Not found · ${siteTitle}`,
    siteTitle,
    bodyClass: 'page-error',
    scripts: [],
    main: `<h1>Not found</h1><p>${escapeHtml(text)}</p><p><a href="/">Back to the server</a></p>`,
  });
}
