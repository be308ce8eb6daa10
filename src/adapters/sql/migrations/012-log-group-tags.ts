import type { Kysely } from 'kysely';

/**
 * Log group tags (CreateLogGroup's tags, TagResource / TagLogGroup and their Untag and List
 * counterparts): a JSON object of key to value on the group's row, so they go with it.
 */
export const name = '012-log-group-tags';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema.alterTable('log_groups').addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}')).execute();
}
