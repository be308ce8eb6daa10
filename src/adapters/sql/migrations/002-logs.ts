import { sql, type Kysely } from 'kysely';

/**
 * Logs (CloudWatch Logs model): groups, streams (with their event statistics) and events.
 * Events are numbered by an increasing id (insertion order): readers page by id; queries
 * are by (group, stream, id) for one stream and by (group, timestamp) for a time window.
 * Names compare bytewise on both dialects (Postgres columns use the "C" collation), so
 * ordering and prefix ranges give the same answers on SQLite and Postgres. (Readers went to
 * timestamp order in 011-log-event-order, with its indexes.)
 */
export const name = '002-logs';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const nameType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;

  await db.schema
    .createTable('log_groups')
    .ifNotExists()
    .addColumn('name', nameType, (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retention_days', 'integer')
    .addColumn('stored_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('log_streams')
    .ifNotExists()
    .addColumn('group_name', nameType, (c) => c.notNull())
    .addColumn('name', nameType, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('first_event_at', 'bigint')
    .addColumn('last_event_at', 'bigint')
    .addColumn('last_ingestion_at', 'bigint')
    .addColumn('stored_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('log_streams_pk', ['group_name', 'name'])
    .execute();
  await db.schema.createIndex('log_streams_last_event').ifNotExists().on('log_streams').columns(['group_name', 'last_event_at']).execute();

  let t = db.schema.createTable('log_events').ifNotExists();
  t = dialect === 'postgres'
    ? t.addColumn('id', 'bigserial', (c) => c.primaryKey())
    : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('group_name', nameType, (c) => c.notNull())
    .addColumn('stream_name', nameType, (c) => c.notNull())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('ingested_at', 'bigint', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('log_events_stream').ifNotExists().on('log_events').columns(['group_name', 'stream_name', 'id']).execute();
  await db.schema.createIndex('log_events_time').ifNotExists().on('log_events').columns(['group_name', 'ts']).execute();
}
