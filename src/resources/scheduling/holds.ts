import type { BatchedTransaction, Queryable } from '../../store/index.js';

/**
 * The expiry of each `$hold` (table `appointment_hold`), always written in the transaction of the
 * Appointment version it belongs to: `$hold` puts it, any version that leaves `pending` removes it.
 */
export async function putHold(tx: Queryable, appointmentId: string, expiresAt: Date): Promise<void> {
  await tx.query(
    `INSERT INTO appointment_hold (appointment_id, expires_at) VALUES ($1, $2)
     ON CONFLICT (appointment_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
    [appointmentId, expiresAt],
  );
}

/** Removes the hold with the transaction's other writes (no round trip of its own). */
export function releaseHold(tx: BatchedTransaction, appointmentId: string): void {
  tx.deleteLater('DELETE FROM appointment_hold WHERE appointment_id = $1', [appointmentId]);
}

export async function holdExpiry(tx: Queryable, appointmentId: string): Promise<Date | undefined> {
  const { rows } = await tx.query<{ expires_at: Date }>('SELECT expires_at FROM appointment_hold WHERE appointment_id = $1', [appointmentId]);
  return rows[0]?.expires_at;
}

/**
 * One expired hold no other transaction is working on, leaving out `skipped`: its row stays locked
 * until the caller's transaction ends, so each expired hold is freed by one process only.
 */
export async function claimExpiredHold(tx: Queryable, skipped: string[]): Promise<string | undefined> {
  const { rows } = await tx.query<{ appointment_id: string }>(
    `SELECT appointment_id FROM appointment_hold WHERE expires_at <= now() AND NOT (appointment_id = ANY($1::text[]))
      ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [skipped],
  );
  return rows[0]?.appointment_id;
}
