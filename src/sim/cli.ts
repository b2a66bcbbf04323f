#!/usr/bin/env node
/**
 * `npm run client -- --name Player [--host H] [--port P] [--spectator] [--tcp-only] ...`:
 * a headless SAR-like client for trying a server by hand. It walks in a circle, answers
 * heartbeats and countdowns, and prints everything it receives except the bulk updates, which
 * it summarises once a second. Lines typed on stdin are sent as chat, except local commands
 * (`:map`, `:finish`, `:run`, `:ready`...) that rehearse a race as SAR would run it: map changes
 * carry SAR's split ticks, the finish SAR's formatted time.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { decodeDataGhost } from '../ghost/protocol/data-ghost.js';
import type { ServerPacket } from '../ghost/protocol/packets.js';
import { ROUTES, routeIndex } from '../races/routes.js';
import type { RouteId } from '../races/types.js';
import { formatSarTime, NO_SPLIT, SimClient, SplitTimer, TICKS_PER_SECOND, type SplitTicks } from './client.js';

/** The server's default `[limits] map_change_per_second` is 5: a faster runner would be cut off. */
const MIN_SECONDS_PER_MAP = 0.2;
const MAX_SECONDS_PER_MAP = 3600;
const DEFAULT_SECONDS_PER_MAP = 5;
/** A server message announcing an open race (what --auto-ready answers). */
const RACE_OPEN = /\bis open\b.*\/ready\b/;

const COMMANDS = `Typed lines are sent as chat, except local commands, which start with ':':
  :map <map> [ticks] [total]  load a map (MAP_CHANGE). Without ticks it carries SAR's split:
                              the ticks spent on the map left and the run so far (60 a second),
                              from the timer that starts at the countdown's go; before the go,
                              or for a map the run has visited already, the previous values
                              (0xFFFFFFFF before the first split, as SAR sends). ticks -1 = none;
                              total defaults to the previous total + ticks
  :finish [time]              SPEEDRUN_FINISH with that time (default: the timer's time, as SAR
                              formats it: 7.250, 1:02.345, 1:02:03.456); stops the timer
  :run [seconds]              rehearse a run: walk the route (--route) from the current map, one
                              map change every <seconds> (default: --auto-run's, else ${DEFAULT_SECONDS_PER_MAP}), and
                              finish after the last map; starts the timer if it is not running
  :stop                       stop :run (the timer keeps going)
  :ready, :unready, :ff       say /ready, /unready, /forfeit (the race's chat commands)
  :status                     the timer and where you are on the route
  :help                       this list
  ::text                      chat that starts with ':' (sends ":text")`;

const USAGE = `Usage: npm run client -- [options]

  --name <name>          player name (default: Player)
  --host <host>          server address (default: 127.0.0.1)
  --port <port>          server port (default: 53000)
  --map <map>            map to start on (default: sp_a1_intro1)
  --spectator            connect as a spectator (ghost_spec_connect)
  --tcp-only             send and receive everything over TCP
  --rate <n>             position updates per second (default: 20)
  --duration <seconds>   disconnect after this long (default: run until Ctrl-C)
  --local-address <ip>   local address to connect from
  --say <text>           send a chat message once connected
  --route <sp|coop>      the campaign :run and --auto-run walk (default: sp)
  --auto-ready           say /ready once connected, and again whenever the server announces
                         that a race is open
  --auto-run <seconds>   at every countdown's go, start :run with this many seconds per map
                         (${MIN_SECONDS_PER_MAP}–${MAX_SECONDS_PER_MAP})

${COMMANDS}`;

class UsageError extends Error {}

function secondsPerMap(text: string, what: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value >= MIN_SECONDS_PER_MAP && value <= MAX_SECONDS_PER_MAP))
    throw new UsageError(
      `${what}: expected seconds per map from ${MIN_SECONDS_PER_MAP} to ${MAX_SECONDS_PER_MAP}, got "${text}"`,
    );
  return value;
}

/** A tick count typed by hand: 0 to 4294967295, or -1 for "no split" (0xFFFFFFFF). */
function parseTicks(text: string, what: string): number {
  if (text === '-1') return NO_SPLIT;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > NO_SPLIT)
    throw new UsageError(`${what}: expected 0 to ${NO_SPLIT} or -1, got "${text}"`);
  return value;
}

function ticksText(ticks: number): string {
  return ticks === NO_SPLIT ? 'none' : `${ticks} ticks (${formatSarTime((ticks * 1000) / TICKS_PER_SECOND)})`;
}

function splitText({ ticks, ticksTotal }: SplitTicks): string {
  return ticks === NO_SPLIT && ticksTotal === NO_SPLIT
    ? 'no split yet'
    : `split ${ticksText(ticks)}, total ${ticksText(ticksTotal)}`;
}

function describe(packet: ServerPacket, names: (id: number) => string): string | undefined {
  switch (packet.type) {
    case 'connect':
      return `${packet.entity.name} (#${packet.entity.id}) joined${packet.entity.spectator ? ' as a spectator' : ''} on ${packet.entity.map || 'the menu'}`;
    case 'disconnect':
      return `${names(packet.id)} left`;
    case 'message':
      return packet.id === 0 ? `SERVER: ${packet.text}` : `${names(packet.id)}: ${packet.text}`;
    case 'map_change':
      return `${names(packet.id)} is now on ${packet.map} (${splitText(packet)})`;
    case 'speedrun_finish':
      return `${names(packet.id)} finished in ${packet.time}`;
    case 'model_change':
      return `${names(packet.id)} changed model to ${packet.model}`;
    case 'color_change':
      return `${names(packet.id)} changed colour to ${packet.color.r},${packet.color.g},${packet.color.b}`;
    case 'countdown_setup':
      return `countdown of ${packet.duration} s (pre: "${packet.preCommands}", post: "${packet.postCommands}")`;
    case 'countdown_go':
      return 'countdown confirmed by the server';
    case 'taunt':
      return `${names(packet.id)} taunts: ${packet.animation}`;
    case 'locator':
      return `${names(packet.id)} placed a locator at ${packet.position.x.toFixed(0)},${packet.position.y.toFixed(0)},${packet.position.z.toFixed(0)}`;
    case 'voice':
      return `${names(packet.id)} is talking (${packet.data.length} bytes)`;
    case 'ping':
      return 'pong';
    default:
      return undefined;
  }
}

/**
 * The rehearsal runner: SAR's split timer, the countdown's go, map changes along a route and the
 * finish, driven by typed commands and options.
 */
class Runner {
  private readonly timer = new SplitTimer();
  private runTimer: NodeJS.Timeout | undefined;
  private goTimer: NodeJS.Timeout | undefined;
  private countdown: { setupAt: number; duration: number } | undefined;

  constructor(
    private readonly client: SimClient,
    private readonly route: RouteId,
    private readonly autoRun: number | undefined,
    private readonly print: (line: string) => void,
  ) {}

  /** Follows the countdown like SAR: the go is the setup's arrival + its duration − half the confirm's round trip. */
  onPacket(packet: ServerPacket, at: number): void {
    if (packet.type === 'countdown_setup') {
      this.countdown = { setupAt: at, duration: packet.duration };
      this.scheduleGo(at + packet.duration * 1000);
    } else if (packet.type === 'countdown_go' && this.countdown !== undefined) {
      const roundTrip = at - this.countdown.setupAt;
      this.scheduleGo(this.countdown.setupAt + this.countdown.duration * 1000 - roundTrip / 2);
      this.countdown = undefined;
    }
  }

  private scheduleGo(at: number): void {
    clearTimeout(this.goTimer);
    this.goTimer = setTimeout(() => this.go(), Math.max(0, at - performance.now()));
  }

  private go(): void {
    this.stopRun();
    this.timer.start(performance.now(), this.client.map);
    this.print(`GO: the run's timer starts on ${this.client.map || 'the menu'}`);
    if (this.autoRun !== undefined) this.run(this.autoRun);
  }

  /** `:map`: a MAP_CHANGE with SAR's split, or with the ticks given. */
  changeMap(map: string, ticks?: number, ticksTotal?: number): void {
    let split: SplitTicks;
    if (ticks === undefined) {
      split = this.timer.enter(map, performance.now());
    } else {
      const previous = this.timer.last.ticksTotal === NO_SPLIT ? 0 : this.timer.last.ticksTotal;
      const total = ticksTotal ?? (ticks === NO_SPLIT ? NO_SPLIT : Math.min(NO_SPLIT - 1, previous + ticks));
      split = { ticks, ticksTotal: total };
      this.timer.record(map, split);
    }
    this.client.changeMap(map, split.ticks, split.ticksTotal);
    this.print(`you are now on ${map} (${splitText(split)})`);
  }

  /** `:finish`: SPEEDRUN_FINISH with the time given, or the timer's. */
  finish(time?: string): void {
    this.stopRun();
    const sent = time ?? this.timer.finish(performance.now());
    if (sent === undefined) {
      this.print('the timer is not running (no countdown has gone yet): give the time, e.g. :finish 1:02.345');
      return;
    }
    this.client.finishSpeedrun(sent);
    this.print(`you finished in ${sent}`);
  }

  /** `:run`: walks the route from the current map, then finishes. */
  run(seconds: number): void {
    this.stopRun();
    const maps = ROUTES[this.route].maps;
    if (!this.timer.running) {
      this.timer.start(performance.now(), this.client.map);
      this.print(`the run's timer starts on ${this.client.map || 'the menu'}`);
    }
    const step = () => {
      this.runTimer = undefined;
      const index = routeIndex(this.route, this.client.map);
      if (index === maps.length - 1) {
        this.finish();
        return;
      }
      this.changeMap(maps[index + 1]!.map);
      this.runTimer = setTimeout(step, seconds * 1000);
    };
    const onRoute = routeIndex(this.route, this.client.map) >= 0;
    this.print(
      `running the ${ROUTES[this.route].name.toLowerCase()} route from ${onRoute ? this.client.map : maps[0]!.map}, ${seconds} s per map`,
    );
    // Off the route (the menu, another map), the run begins by loading the route's first map.
    if (onRoute) this.runTimer = setTimeout(step, seconds * 1000);
    else step();
  }

  stopRun(): boolean {
    const wasRunning = this.runTimer !== undefined;
    clearTimeout(this.runTimer);
    this.runTimer = undefined;
    return wasRunning;
  }

  status(): string {
    const now = performance.now();
    const maps = ROUTES[this.route].maps;
    const index = routeIndex(this.route, this.client.map);
    const where =
      index >= 0
        ? `${this.client.map}, map ${index + 1} of ${maps.length} on the ${ROUTES[this.route].name.toLowerCase()} route`
        : `${this.client.map || 'the menu'} (not on the ${ROUTES[this.route].name.toLowerCase()} route)`;
    const timer = this.timer.running
      ? `timer running: ${formatSarTime((this.timer.elapsedTicks(now) * 1000) / TICKS_PER_SECOND)}`
      : 'timer not running';
    return `${where}; ${timer}; last ${splitText(this.timer.last)}${this.runTimer !== undefined ? '; :run is walking' : ''}`;
  }

  close(): void {
    this.stopRun();
    clearTimeout(this.goTimer);
  }
}

/** Runs one typed line: a local command, or chat. */
function handleLine(
  line: string,
  client: SimClient,
  runner: Runner,
  defaultSeconds: number,
  print: (text: string) => void,
): void {
  const text = line.trim();
  if (text === '') return;
  if (text.startsWith('::')) return client.sendMessage(text.slice(1));
  if (!text.startsWith(':')) return client.sendMessage(line);
  const [command = '', ...args] = text.slice(1).split(/\s+/);
  const expect = (min: number, max: number, usage: string) => {
    if (args.length < min || args.length > max) throw new UsageError(`usage: ${usage}`);
  };
  switch (command) {
    case 'map':
      expect(1, 3, ':map <map> [ticks] [total]');
      runner.changeMap(
        args[0]!,
        args[1] === undefined ? undefined : parseTicks(args[1], 'ticks'),
        args[2] === undefined ? undefined : parseTicks(args[2], 'total'),
      );
      return;
    case 'finish':
      // The time is sent as typed (SAR sends whatever its timer formatted): the rest of the line.
      runner.finish(args.length > 0 ? args.join(' ') : undefined);
      return;
    case 'run':
      expect(0, 1, ':run [seconds per map]');
      runner.run(args[0] === undefined ? defaultSeconds : secondsPerMap(args[0], ':run'));
      return;
    case 'stop':
      expect(0, 0, ':stop');
      print(runner.stopRun() ? 'stopped running the route' : ':run was not walking');
      return;
    case 'ready':
    case 'unready':
      expect(0, 0, `:${command}`);
      client.sendMessage(`/${command}`);
      return;
    case 'ff':
    case 'forfeit':
      expect(0, 0, ':ff');
      client.sendMessage('/forfeit');
      return;
    case 'status':
      print(runner.status());
      return;
    case 'help':
      print(COMMANDS);
      return;
    default:
      throw new UsageError(`unknown command :${command} (:help lists them; ::text sends ":text" as chat)`);
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        name: { type: 'string', default: 'Player' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '53000' },
        map: { type: 'string', default: 'sp_a1_intro1' },
        spectator: { type: 'boolean', default: false },
        'tcp-only': { type: 'boolean', default: false },
        rate: { type: 'string', default: '20' },
        duration: { type: 'string' },
        'local-address': { type: 'string' },
        say: { type: 'string' },
        route: { type: 'string', default: 'sp' },
        'auto-ready': { type: 'boolean', default: false },
        'auto-run': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  const rate = Number(values.rate);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--port: expected 1–65535, got ${values.port}`);
  if (!(rate > 0 && rate <= 1000))
    throw new UsageError(`--rate: expected a number of updates per second from 1 to 1000`);
  if (values.duration !== undefined && !(Number(values.duration) > 0))
    throw new UsageError(`--duration: expected a number of seconds, got ${values.duration}`);
  if (values.route !== 'sp' && values.route !== 'coop')
    throw new UsageError(`--route: expected sp or coop, got "${values.route}"`);
  const route: RouteId = values.route;
  const autoRun = values['auto-run'] === undefined ? undefined : secondsPerMap(values['auto-run'], '--auto-run');

  const client = await SimClient.connect({
    host: values.host,
    port,
    name: values.name,
    map: values.map,
    spectator: values.spectator,
    tcpOnly: values['tcp-only'],
    keepHistory: false,
    ...(values['local-address'] !== undefined ? { localAddress: values['local-address'] } : {}),
  });
  // Remembered separately: by the time a DISCONNECT is printed, the ghost list has dropped it.
  const knownNames = new Map<number, string>([[client.id, values.name]]);
  for (const ghost of client.ghosts.values()) knownNames.set(ghost.id, ghost.name);
  const names = (id: number) => knownNames.get(id) ?? `#${id}`;
  console.log(
    `connected to ${values.host}:${port} as ${values.name} (#${client.id}); ${client.ghosts.size} other(s) here`,
  );
  for (const ghost of client.ghosts.values())
    console.log(`  ${ghost.name} (#${ghost.id}) on ${ghost.map || 'the menu'}`);

  const print = (line: string) => console.log(line);
  const runner = new Runner(client, route, autoRun, print);
  let bulkUpdates = 0;
  client.on('packet', ({ packet, at }) => {
    if (packet.type === 'connect') knownNames.set(packet.entity.id, packet.entity.name);
    if (packet.type === 'bulk_update') {
      bulkUpdates++;
      return;
    }
    const line = describe(packet, names);
    if (line !== undefined) console.log(line);
    runner.onPacket(packet, at);
    // The server's "Race 3 is open: type /ready to enter."
    if (values['auto-ready'] && packet.type === 'message' && packet.id === 0 && RACE_OPEN.test(packet.text)) {
      console.log('(--auto-ready) you say /ready');
      client.sendMessage('/ready');
    }
  });
  client.on('problem', (description) => console.error(`protocol problem: ${description}`));
  if (values.say !== undefined) client.sendMessage(values.say);
  if (values['auto-ready']) client.sendMessage('/ready');

  const started = performance.now();
  const walk = setInterval(() => {
    if (values.spectator) return;
    const t = (performance.now() - started) / 1000;
    client.sendUpdate({
      position: { x: Math.cos(t) * 200, y: Math.sin(t) * 200, z: 64 },
      angles: { x: 0, y: ((t * 57.3) % 360) - 180, z: 0 },
      viewOffset: 64,
      grounded: true,
    });
  }, 1000 / rate);
  const summary = setInterval(() => {
    const visible = [...client.ghosts.values()].filter(
      (ghost) => !Number.isNaN(decodeDataGhost(ghost.ghost).position.x),
    );
    console.log(`[${bulkUpdates} bulk updates/s] ${visible.length} ghost(s) in view`);
    bulkUpdates = 0;
  }, 1000);

  const input =
    process.stdin.isTTY || values.duration === undefined ? createInterface({ input: process.stdin }) : undefined;
  input?.on('line', (line) => {
    try {
      handleLine(line, client, runner, autoRun ?? DEFAULT_SECONDS_PER_MAP, print);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.log(error.message);
    }
  });

  return new Promise((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      clearInterval(walk);
      clearInterval(summary);
      runner.close();
      input?.close();
      if (!client.closed) client.disconnect();
      setTimeout(() => resolve(code), 100);
    };
    client.on('close', () => {
      if (finished) return;
      console.log('disconnected by the server');
      finish(1);
    });
    process.once('SIGINT', () => finish(0));
    process.once('SIGTERM', () => finish(0));
    if (values.duration !== undefined) setTimeout(() => finish(0), Number(values.duration) * 1000);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`client: ${(error as Error).message}`);
    if (error instanceof UsageError) console.error('Run with --help for usage.');
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
