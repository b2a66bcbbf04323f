/**
 * `GET /live`: one Server-Sent-Events stream of what changes on the server, for the public pages
 * and anybody's tools. Built to cost the ghost tick next to nothing whatever the number of
 * viewers:
 *
 * - A bus listener only turns the event into its public JSON (shared/types.ts) and appends the
 *   encoded frame to a batch; nothing is written from inside the event.
 * - Every FLUSH_MS the batch becomes one Buffer, written as is to every viewer (one write per
 *   viewer per batch, no copy per viewer), WRITE_SLICE viewers at a time with the event loop
 *   free in between, so that the tick never waits behind hundreds of socket writes.
 * - Race changes come many a second in a big race: they are coalesced, and the last state is
 *   always sent (at most one `race` event per RACE_INTERVAL_MS, longer for big races).
 * - A viewer that does not read (its unsent bytes over MAX_UNSENT_BYTES) is dropped, never
 *   buffered without bound; more than `[http] max_live_viewers` at once are refused with 503.
 * - A comment every `[http] live_heartbeat_ms` keeps proxies from closing a quiet stream.
 *
 * Each connection starts with a `snapshot` event (the whole picture); a reconnecting page gets a
 * new one, so event ids only order events within a connection. A snapshot is encoded at most once
 * per SNAPSHOT_INTERVAL_MS: viewers arriving in between wait for the next one and share it, so a
 * rush of viewers (a stream's audience opening the page, every page reconnecting after a network
 * blip) costs one encoding per interval rather than one per viewer, and its writes are spread over
 * turns of the event loop like any batch.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../events.js';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../logger.js';
import type { RaceSnapshot } from '../races/types.js';
import { recentRaces } from '../http/races.js';
import type { OperationsTarget } from '../http/target.js';
import { placeOf, publicPlayer, publicRace, publicSplit, publicSummary } from './public-view.js';
import type { LiveEventName, LiveEvents, LiveSnapshot, RaceSummary } from './shared/types.js';
import { connectLine } from './connect-line.js';

export const FLUSH_MS = 250;
/** Viewers written to in one turn of the event loop. */
export const WRITE_SLICE = 50;
export const RACE_INTERVAL_MS = 250;
/** A viewer this far behind is dropped: about ten seconds of a busy server's events. */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** How many recent races the snapshot and the `races` event list. */
export const RECENT_RACES = 10;
/** How long a browser waits before reconnecting after the stream broke. */
const RETRY_MS = 3000;
/** Snapshots are encoded at most this often (the first viewer after a quiet spell gets one at once). */
export const SNAPSHOT_INTERVAL_MS = FLUSH_MS;

interface Viewer {
  response: ServerResponse;
  /** The id of its snapshot: batches of older events (queued before it came) are not for it. */
  since: number;
}

/**
 * A batch on its way out: its bytes and the id of its last event (heartbeats and snapshots:
 * Infinity), to every viewer or only to `to` (the viewers a snapshot is for).
 */
interface Outgoing {
  body: Buffer;
  lastId: number;
  to?: readonly Viewer[];
}

export interface LiveFeedOptions {
  bus: EventBus;
  app: OperationsTarget;
  settings: HttpSettings;
  logger: Logger;
}

/** A race's events come this far apart at least: a quarter second, and longer for a big field. */
export function raceInterval(entrants: number): number {
  return RACE_INTERVAL_MS * Math.max(1, Math.ceil(entrants / 50));
}

export class LiveFeed {
  private readonly viewers = new Set<Viewer>();
  /** Connected and waiting for the next snapshot, with the Host each asked with (for the connect line). */
  private readonly joining = new Map<Viewer, string | undefined>();
  private snapshotTimer: NodeJS.Timeout | undefined;
  private lastSnapshotAt = -Infinity;
  private readonly pending: string[] = [];
  private readonly outbox: Outgoing[] = [];
  private sending = false;
  private nextId = 1;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private raceTimer: NodeJS.Timeout | undefined;
  private pendingRace: RaceSnapshot | undefined;
  private lastRaceSentAt = 0;
  private recent: RaceSummary[] | undefined;
  /** The race that ended last, shown (results and all) until the next one opens. */
  private lastEnded: RaceSnapshot | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly log: Logger;
  /** Goes up with every change to a race (pages rendered from an older one are stale). */
  raceVersion = 0;
  /** Viewers dropped for not reading, for /metrics. */
  dropped = 0;
  /** Viewers refused because `max_live_viewers` were connected, for /metrics. */
  refused = 0;

  constructor(private readonly options: LiveFeedOptions) {
    this.log = options.logger.child({ module: 'live' });
  }

  get viewerCount(): number {
    return this.viewers.size + this.joining.size;
  }

  start(): void {
    const { bus, settings } = this.options;
    const on = this.unsubscribe;
    on.push(
      bus.on('clientConnected', ({ client }) => this.queue('join', { player: publicPlayer(client) })),
      bus.on('clientDisconnected', ({ client }) => this.queue('leave', { id: client.id, name: client.name })),
      bus.on('mapChanged', ({ client, previousMap }) =>
        this.queue('map', {
          id: client.id,
          name: client.name,
          map: client.map,
          previousMap,
          place: placeOf(client.map),
        }),
      ),
      bus.on('speedrunFinished', ({ client, time }) =>
        this.queue('finish', { id: client.id, name: client.name, time }),
      ),
      bus.on('serverMessage', ({ text }) => this.queue('message', { text })),
      bus.on('countdownStarted', ({ duration }) =>
        this.queue('countdown', { seconds: duration, raceId: this.options.app.races.current()?.id ?? null }),
      ),
      bus.on('countdownGo', () => this.queue('go', { raceId: this.options.app.races.current()?.id ?? null })),
      bus.on('raceSplit', ({ race, entrant, split }) => {
        if (this.viewers.size === 0) return;
        this.queue('split', { raceId: race.id, name: entrant.name, split: publicSplit(race, entrant.name, split) });
      }),
      bus.on('raceUpdated', ({ race }) => this.raceChanged(race)),
      bus.on('raceOpened', () => {
        this.raceVersion++;
        this.recent = undefined;
        this.lastEnded = undefined;
      }),
      bus.on('raceEnded', ({ race }) => {
        this.lastEnded = race;
        this.raceChanged(race);
        this.recent = undefined;
        if (this.viewers.size > 0) this.queue('races', { recent: this.recentRaces() });
      }),
    );
    if (settings.public_chat) {
      on.push(
        bus.on('clientMessage', ({ client, text }) => this.queue('chat', { id: client.id, name: client.name, text })),
      );
    }
    this.heartbeatTimer = setInterval(() => this.heartbeat(), settings.live_heartbeat_ms);
    this.heartbeatTimer.unref();
  }

  stop(): void {
    for (const stop of this.unsubscribe.splice(0)) stop();
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.raceTimer);
    clearTimeout(this.snapshotTimer);
    this.flushTimer = this.raceTimer = this.snapshotTimer = undefined;
    this.outbox.length = 0;
    for (const viewer of [...this.viewers, ...this.joining.keys()]) viewer.response.end();
    this.viewers.clear();
    this.joining.clear();
  }

  /** The race the pages show: the one open, counting down or running, else the last one, until the next opens. */
  currentRace(): RaceSnapshot | undefined {
    return this.options.app.races.current() ?? this.lastEnded;
  }

  /** The whole picture, as the `snapshot` event and the home page have it. */
  snapshot(host: string | undefined): LiveSnapshot {
    const { app, settings } = this.options;
    const race = this.currentRace();
    return {
      title: settings.page_title,
      ...this.snapshotHead(host),
      players: app.server.listClients().map(publicPlayer),
      race: race === undefined ? null : publicRace(race, false),
      recent: this.recentRaces(),
      chat: settings.public_chat,
    };
  }

  /** The recent races (read from the database once per race opened or ended, not per viewer). */
  recentRaces(): RaceSummary[] {
    this.recent ??= recentRaces(this.options.app, RECENT_RACES).races.map((race) => publicSummary(race as RaceSummary));
    return this.recent;
  }

  /** Answers `GET /live`: the stream's headers, a snapshot, then every batch until either side closes. */
  connect(request: IncomingMessage, response: ServerResponse): void {
    if (this.viewerCount >= this.options.settings.max_live_viewers) {
      this.refused++;
      if (this.refused === 1)
        this.log.warn({ viewers: this.viewerCount }, 'live viewer refused: max_live_viewers reached');
      response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '30' });
      response.end('Too many viewers; try again later.\n');
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Proxies such as nginx buffer responses unless told not to; a stream must go out as it comes.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    request.socket.setNoDelay(true);
    const viewer: Viewer = { response, since: Infinity };
    this.joining.set(viewer, request.headers.host);
    const remove = () => {
      this.joining.delete(viewer);
      this.viewers.delete(viewer);
    };
    response.on('close', remove);
    response.on('error', remove);
    if (this.snapshotTimer === undefined) {
      const wait = Math.max(0, this.lastSnapshotAt + SNAPSHOT_INTERVAL_MS - Date.now());
      this.snapshotTimer = setTimeout(() => this.welcome(), wait);
    }
  }

  /** Gives every viewer waiting one snapshot (one encoding per Host they used) and makes them viewers. */
  private welcome(): void {
    this.snapshotTimer = undefined;
    if (this.joining.size === 0) return;
    this.lastSnapshotAt = Date.now();
    // Events already queued happened before this snapshot: they go out without these viewers.
    this.flush();
    const id = this.nextId++;
    const byHost = new Map<string | undefined, Viewer[]>();
    for (const [viewer, host] of this.joining) {
      viewer.since = id;
      this.viewers.add(viewer);
      const group = byHost.get(host);
      if (group === undefined) byHost.set(host, [viewer]);
      else group.push(viewer);
    }
    this.joining.clear();
    // Everything but the connect line is encoded once, whatever the number of Hosts.
    const { connect: _connect, title, ...rest } = this.snapshot(undefined);
    const tail = JSON.stringify(rest).slice(1);
    for (const [host, group] of byHost) {
      const { connect } = this.snapshotHead(host);
      const data = `{"title":${JSON.stringify(title)},"connect":${JSON.stringify(connect)},${tail}`;
      const body = Buffer.from(`retry: ${RETRY_MS}\nid: ${id}\nevent: snapshot\ndata: ${data}\n\n`, 'utf8');
      this.send({ body, lastId: Infinity, to: group });
    }
  }

  /** The parts of a snapshot that depend on how the viewer reached the server. */
  private snapshotHead(host: string | undefined): Pick<LiveSnapshot, 'connect'> {
    const { app, settings } = this.options;
    return { connect: connectLine(settings.public_address, host, app.server.port) };
  }

  private frame<E extends LiveEventName>(event: E, data: LiveEvents[E]): string {
    return `id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private queue<E extends LiveEventName>(event: E, data: LiveEvents[E]): void {
    if (this.viewers.size === 0) return;
    this.pending.push(this.frame(event, data));
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private raceChanged(race: RaceSnapshot): void {
    this.raceVersion++;
    if (this.viewers.size === 0) return;
    this.pendingRace = race;
    if (this.raceTimer !== undefined) return;
    const wait = Math.max(0, this.lastRaceSentAt + raceInterval(race.entrants.length) - Date.now());
    this.raceTimer = setTimeout(() => {
      this.raceTimer = undefined;
      const latest = this.pendingRace;
      this.pendingRace = undefined;
      if (latest === undefined) return;
      this.lastRaceSentAt = Date.now();
      this.queue('race', { race: publicRace(latest, false) });
    }, wait);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const body = Buffer.from(this.pending.join(''), 'utf8');
    this.pending.length = 0;
    this.send({ body, lastId: this.nextId - 1 });
  }

  private heartbeat(): void {
    if (this.viewers.size > 0) this.send({ body: Buffer.from(': keep-alive\n\n'), lastId: Infinity });
  }

  /** Queues a batch; batches go out one after the other, in order, to every viewer. */
  private send(outgoing: Outgoing): void {
    this.outbox.push(outgoing);
    if (!this.sending) this.writeNext();
  }

  private writeNext(): void {
    const outgoing = this.outbox.shift();
    if (outgoing === undefined) {
      this.sending = false;
      return;
    }
    this.sending = true;
    const targets = outgoing.to ?? [...this.viewers];
    let index = 0;
    const slice = () => {
      const end = Math.min(index + WRITE_SLICE, targets.length);
      for (; index < end; index++) {
        const viewer = targets[index]!;
        if (!this.viewers.has(viewer) || outgoing.lastId <= viewer.since) continue;
        const { response } = viewer;
        response.write(outgoing.body);
        // Checked after the write, so a viewer is never more than one batch over the limit.
        if (response.writableLength > MAX_UNSENT_BYTES) this.drop(viewer);
      }
      if (index < targets.length) setImmediate(slice);
      else this.writeNext();
    };
    slice();
  }

  private drop(viewer: Viewer): void {
    const { response } = viewer;
    this.viewers.delete(viewer);
    this.dropped++;
    this.log.info(
      { unsentBytes: response.writableLength, viewers: this.viewers.size },
      'live viewer dropped: it was not reading the stream',
    );
    response.destroy();
  }
}
