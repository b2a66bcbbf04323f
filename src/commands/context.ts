/**
 * What admin commands act on. Commands change the server only through these objects — the same
 * methods the network code uses — so a kick from the console, Discord or a plugin behaves like
 * any other departure (DISCONNECT broadcast once, logged, event emitted).
 */
import type { Store } from '../db/database.js';
import type { ClientInfo } from '../events.js';
import type { GhostServer } from '../ghost/server.js';
import type { Identity } from '../identity/identity.js';
import type { RaceDirector } from '../races/director.js';
import { oneLine, printable } from '../text/printable.js';
import type { CommandRegistry } from './registry.js';

/** The countdown the next `countdown start` will use; starts from `[countdown]` in config.toml. */
export interface CountdownSettings {
  delay: number;
  preCommands: string;
  postCommands: string;
  /** Longest countdown the commands accept, in seconds. */
  maxDelay: number;
  /** Named countdowns from `[countdown.presets.<name>]`, for `countdown start <name>`. */
  presets: Record<string, { delay: number; preCommands: string; postCommands: string }>;
}

export interface AdminContext {
  server: GhostServer;
  store: Store;
  countdown: CountdownSettings;
  /** The race that is open or running (src/races/director.ts). */
  races: RaceDirector;
  /** SAR names linked to Discord members (src/identity/identity.ts). */
  identity: Identity;
  /** Stops the whole process (the `stop` / `exit` commands). */
  requestStop(reason: string): void;
  /** The registry these commands live in (for `help`); set once it exists. */
  commands?: CommandRegistry<AdminContext>;
}

/** One line about a client; its name and map (the client chose them) shown with `printable`. */
export function describeClient(client: ClientInfo): string {
  const flags = [client.spectator ? 'spectator' : '', client.tcpOnly ? 'tcp-only' : ''].filter(Boolean).join(', ');
  const map = client.map ? printable(client.map) : 'the menu';
  return `#${client.id} ${printable(client.name)} (${client.address}) on ${map}${flags ? ` [${flags}]` : ''}`;
}

/** "Alice (#1), Bob (#2)": the clients a command acted on. */
export function describeClients(clients: readonly ClientInfo[]): string {
  return clients.map((client) => oneLine`${client.name} (#${client.id})`).join(', ');
}
