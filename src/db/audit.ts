/**
 * The audit log: who did what to the server, from where. Admin commands record every action so
 * operators can answer "who banned this player?" after the fact.
 */
import { desc } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { auditLog, type AuditSource } from './schema.js';

export { AUDIT_SOURCES, type AuditSource } from './schema.js';

export interface AuditInput {
  actor: string;
  source: AuditSource;
  action: string;
  detail?: string | null;
}

export type AuditEntry = typeof auditLog.$inferSelect;

export interface AuditLog {
  /** Stores one entry stamped with the current time. */
  record(entry: AuditInput): void;
  /** The latest `limit` entries, newest first. */
  recent(limit?: number): AuditEntry[];
}

export function createAuditLog(connection: Connection): AuditLog {
  const { orm } = connection;
  return {
    record(entry) {
      const row = {
        at: new Date(),
        actor: entry.actor,
        source: entry.source,
        action: entry.action,
        detail: entry.detail ?? null,
      };
      connection.write(() => {
        orm.insert(auditLog).values(row).run();
      });
    },

    recent(limit = 50) {
      if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number ≥ 0');
      return connection.read(() =>
        orm.select().from(auditLog).orderBy(desc(auditLog.at), desc(auditLog.id)).limit(limit).all(),
      );
    },
  };
}
