/**
 * Prometheus metrics. Most values are read from the server's own counters when scraped (so the
 * hot path only bumps plain numbers); the tick-duration histogram is fed as ticks happen.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OperationsTarget } from './target.js';

/** What `/live` reports (src/web/live-feed.ts), when the public pages are on. */
export interface LiveStats {
  readonly viewerCount: number;
  readonly dropped: number;
  readonly refused: number;
}

/** What the HTTP endpoint counts of its own connections (src/http/server.ts). */
export interface ConnectionStats {
  readonly droppedConnections: number;
}

export function createMetrics(
  app: OperationsTarget,
  httpErrors: ReadonlyMap<string, number> = new Map(),
  live?: LiveStats,
  connections?: ConnectionStats,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ghosting_process_' });
  const { server } = app;
  const stats = server.stats;

  new Gauge({
    name: 'ghosting_clients',
    help: 'Connected clients, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const clients = server.listClients();
      const spectators = clients.filter((client) => client.spectator).length;
      this.set({ kind: 'player' }, clients.length - spectators);
      this.set({ kind: 'spectator' }, spectators);
    },
  });

  const traffic = (direction: 'in' | 'out') => {
    const counts = direction === 'in' ? stats.trafficIn : stats.trafficOut;
    new Counter({
      name: `ghosting_packets_${direction}_total`,
      help: `Packets ${direction === 'in' ? 'received' : 'sent'}, by packet type`,
      labelNames: ['type'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [type, count] of counts) this.inc({ type }, count.packets);
      },
    });
    new Counter({
      name: `ghosting_bytes_${direction}_total`,
      help: `Bytes ${direction === 'in' ? 'received' : 'sent'}, by packet type`,
      labelNames: ['type'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [type, count] of counts) this.inc({ type }, count.bytes);
      },
    });
  };
  traffic('in');
  traffic('out');

  const fromMap = (name: string, help: string, label: string, map: ReadonlyMap<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, value] of map) this.inc({ [label]: key }, value);
      },
    });
  fromMap('ghosting_dropped_clients_total', 'Clients removed, by reason', 'reason', stats.droppedClients);
  fromMap('ghosting_dropped_packets_total', 'Packets dropped, by reason', 'reason', stats.droppedPackets);
  fromMap('ghosting_refused_connections_total', 'Connections refused, by reason', 'reason', stats.refusedConnections);
  new Counter({
    name: 'ghosting_skipped_bulk_updates_total',
    help: 'Bulk updates a client missed because the way to it (a backed-up TCP connection, or a send thread) was still busy with the last one',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.skippedBulkUpdates);
    },
  });
  new Counter({
    name: 'ghosting_log_dropped_lines_total',
    help: 'Log lines the log file could not take (full disk, unwritable file) and dropped',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(app.droppedLogLines());
    },
  });
  new Counter({
    name: 'ghosting_throttled_reads_total',
    help: 'Times a connection used up its share of max_receive_bytes_per_second and was not read for the rest of that tenth of a second',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.throttledReads);
    },
  });

  const ticks = new Histogram({
    name: 'ghosting_tick_duration_seconds',
    help: 'Main-thread time for one tick: building the bulk updates and sending them or handing them to the send threads, heartbeats, keep-alives',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  stats.onTick = (durationMs) => ticks.observe(durationMs / 1000);

  fromMap(
    'ghosting_http_errors_total',
    'HTTP error responses, by code (refused requests and failed commands; see docs/errors.md)',
    'code',
    httpErrors,
  );

  new Gauge({
    name: 'ghosting_discord_queue_depth',
    help: 'Messages waiting to be sent to Discord',
    registers: [registry],
    collect() {
      this.set(app.discord.queued);
    },
  });

  // The database's write thread (src/db/writer.ts).
  new Gauge({
    name: 'ghosting_db_queued_writes',
    help: 'Database writes waiting to be committed by the write thread',
    registers: [registry],
    collect() {
      this.set(app.store.writes.queued);
    },
  });
  const writes = (name: string, help: string, count: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(count());
      },
    });
  writes('ghosting_db_committed_writes_total', 'Database writes committed', () => app.store.writes.committed);
  writes(
    'ghosting_db_failed_writes_total',
    'Database writes that failed (the write, its transaction, or the write thread); the log says why',
    () => app.store.writes.failed,
  );
  writes(
    'ghosting_db_refused_writes_total',
    'Database writes refused because [database] max_queued_writes were already waiting',
    () => app.store.writes.refused,
  );
  writes(
    'ghosting_db_write_batches_total',
    'Transactions the write thread ran, each holding every write queued since the one before',
    () => app.store.writes.batches,
  );
  if (connections !== undefined) {
    writes(
      'ghosting_http_connections_dropped_total',
      'HTTP connections closed on arrival because [http] max_connections were open',
      () => connections.droppedConnections,
    );
  }
  if (live !== undefined) {
    new Gauge({
      name: 'ghosting_live_viewers',
      help: 'Connections to the /live event stream',
      registers: [registry],
      collect() {
        this.set(live.viewerCount);
      },
    });
    writes(
      'ghosting_live_viewers_dropped_total',
      '/live viewers dropped because they did not read the stream (over 1 MiB unsent)',
      () => live.dropped,
    );
    writes(
      'ghosting_live_viewers_refused_total',
      '/live viewers refused because [http] max_live_viewers were connected',
      () => live.refused,
    );
  }
  return registry;
}
