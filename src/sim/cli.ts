#!/usr/bin/env node
/**
 * `npm run client -- --name Player [--host H] [--port P] [--spectator] [--tcp-only] ...`:
 * a headless SAR-like client for trying a server by hand. It walks in a circle, answers
 * heartbeats and countdowns, and prints everything it receives except the bulk updates, which
 * it summarises once a second. Lines typed on stdin are sent as chat.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { decodeDataGhost } from '../ghost/protocol/data-ghost.js';
import type { ServerPacket } from '../ghost/protocol/packets.js';
import { SimClient } from './client.js';

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
  --say <text>           send a chat message once connected`;

function describe(packet: ServerPacket, names: (id: number) => string): string | undefined {
  switch (packet.type) {
    case 'connect':
      return `${packet.entity.name} (#${packet.entity.id}) joined${packet.entity.spectator ? ' as a spectator' : ''} on ${packet.entity.map || 'the menu'}`;
    case 'disconnect':
      return `${names(packet.id)} left`;
    case 'message':
      return packet.id === 0 ? `SERVER: ${packet.text}` : `${names(packet.id)}: ${packet.text}`;
    case 'map_change':
      return `${names(packet.id)} is now on ${packet.map}`;
    case 'speedrun_finish':
      return `${names(packet.id)} finished in ${packet.time}`;
    case 'model_change':
      return `${names(packet.id)} changed model to ${packet.model}`;
    case 'color_change':
      return `${names(packet.id)} changed colour to ${packet.color.r},${packet.color.g},${packet.color.b}`;
    case 'countdown_setup':
      return `countdown of ${packet.duration} s (pre: "${packet.preCommands}", post: "${packet.postCommands}")`;
    case 'countdown_go':
      return 'countdown confirmed: go!';
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

async function main(): Promise<number> {
  const { values } = parseArgs({
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  const rate = Number(values.rate);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`--port: expected 1–65535, got ${values.port}`);
  if (!(rate > 0 && rate <= 1000)) throw new Error(`--rate: expected a number of updates per second from 1 to 1000`);

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

  let bulkUpdates = 0;
  client.on('packet', ({ packet }) => {
    if (packet.type === 'connect') knownNames.set(packet.entity.id, packet.entity.name);
    if (packet.type === 'bulk_update') {
      bulkUpdates++;
      return;
    }
    const line = describe(packet, names);
    if (line !== undefined) console.log(line);
  });
  client.on('problem', (description) => console.error(`protocol problem: ${description}`));
  if (values.say !== undefined) client.sendMessage(values.say);

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
    if (line.trim() !== '') client.sendMessage(line);
  });

  return new Promise((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      clearInterval(walk);
      clearInterval(summary);
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
    process.exit(1);
  },
);
