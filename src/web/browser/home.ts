/**
 * `/`: keeps the players, the race card and the recent races up to date from `/live`. Each part
 * is redrawn (at most once a frame) with the same functions the server rendered it with.
 */
import { escapeHtml, playersSection, raceCard, recentList } from '../shared/render.js';
import type { LiveSnapshot, PublicPlayer } from '../shared/types.js';
import { batched, byId, setHtml } from './dom.js';
import { openLive, RaceClock } from './live.js';

const MAX_CHAT_LINES = 50;
let state: LiveSnapshot | undefined;
const clock = new RaceClock();

const drawPlayers = batched(() => {
  if (state === undefined) return;
  const sections = playersSection(state.players);
  setHtml('players', sections.players);
  setHtml('spectators', sections.spectators);
});
const drawRace = batched(() => {
  if (state === undefined) return;
  setHtml('race', raceCard(state.race));
  clock.set(state.race);
});
const drawRecent = batched(() => {
  if (state !== undefined) setHtml('recent', recentList(state.recent));
});

function upsert(player: PublicPlayer): void {
  if (state === undefined) return;
  const players = state.players.filter((other) => other.id !== player.id);
  players.push(player);
  players.sort((a, b) => a.id - b.id);
  state.players = players;
}

function addChat(name: string, text: string): void {
  const log = byId('chat-log');
  if (log === null) return;
  const line = document.createElement('li');
  line.innerHTML = `<b>${escapeHtml(name)}</b>: ${escapeHtml(text)}`;
  log.append(line);
  while (log.children.length > MAX_CHAT_LINES) log.firstElementChild?.remove();
}

openLive({
  snapshot(snapshot) {
    state = snapshot;
    drawPlayers();
    drawRace();
    drawRecent();
  },
  join({ player }) {
    upsert(player);
    drawPlayers();
  },
  leave({ id }) {
    if (state === undefined) return;
    state.players = state.players.filter((player) => player.id !== id);
    drawPlayers();
  },
  map({ id, map, place }) {
    const player = state?.players.find((candidate) => candidate.id === id);
    if (player === undefined) return;
    player.map = map;
    player.place = place;
    drawPlayers();
  },
  race({ race }) {
    if (state === undefined) return;
    state.race = race;
    drawRace();
  },
  races({ recent }) {
    if (state === undefined) return;
    state.recent = recent;
    drawRecent();
  },
  chat({ name, text }) {
    addChat(name, text);
  },
});
