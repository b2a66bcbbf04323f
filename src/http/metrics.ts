/**
 * Prometheus metrics. Most values are read from the server's own counters when scraped (so the
 * hot path only bumps plain numbers); the tick-duration histogram is fed as ticks happen.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OperationsTarget } from './target.js';

export function createMetrics(app: OperationsTarget): Registry {
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

  const fromMap = (name: string, help: string, label: string, map: Map<string, number>) =>
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

  const ticks = new Histogram({
    name: 'ghosting_tick_duration_seconds',
    help: 'Main-thread time for one tick: building the bulk updates and sending them or handing them to the send threads, heartbeats, keep-alives',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  stats.onTick = (durationMs) => ticks.observe(durationMs / 1000);

  new Gauge({
    name: 'ghosting_discord_queue_depth',
    help: 'Messages waiting to be sent to Discord',
    registers: [registry],
    collect() {
      this.set(app.discord.queued);
    },
  });
  return registry;
}
