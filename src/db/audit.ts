/**
 * The audit log: who did what to the server, from where. Admin commands record every action so
 * operators can answer "who banned this player?" after the fact.
 *
 * Recording never waits and never fails the caller: the line is written by the write thread,
 * and a failure is logged there. Until it is committed, an entry is kept in memory and `recent`
 * shows it (with id 0), so a command run right after sees it.
 */
import { desc, lte } from 'drizzle-orm';
import type { Connection } from './connection.js';
import { auditLog, type AuditSource } from './schema.js';
import type { Writer } from './writer.js';

export { AUDIT_SOURCES, type AuditSource } from './schema.js';

export interface AuditInput {
  actor: string;
  source: AuditSource;
  action: string;
  detail?: string | null;
}

export type AuditEntry = typeof auditLog.$inferSelect;

export interface AuditLog {
  /**
   * Stores one entry stamped with the current time. Resolves with its id once committed, or
   * with undefined if it could not be stored (logged by the store); never rejects.
   */
  record(entry: AuditInput): Promise<number | undefined>;
  /** The latest `limit` entries, newest first, including those still being written. */
  recent(limit?: number): AuditEntry[];
}

export function createAuditLog(connection: Connection, writer: Writer): AuditLog {
  const { orm } = connection;
  /** Entries sent to the write thread and not answered yet, oldest first. */
  const pending: AuditEntry[] = [];
  // Rows the write thread committed but whose answer has not arrived are still in `pending`:
  // reads stop at the highest id answered so far, so no entry is shown twice.
  let answeredUpTo =
    connection.read(() => orm.select({ id: auditLog.id }).from(auditLog).orderBy(desc(auditLog.id)).limit(1).get())
      ?.id ?? 0;
  return {
    async record(input) {
      const entry: AuditEntry = {
        id: 0,
        at: new Date(),
        actor: input.actor,
        source: input.source,
        action: input.action,
        detail: input.detail ?? null,
      };
      const { id: _, ...row } = entry;
      const written = writer.fire('audit.record', row);
      pending.push(entry);
      const id = await written;
      pending.splice(pending.indexOf(entry), 1);
      if (id !== undefined) answeredUpTo = Math.max(answeredUpTo, id);
      return id;
    },

    recent(limit = 50) {
      if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number ≥ 0');
      const stored = connection.read(() =>
        orm
          .select()
          .from(auditLog)
          .where(lte(auditLog.id, answeredUpTo))
          .orderBy(desc(auditLog.at), desc(auditLog.id))
          .limit(limit)
          .all(),
      );
      return [...pending].reverse().concat(stored).slice(0, limit);
    },
  };
}
