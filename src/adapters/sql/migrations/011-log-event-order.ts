import type { Kysely } from 'kysely';

/**
 * Log events are read in timestamp order, as CloudWatch Logs reads them (a back-dated event goes
 * before those that came earlier), then by id among events of the same millisecond; readers page
 * by (ts, id). One stream reads from (group, stream, ts, id), which also serves deleting a
 * stream, so (group, stream, id) goes; a group reads from (group, ts, id).
 *
 * A SQLite index ends with the rowid, which id is: (group, ts) already is (group, ts, id) there,
 * and the stream index needs no id of its own. A Postgres index has to name it.
 */
export const name = '011-log-event-order';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const withId = (columns: string[]) => (dialect === 'postgres' ? [...columns, 'id'] : columns);
  await db.schema.createIndex('log_events_stream_time').ifNotExists().on('log_events').columns(withId(['group_name', 'stream_name', 'ts'])).execute();
  await db.schema.dropIndex('log_events_stream').ifExists().execute();
  if (dialect === 'postgres') {
    await db.schema.dropIndex('log_events_time').ifExists().execute();
    await db.schema.createIndex('log_events_time').on('log_events').columns(withId(['group_name', 'ts'])).execute();
  }
}
