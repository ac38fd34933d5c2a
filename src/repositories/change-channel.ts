import type { Queryable } from '../db/queryable.ts'

/**
 * Sends `payloads` on `channel`, one message each, delivered when the statement commits; answers
 * how many connections named `listenerName` listen on this database as it is sent (each one an
 * instance that will hear them).
 */
export async function notifyListeners (
  db: Queryable,
  channel: string,
  payloads: readonly string[],
  listenerName: string
): Promise<number> {
  const { rows } = await db.query<{ listeners: number }>({
    name: 'change-channel-notify',
    text: `SELECT
        (SELECT count(*) FROM unnest($2::text[]) AS payload WHERE pg_notify($1, payload) IS NOT NULL)::int AS sent,
        (SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $3)::int AS listeners`,
    values: [channel, payloads, listenerName]
  })
  return rows[0]!.listeners
}
