/** Messages between the benchmark orchestrator (run.ts) and its children: loadgen.ts, pinger.ts and attack.ts. */
import type { Summary } from './stats.js';

export interface LoadStartMessage {
  type: 'start';
  host: string;
  port: number;
  /** How many lightweight clients to connect. */
  count: number;
  /** Updates per second per client. */
  rate: number;
  connectConcurrency: number;
  connectTimeoutMs: number;
  /** Read (and discard) the bulk updates sent to lightweight clients instead of leaving them unread. */
  readUdp: boolean;
  /** Spread the clients over this many maps (see `benchMap`). */
  maps: number;
  /**
   * `--race`: each client confirms countdowns like SAR and, from the countdown's go, walks
   * Portal 2's single-player route with a MAP_CHANGE (with SAR's split ticks) every
   * `mapChangeSeconds`, and a SPEEDRUN_FINISH after the last map.
   */
  race?: { mapChangeSeconds: number };
}

/** What the race runners did (`--race`), in the window since the last mark. */
export interface RaceLoadReport {
  /** Clients walking the route now (got a countdown and have not finished). */
  runners: number;
  mapChanges: number;
  finishes: number;
  /** How late the map changes went out against their schedule (ms). */
  mapChangeLateness: Summary | undefined;
}

/** The race runners since the start (`race-status`). */
export interface RaceStatus {
  type: 'race-status';
  /** Clients that said /ready. */
  readied: number;
  /** Clients that got a countdown setup (the race's entrants, as the server counted them down). */
  countdowns: number;
  runners: number;
  mapChanges: number;
  finishes: number;
}

export type ToLoadGen =
  | LoadStartMessage
  /** Start a new measurement window (counters reset). */
  | { type: 'mark' }
  /** Report on the window since the last mark. */
  | { type: 'report' }
  /** Every second, close `perSecond` random clients and connect as many new ones (0 = stop). */
  | { type: 'churn'; perSecond: number }
  /** Stop sending updates (clients stay connected). */
  | { type: 'quiesce' }
  /** `--race`: every client says /ready (the race's chat command); answered with `race-status`. */
  | { type: 'race-ready' }
  /** `--race`: how many are ready, counted down, running, and what they sent. */
  | { type: 'race-status' }
  /**
   * `--race`, `--viewers`: every client walks the route now, without a race (`start`; with `loop`,
   * round and round), or stops walking (`stop`); answered with `race-status`.
   */
  | { type: 'race-walk'; action: 'start' | 'stop'; loop?: boolean }
  /** Close every socket and exit. */
  | { type: 'exit' };

export interface LoadReport {
  type: 'report';
  windowMs: number;
  activeClients: number;
  updatesSent: number;
  updatesTarget: number;
  /** Updates skipped because the generator fell more than one period behind its schedule. */
  updatesMissed: number;
  sendErrors: number;
  /** How late the send schedule ran (ms behind the planned slot time). */
  sendLateness: Summary | undefined;
  eventLoopLag: Summary | undefined;
  cpuPercent: number;
  rssKb: number;
  heartbeatsAnswered: number;
  /** Clients whose TCP connection closed without being asked to, during the window. */
  droppedInWindow: number;
  droppedTotal: number;
  dropReasons: string[];
  udpBytesRead: number;
  udpReadMode: 'unread' | 'read';
  /** Churn since the start (see the 'churn' message): clients closed, reconnected, failed. */
  churnClosed: number;
  churnConnected: number;
  churnFailed: number;
  /** `--race` only. */
  race?: RaceLoadReport;
}

export type FromLoadGen =
  | { type: 'progress'; connected: number; failed: number }
  | {
      type: 'ready';
      connected: number;
      failed: number;
      failures: string[];
      rampMs: number;
      udpReadMode: 'unread' | 'read';
    }
  | { type: 'marked' }
  | LoadReport
  | { type: 'quiesced' }
  | RaceStatus
  | { type: 'fatal'; message: string };

/** To the countdown pinger (pinger.ts). */
export type ToPinger =
  | {
      type: 'start';
      host: string;
      port: number;
      localAddress: string;
      /** Mean time between confirms; each interval is drawn from 0.75–1.25 of it. */
      intervalMs: number;
    }
  /** Start a new measurement window (samples reset). */
  | { type: 'mark' }
  /** Report on the window since the last mark. */
  | { type: 'report' }
  | { type: 'exit' };

export type FromPinger =
  | { type: 'ready'; id: number }
  | { type: 'marked' }
  | {
      type: 'report';
      /** COUNTDOWN confirm → countdown_go, in ms. */
      rtt: Summary | undefined;
      /** Confirms still unanswered when the next one was due. */
      lost: number;
      eventLoopLag: Summary | undefined;
      /** False if the server closed the pinger's connection. */
      connected: boolean;
    }
  | { type: 'fatal'; message: string };

// ---- the attacker (attack.ts), for --resilience

export const ATTACKS = ['connections', 'slow-reader', 'chat', 'locator', 'finish', 'model'] as const;
export type AttackKind = (typeof ATTACKS)[number];

/** The frame overhead of a MODEL_CHANGE around its model name: u8 header, u32 id, u32 string length. */
export const MODEL_CHANGE_OVERHEAD = 1 + 4 + 4;

export interface AttackStart {
  type: 'attack';
  host: string;
  port: number;
  seconds: number;
  connectsPerSecond: number;
  /** Chat messages and locators per second, each from its own client. */
  floodPerSecond: number;
  /** SPEEDRUN_FINISH packets per second from one client; 0 = flat out. */
  finishPerSecond: number;
  /** MODEL_CHANGE packets per second from one client; 0 = flat out. */
  modelPerSecond: number;
  /** Length of the model name in each MODEL_CHANGE, in bytes. */
  modelBytes: number;
  attacks: AttackKind[];
  map: string;
}

/** What one flooding client did. */
export interface FloodReport {
  joined: boolean;
  sent: number;
  /** Payload bytes written to the socket (without the length prefixes). */
  bytes: number;
  /** Packets due at the fixed rate but not written because the socket was full. */
  heldBack: number;
  /** Packets per second actually written, over the attack. */
  achievedPerSecond: number;
  closedAfterMs: number | undefined;
}

export interface AttackReport {
  type: 'attack-report';
  floodOpened: number;
  floodConnectErrors: number;
  floodClosedByServer: { silent: number; garbage: number; oversized: number };
  floodStillOpen: { silent: number; garbage: number; oversized: number };
  /** ms from connecting until the server closed it, per kind (median, max). */
  floodCloseMs: { silent: number[]; garbage: number[]; oversized: number[] };
  slowReader: { joined: boolean; closedAfterMs: number | undefined };
  chat: { joined: boolean; sent: number; closedAfterMs: number | undefined };
  locator: { joined: boolean; sent: number; closedAfterMs: number | undefined };
  finish: FloodReport;
  model: FloodReport;
  attacks: AttackKind[];
  errors: string[];
}

// ---- the /live viewers (viewers.ts), for --viewers

export interface ViewersStart {
  type: 'start';
  host: string;
  /** The server's HTTP port (`[http] port`). */
  port: number;
  /** How many viewers read the stream. */
  count: number;
  /** Connections opened at once. */
  concurrency: number;
  /** Time for all of them to connect and get their snapshot. */
  connectTimeoutMs: number;
  /** JSON-parse every event's data (`all`, as a page does), or only the snapshot and `message` events. */
  parse: 'all' | 'messages';
}

export type ToViewers =
  | ViewersStart
  /** Start a new measurement window (counters reset). */
  | { type: 'mark' }
  /** Report on the window since the last mark. */
  | { type: 'report' }
  /** Open `count` more viewers that send their request and then never read. */
  | { type: 'slow'; count: number; timeoutMs: number }
  /** Where the slow viewers stand: open or not, and what the kernel holds for each. */
  | { type: 'slow-status' }
  /** The slow viewers start reading (and discard); report how many streams the server had ended. */
  | { type: 'slow-drain'; timeoutMs: number }
  | { type: 'exit' };

export interface ViewersReport {
  type: 'report';
  windowMs: number;
  /** Reading viewers whose stream is open now. */
  open: number;
  /** Reading viewers whose stream ended (the server closed it, or an error) during the window. */
  closedInWindow: number;
  closedTotal: number;
  closeReasons: string[];
  /** Events received by all reading viewers in the window, and by name. */
  events: number;
  eventsByName: Record<string, number>;
  /** Events per open viewer in the window: the least and the most any one viewer got. */
  eventsPerViewerMin: number;
  eventsPerViewerMax: number;
  /** Socket reads (`data` chunks) and bytes received, all viewers. */
  chunks: number;
  bytes: number;
  /** `: keep-alive` comments. */
  heartbeats: number;
  /** `data` that was not JSON. */
  parseErrors: number;
  /** Events whose id was not above the previous one on the same connection. */
  staleIds: number;
  /** `bench <time>` server messages (the bench's `say`) received, all viewers; least and most per viewer. */
  benchMessages: number;
  benchMessagesPerViewerMin: number;
  benchMessagesPerViewerMax: number;
  /** From the bench writing `say bench <time>` at the server's console to a viewer parsing the event (ms). */
  delay: Summary | undefined;
  /**
   * Per message: the delay of the first viewer to parse it (the server's part, and the least of
   * the measuring side's), and how much later the last viewer parsed it (the fan-out to every
   * viewer and the viewer process working through 500 sockets).
   */
  firstDelay: Summary | undefined;
  spread: Summary | undefined;
  /**
   * The most the kernel held at once for all reading viewers (sampled every 0.5 s): in the
   * server's sockets (written, not yet taken by the viewer process) and in the viewers' (not yet
   * read). A backlog in the viewer process shows here; one in the server's own queues does not.
   */
  kernelQueuedMaxBytes: { server: number; viewers: number };
  eventLoopLag: Summary | undefined;
  cpuPercent: number;
  rssKb: number;
}

export interface SlowViewerState {
  open: boolean;
  /** Bytes queued in the server's socket for this viewer (`tx_queue` of /proc/net/tcp), if found. */
  serverQueuedBytes: number | undefined;
  /** Bytes received but never read on the viewer's own socket (`rx_queue`). */
  viewerQueuedBytes: number | undefined;
}

export type FromViewers =
  | { type: 'progress'; connected: number; failed: number }
  | {
      type: 'ready';
      connected: number;
      failed: number;
      failures: string[];
      rampMs: number;
      /** Size of the first event (the snapshot with every player), bytes, mean over the viewers. */
      snapshotBytes: number;
      /** Players listed in the first snapshot. */
      snapshotPlayers: number;
      /**
       * Events (all connections, from the snapshot on) whose id was not above the one before:
       * events older than the snapshot delivered after it; and how many connections got any.
       */
      staleIds: number;
      staleViewers: number;
    }
  | { type: 'marked' }
  | ViewersReport
  | { type: 'slow-ready'; connected: number; failed: number; failures: string[] }
  | { type: 'slow-status'; viewers: SlowViewerState[] }
  | {
      type: 'slow-drained';
      /** Streams that ended (FIN or reset) once read: the server had closed them. */
      endedByServer: number;
      stillOpen: number;
      /** Bytes each slow viewer got in all, once it read what the kernel held. */
      bytes: number[];
    }
  | { type: 'fatal'; message: string };
