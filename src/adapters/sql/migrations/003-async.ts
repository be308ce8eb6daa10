import type { Kysely } from 'kysely';

/**
 * Asynchronous invocation: the durable event queue (ports/event-queue.ts) and the event invoke
 * configurations (Put/Get/Update/Delete/ListFunctionEventInvokeConfig).
 */
export const name = '003-async';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';
  await db.schema
    .createTable('event_queue')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('grp', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('prev_state', 'text')
    .addColumn('body', blob)
    .addColumn('meta', 'text', (c) => c.notNull())
    .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('visible_at', 'bigint')
    .addColumn('leases', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Leasing scans visible entries of a queue; finished entries have visible_at NULL.
  await db.schema.createIndex('event_queue_visible').ifNotExists().on('event_queue').columns(['queue', 'visible_at']).execute();
  await db.schema.createIndex('event_queue_group').ifNotExists().on('event_queue').columns(['queue', 'grp', 'enqueued_at']).execute();
  // Counts per state of one function (`stratus events`) read this index, not every row.
  await db.schema.createIndex('event_queue_counts').ifNotExists().on('event_queue').columns(['queue', 'grp', 'state']).execute();

  await db.schema
    .createTable('event_invoke_configs')
    .ifNotExists()
    .addColumn('function_name', 'text', (c) => c.notNull())
    .addColumn('qualifier', 'text', (c) => c.notNull())
    .addColumn('maximum_retry_attempts', 'integer')
    .addColumn('maximum_event_age', 'integer')
    .addColumn('on_success', 'text')
    .addColumn('on_failure', 'text')
    .addColumn('last_modified', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('event_invoke_configs_pk', ['function_name', 'qualifier'])
    .execute();
}
