/** `/overlay`: the current race's title, clock and first rows, live from `/live`. */
import { overlayContent } from '../shared/render.js';
import type { PublicRace } from '../shared/types.js';
import { batched, byId, setHtml } from './dom.js';
import { openLive, RaceClock } from './live.js';

const root = byId('overlay');
const options = {
  rows: Number(root?.dataset.rows ?? 8) || 8,
  showTitle: root?.dataset.title !== '0',
};
let race: PublicRace | null = null;
const clock = new RaceClock();

const draw = batched(() => {
  setHtml('overlay', overlayContent(race, options));
  clock.set(race);
});

openLive({
  snapshot(snapshot) {
    race = snapshot.race;
    draw();
  },
  race(update) {
    race = update.race;
    draw();
  },
});
