/**
 * `/races/:id`: draws the race as a chart (Chart.js, loaded before this script from
 * /assets/chart.umd.min.js): time since the go across, progress along the route up, one line per
 * runner. While the race is live, `/live` moves the standings and adds each split to the chart
 * and the split tables as it happens.
 */
import { formatClock, mapText, splitsSection, STATE_TEXT, standingsTable } from '../shared/render.js';
import type { PublicEntrant, PublicRace, PublicSplit } from '../shared/types.js';
import { batched, byId, embedded, setHtml, setText } from './dom.js';
import { openLive, RaceClock } from './live.js';

/** The little of Chart.js this page uses. */
interface ChartPoint {
  x: number;
  y: number;
  label: string;
}
interface ChartDataset {
  label: string;
  data: ChartPoint[];
  borderColor: string;
  backgroundColor: string;
  stepped: 'before';
  /** Per point: the finish is drawn bigger. */
  pointRadius: number[];
}
interface ChartInstance {
  data: { datasets: ChartDataset[] };
  options: { scales: { x: { title: { text: string } } } };
  update(mode?: string): void;
}
type ChartConstructor = (new (canvas: HTMLCanvasElement, config: unknown) => ChartInstance) & {
  defaults: { color: string; borderColor: string };
};

const race = embedded<PublicRace>('race-data');
const canvas = byId('race-chart') as HTMLCanvasElement | null;
const ChartClass = (window as unknown as { Chart?: ChartConstructor }).Chart;

const dark = matchMedia('(prefers-color-scheme: dark)').matches;
/** Distinct colours, dark on a light page and light on a dark one: the golden angle around the hue circle. */
const colour = (index: number) => `hsl(${Math.round((index * 137.508) % 360)} 75% ${dark ? 68 : 38}%)`;

/** The time axis counts seconds for a short race, minutes for a longer one. */
interface TimeUnit {
  ms: number;
  name: string;
}
const SECONDS: TimeUnit = { ms: 1000, name: 'seconds since the go' };
const MINUTES: TimeUnit = { ms: 60_000, name: 'minutes since the go' };

/** The unit the chart is drawn in now (the tooltips read it). */
let shownUnit = SECONDS;

function unitFor(current: PublicRace): TimeUnit {
  let longest = 0;
  for (const entrant of current.entrants) {
    longest = Math.max(longest, entrant.elapsedMs ?? 0, ...(entrant.splits ?? []).map((split) => split.elapsedMs));
  }
  shownUnit = longest < 120_000 ? SECONDS : MINUTES;
  return shownUnit;
}

function splitPoint(split: PublicSplit, unit: TimeUnit): ChartPoint {
  return { x: split.elapsedMs / unit.ms, y: split.progress, label: mapText(split.toMap, split.toPlace) };
}

function points(entrant: PublicEntrant, unit: TimeUnit): ChartPoint[] {
  const line: ChartPoint[] = [{ x: 0, y: 0, label: 'the go' }];
  for (const split of entrant.splits ?? []) line.push(splitPoint(split, unit));
  // The finish stays at the height the runner reached (a race need not go to the end of the
  // route: a chapter, a category); the line simply ends there, on a bigger point.
  if (entrant.elapsedMs !== null && entrant.status === 'finished') {
    const height = line[line.length - 1]!.y;
    line.push({ x: entrant.elapsedMs / unit.ms, y: height, label: `finished in ${entrant.time ?? ''}` });
  }
  return line;
}

function datasets(current: PublicRace, unit: TimeUnit): ChartDataset[] {
  return current.entrants
    .filter((entrant) => entrant.status !== 'ready' && entrant.status !== 'not_ready')
    .map((entrant, index) => {
      const data = points(entrant, unit);
      const finished = entrant.status === 'finished';
      return {
        label: entrant.name,
        data,
        borderColor: colour(index),
        backgroundColor: colour(index),
        stepped: 'before' as const,
        pointRadius: data.map((_, at) => (finished && at === data.length - 1 ? 7 : 3)),
      };
    });
}

function drawChart(current: PublicRace): ChartInstance | undefined {
  if (canvas === null || ChartClass === undefined) return undefined;
  // The chart's text and grid in the page's own colours (Chart.js's grey is too faint on dark).
  const style = getComputedStyle(document.body);
  ChartClass.defaults.color = style.color;
  ChartClass.defaults.borderColor = style.getPropertyValue('--line').trim() || 'rgba(128, 128, 128, 0.3)';
  const unit = unitFor(current);
  const chart = new ChartClass(canvas, {
    type: 'line',
    data: { datasets: datasets(current, unit) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', min: 0, title: { display: true, text: unit.name } },
        y: {
          type: 'linear',
          min: 0,
          ticks: { precision: 0 },
          title: { display: true, text: current.route === null ? 'maps reached' : 'maps along the route' },
        },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: {
            label: (item: { dataset: ChartDataset; raw: ChartPoint }) =>
              `${item.dataset.label}: ${item.raw.label} at ${formatClock(item.raw.x * shownUnit.ms)}`,
          },
        },
      },
    },
  });
  canvas.dataset.drawn = 'true';
  return chart;
}

if (race !== undefined) {
  let current = race;
  const chart = drawChart(current);
  const clock = new RaceClock();
  clock.set(current);
  const redraw = batched(() => {
    setHtml(
      'results',
      `<h2 id="results-heading">Standings</h2>${standingsTable(current.entrants, `Standings of ${current.title}`)}`,
    );
    setHtml('splits', splitsSection(current));
    const state = byId('race-state');
    if (state !== null) state.dataset.state = current.state;
    setText('race-state', STATE_TEXT[current.state]);
    if (chart !== undefined) {
      const unit = unitFor(current);
      chart.data.datasets = datasets(current, unit);
      chart.options.scales.x.title.text = unit.name;
      chart.update('none');
    }
  });
  const live = current.state !== 'finished' && current.state !== 'cancelled';
  if (live) {
    const update = (next: PublicRace) => {
      if (next.id !== current.id) return;
      // Live races come without splits: keep the ones this page has, by runner.
      const splits = new Map(current.entrants.map((entrant) => [entrant.name, entrant.splits ?? []]));
      current = {
        ...next,
        entrants: next.entrants.map((entrant) => ({ ...entrant, splits: splits.get(entrant.name) ?? [] })),
      };
      clock.set(current);
      redraw();
    };
    openLive({
      // A (re)connection's snapshot has the race as it is now: it may have ended meanwhile.
      snapshot({ race: now }) {
        if (now !== null) update(now);
      },
      race({ race: next }) {
        update(next);
      },
      split({ raceId, name, split }) {
        if (raceId !== current.id) return;
        const entrant = current.entrants.find((candidate) => candidate.name === name);
        if (entrant === undefined) return;
        entrant.splits = [...(entrant.splits ?? []), split];
        redraw();
      },
    });
  } else {
    setText('live-status', 'Final results');
    const status = byId('live-status');
    if (status !== null) status.dataset.state = 'closed';
  }
}
