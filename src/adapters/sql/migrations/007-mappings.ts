import type { Kysely } from 'kysely';

/** Lambda event source mappings (queue -> function): the configuration as JSON, state apart. */
export const name = '007-mappings';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema
    .createTable('event_source_mappings')
    .ifNotExists()
    .addColumn('uuid', 'text', (c) => c.primaryKey())
    .addColumn('function_name', 'text', (c) => c.notNull())
    .addColumn('qualifier', 'text')
    .addColumn('event_source_arn', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('state_reason', 'text', (c) => c.notNull())
    // BatchSize, MaximumBatchingWindowInSeconds, FilterCriteria, FunctionResponseTypes, ScalingConfig, Tags.
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('last_result', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_modified', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('esm_function').ifNotExists().on('event_source_mappings').columns(['function_name']).execute();
  await db.schema.createIndex('esm_source').ifNotExists().on('event_source_mappings').columns(['event_source_arn']).execute();
}
