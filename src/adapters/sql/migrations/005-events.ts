import type { Kysely } from 'kysely';

/** EventBridge: event buses, rules (patterns and schedules, with their last fire) and targets. */
export const name = '005-events';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema
    .createTable('events_buses')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text')
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('modified_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('events_rules')
    .ifNotExists()
    .addColumn('bus', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('event_pattern', 'text')
    .addColumn('schedule', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('role_arn', 'text')
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // Schedules: the grid anchor (rate) and the last fire, so downtime collapses into one fire.
    .addColumn('anchor_at', 'bigint', (c) => c.notNull())
    .addColumn('last_fire_at', 'bigint')
    .addPrimaryKeyConstraint('events_rules_pk', ['bus', 'name'])
    .execute();
  await db.schema
    .createTable('events_targets')
    .ifNotExists()
    .addColumn('bus', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('arn', 'text', (c) => c.notNull())
    // The whole Target structure as given (Input, InputPath, InputTransformer, SqsParameters...).
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('position', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('events_targets_pk', ['bus', 'rule', 'id'])
    .execute();
}
