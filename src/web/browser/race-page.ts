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
  stepped: 'after';
}
interface ChartInstance {
  data: { datasets: ChartDataset[] };
  update(mode?: string): void;
}
type ChartConstructor = new (canvas: HTMLCanvasElement, config: unknown) => ChartInstance;

const race = embedded<PublicRace>('race-data');
const canvas = byId('race-chart') as HTMLCanvasElement | null;
const ChartClass = (window as unknown as { Chart?: ChartConstructor }).Chart;

/** Distinct, dark enough colours to read on white: the golden angle around the hue circle. */
const colour = (index: number) => `hsl(${Math.round((index * 137.508) % 360)} 75% 38%)`;

const minutes = (ms: number) => ms / 60_000;

function splitPoint(split: PublicSplit): ChartPoint {
  return { x: minutes(split.elapsedMs), y: split.progress, label: mapText(split.toMap, split.toPlace) };
}

/** The top of the chart: the route's end, or one past the furthest anybody reached. */
function finishHeight(current: PublicRace): number {
  if (current.routeLength !== null) return current.routeLength;
  let furthest = 0;
  for (const entrant of current.entrants)
    for (const split of entrant.splits ?? []) furthest = Math.max(furthest, split.progress);
  return furthest + 1;
}

function points(entrant: PublicEntrant, current: PublicRace): ChartPoint[] {
  const line: ChartPoint[] = [{ x: 0, y: 0, label: 'the go' }];
  for (const split of entrant.splits ?? []) line.push(splitPoint(split));
  if (entrant.elapsedMs !== null && entrant.status === 'finished') {
    line.push({ x: minutes(entrant.elapsedMs), y: finishHeight(current), label: `finished in ${entrant.time ?? ''}` });
  }
  return line;
}

function datasets(current: PublicRace): ChartDataset[] {
  return current.entrants
    .filter((entrant) => entrant.status !== 'ready' && entrant.status !== 'not_ready')
    .map((entrant, index) => ({
      label: entrant.name,
      data: points(entrant, current),
      borderColor: colour(index),
      backgroundColor: colour(index),
      stepped: 'after' as const,
    }));
}

function drawChart(current: PublicRace): ChartInstance | undefined {
  if (canvas === null || ChartClass === undefined) return undefined;
  const chart = new ChartClass(canvas, {
    type: 'line',
    data: { datasets: datasets(current) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', min: 0, title: { display: true, text: 'minutes since the go' } },
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
              `${item.dataset.label}: ${item.raw.label} at ${formatClock(item.raw.x * 60_000)}`,
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
      chart.data.datasets = datasets(current);
      chart.update('none');
    }
  });
  const live = current.state !== 'finished' && current.state !== 'cancelled';
  if (live) {
    openLive({
      race({ race: update }) {
        if (update.id !== current.id) return;
        // The live event leaves splits out: keep the ones this page has, by runner.
        const splits = new Map(current.entrants.map((entrant) => [entrant.name, entrant.splits ?? []]));
        current = {
          ...update,
          entrants: update.entrants.map((entrant) => ({ ...entrant, splits: splits.get(entrant.name) ?? [] })),
        };
        clock.set(current);
        redraw();
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
