/**
 * The in-process event bus that joins the ghost server to everything that watches it (logging,
 * Discord, persistence, plugins, code that embeds the server). A listener that throws or rejects
 * is reported through `onListenerError` and never reaches the code that emitted the event, so a
 * broken subscriber cannot disturb the ghost server.
 *
 * Every event is one entry of `EVENTS` below. Everything else is derived from that table: the
 * payload types of the bus (`ServerEvents`), the names plugins use (`ServerEvent.ClientConnect`),
 * and the arguments an `@on` method gets (typed, and built at run time by `pluginArguments`).
 * Adding an event is adding an entry (and a row to docs/plugins.md's table of events, which a
 * test compares with this one).
 */
import type { Color } from './ghost/protocol/packets.js';
import type { RefusalCode } from './ghost/refusals.js';
import type { Entrant, RaceSnapshot, Split } from './races/types.js';

/** A read-only view of a connected client, safe to hand to subscribers. */
export interface ClientInfo {
  id: number;
  name: string;
  address: string;
  model: string;
  map: string;
  color: Color;
  spectator: boolean;
  tcpOnly: boolean;
  connectedAt: Date;
  /**
   * The Discord member this player is linked to (src/identity), when the name is linked and this
   * address is confirmed for it; null otherwise. Never a link code.
   */
  discordId: string | null;
}

/** How plugins see an event: its key in `ServerEvent`, and the arguments of an `@on` method. */
export interface PluginView<Payload, Key extends string, Args extends unknown[]> {
  key: Key;
  /** The arguments' names, in order (docs/plugins.md lists them). */
  parameters: { [I in keyof Args]: string };
  toArguments(payload: Payload): Args;
}

/** One row of the table. `payload` exists only in the type: it carries the payload's shape. */
export interface EventDefinition<Payload, View = undefined> {
  readonly plugin: View;
  readonly payload?: Payload;
}

/** An event for the server's own subscribers and embedding code; plugins cannot listen to it. */
function serverOnly<Payload>(): EventDefinition<Payload> {
  return { plugin: undefined };
}

/** An event plugins can listen to as well, with `@on(ServerEvent[key])`. */
function forPlugins<Payload>() {
  return <const Key extends string, Args extends unknown[]>(
    key: Key,
    parameters: NoInfer<{ [I in keyof Args]: string }>,
    toArguments: (payload: Payload) => Args,
  ): EventDefinition<Payload, PluginView<Payload, Key, Args>> => ({ plugin: { key, parameters, toArguments } });
}

/** Every event: payload type, and for the events plugins see, their name and `@on` arguments. */
export const EVENTS = {
  /** The server is listening (after every plugin has loaded). */
  serverStarted: forPlugins<{ hostname: string; port: number }>()(
    'ServerStart',
    ['hostname', 'port'],
    (p): [hostname: string, port: number] => [p.hostname, p.port],
  ),
  /** Shutting down has begun; clients are still connected. */
  serverStopping: forPlugins<{ reason: string }>()('ServerStop', ['reason'], (p): [reason: string] => [p.reason]),
  /** Everything is closed. */
  serverStopped: serverOnly<{ reason: string }>(),
  /** A client has joined (it already has its confirm). */
  clientConnected: forPlugins<{ client: ClientInfo }>()('ClientConnect', ['client'], (p): [client: ClientInfo] => [
    p.client,
  ]),
  /** A client has been removed, for whatever reason. */
  clientDisconnected: forPlugins<{ client: ClientInfo; reason: string }>()(
    'ClientDisconnect',
    ['client', 'reason'],
    (p): [client: ClientInfo, reason: string] => [p.client, p.reason],
  ),
  /** A CONNECT request was turned away (`code` says why, see src/ghost/refusals.ts). */
  clientRefused: serverOnly<{
    name: string;
    address: string;
    spectator: boolean;
    code?: RefusalCode;
    reason: string;
  }>(),
  /** Chat was relayed (as relayed, after any rewrite); not chat commands or dropped messages. */
  clientMessage: forPlugins<{ client: ClientInfo; text: string }>()(
    'ClientMessage',
    ['text', 'client'],
    (p): [text: string, client: ClientInfo] => [p.text, p.client],
  ),
  /** A client loaded a map (`client.map` is already the new one). */
  mapChanged: forPlugins<{ client: ClientInfo; previousMap: string; ticks: number; ticksTotal: number }>()(
    'MapChange',
    ['client', 'map', 'previousMap'],
    (p): [client: ClientInfo, map: string, previousMap: string] => [p.client, p.client.map, p.previousMap],
  ),
  /** A client finished a run (`time` as SAR sends it). */
  speedrunFinished: forPlugins<{ client: ClientInfo; time: string }>()(
    'SpeedrunFinish',
    ['client', 'time'],
    (p): [client: ClientInfo, time: string] => [p.client, p.time],
  ),
  /** A client changed its ghost model. */
  modelChanged: forPlugins<{ client: ClientInfo; previousModel: string }>()(
    'ModelChange',
    ['client', 'model', 'previousModel'],
    (p): [client: ClientInfo, model: string, previousModel: string] => [p.client, p.client.model, p.previousModel],
  ),
  /** A client changed its ghost colour. */
  colorChanged: forPlugins<{ client: ClientInfo; previousColor: Color }>()(
    'ColorChange',
    ['client', 'color', 'previousColor'],
    (p): [client: ClientInfo, color: Color, previousColor: Color] => [p.client, p.client.color, p.previousColor],
  ),
  /** A countdown was sent (to everyone, or to a race's entrants: `clientIds`). */
  countdownStarted: forPlugins<{ duration: number; preCommands: string; postCommands: string; clientIds: number[] }>()(
    'CountdownStart',
    ['duration', 'preCommands', 'postCommands'],
    (p): [duration: number, preCommands: string, postCommands: string] => [p.duration, p.preCommands, p.postCommands],
  ),
  /** The countdown reached zero (duration seconds after it started). */
  countdownGo: forPlugins<{ duration: number; preCommands: string; postCommands: string; clientIds: number[] }>()(
    'CountdownGo',
    [],
    (): [] => [],
  ),
  /** A server message went to every client. */
  serverMessage: serverOnly<{ text: string }>(),
  /** A race was opened (`race open`), or a plain countdown began one. */
  raceOpened: forPlugins<{ race: RaceSnapshot }>()('RaceOpen', ['race'], (p): [race: RaceSnapshot] => [p.race]),
  /** The race's countdown reached zero: the entrants are running. */
  raceStarted: forPlugins<{ race: RaceSnapshot }>()('RaceStart', ['race'], (p): [race: RaceSnapshot] => [p.race]),
  /** An entrant changed map while the race runs. */
  raceSplit: forPlugins<{ race: RaceSnapshot; entrant: Entrant; split: Split }>()(
    'RaceSplit',
    ['race', 'entrant', 'split'],
    (p): [race: RaceSnapshot, entrant: Entrant, split: Split] => [p.race, p.entrant, p.split],
  ),
  /** An entrant finished (`entrant.finish` has the time and place). */
  raceFinished: forPlugins<{ race: RaceSnapshot; entrant: Entrant }>()(
    'RaceFinish',
    ['race', 'entrant'],
    (p): [race: RaceSnapshot, entrant: Entrant] => [p.race, p.entrant],
  ),
  /** The race is over: `race.state` is 'finished' or 'cancelled'. */
  raceEnded: forPlugins<{ race: RaceSnapshot }>()('RaceEnd', ['race'], (p): [race: RaceSnapshot] => [p.race]),
  /**
   * Anything about the race changed (an entrant readied, forfeited, joined, left, split,
   * finished; the state moved): what live views (the Discord card, web pages) redraw from.
   */
  raceUpdated: serverOnly<{ race: RaceSnapshot }>(),
};

type Table = typeof EVENTS;

/** The payload of each event on the bus. */
export type ServerEvents = {
  [E in keyof Table]: Table[E] extends EventDefinition<infer Payload, unknown> ? Payload : never;
};
export type EventName = keyof ServerEvents;

type PluginViews = {
  [E in EventName as Table[E]['plugin'] extends { key: string } ? E : never]: Table[E]['plugin'];
};

/** The plugin-facing names: `ServerEvent.ClientConnect` is 'clientConnected', and so on. */
export type ServerEventNames = { readonly [E in keyof PluginViews as PluginViews[E]['key']]: E };

/** Events a plugin can listen to with `@on(ServerEvent.X)`; the arguments are in `PluginEventArguments`. */
export const ServerEvent: ServerEventNames = Object.freeze(
  Object.fromEntries(
    Object.entries(EVENTS).flatMap(([event, definition]) =>
      definition.plugin === undefined ? [] : [[definition.plugin.key, event]],
    ),
  ),
) as ServerEventNames;
/** The name of an event plugins can listen to ('clientConnected', ...). */
export type ServerEvent = (typeof ServerEvent)[keyof typeof ServerEvent];

/** The arguments an `@on(event)` method is called with, e.g. `[client: ClientInfo, reason: string]`. */
export type PluginEventArguments<E extends ServerEvent> = ReturnType<PluginViews[E]['toArguments']>;

type AnyDefinition = EventDefinition<unknown, PluginView<unknown, string, unknown[]> | undefined>;

/** How plugins see `event`, or undefined if they cannot listen to it. */
function pluginView(event: string): PluginView<unknown, string, unknown[]> | undefined {
  return Object.hasOwn(EVENTS, event) ? (EVENTS as Record<string, AnyDefinition>)[event]!.plugin : undefined;
}

/** The arguments for a plugin's `@on(event)` method, or undefined if plugins cannot listen to `event`. */
export function pluginArguments(event: string, payload: unknown): unknown[] | undefined {
  return pluginView(event)?.toArguments(payload);
}

/** The argument names of a plugin event (`['client', 'reason']`), or undefined. */
export function pluginParameters(event: string): readonly string[] | undefined {
  return pluginView(event)?.parameters;
}

type Listener<E extends EventName> = (payload: ServerEvents[E]) => void | Promise<void>;

export class EventBus {
  private readonly listeners = new Map<EventName, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (event: EventName, error: unknown) => void = () => {}) {}

  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<E extends EventName>(event: E, listener: Listener<E>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Resolves with the next occurrence of an event (handy for tests and embedding code). */
  once<E extends EventName>(event: E): Promise<ServerEvents[E]> {
    return new Promise((resolve) => {
      const stop = this.on(event, (payload) => {
        stop();
        resolve(payload);
      });
    });
  }

  emit<E extends EventName>(event: E, payload: ServerEvents[E]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        const result = (listener as Listener<E>)(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.onListenerError(event, error));
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }
}
