/**
 * The in-process event bus that joins the ghost server to everything that watches it (logging
 * today; Discord, persistence and plugins later). A listener that throws or rejects is reported
 * through `onListenerError` and never reaches the code that emitted the event, so a broken
 * subscriber cannot disturb the ghost server.
 */
import type { Color } from './ghost/protocol/packets.js';

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
}

export interface ServerEvents {
  serverStarted: { hostname: string; port: number };
  serverStopping: { reason: string };
  serverStopped: { reason: string };
  clientConnected: { client: ClientInfo };
  clientDisconnected: { client: ClientInfo; reason: string };
  clientRefused: { name: string; address: string; spectator: boolean; reason: string };
  clientMessage: { client: ClientInfo; text: string };
  mapChanged: { client: ClientInfo; previousMap: string; ticks: number; ticksTotal: number };
  speedrunFinished: { client: ClientInfo; time: string };
  modelChanged: { client: ClientInfo; previousModel: string };
  colorChanged: { client: ClientInfo; previousColor: Color };
  countdownStarted: { duration: number; preCommands: string; postCommands: string };
  /** The countdown reached zero (duration seconds after it started). */
  countdownGo: { duration: number; preCommands: string; postCommands: string };
  serverMessage: { text: string };
}

export type EventName = keyof ServerEvents;
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
