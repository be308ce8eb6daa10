import type { Kysely } from 'kysely';

/**
 * HTTP gateway (API Gateway v2 HTTP APIs) and Lambda function URLs. An API is one row; its
 * routes, integrations, stages and authorizers are child rows keyed by (api_id, kind, child_id).
 * Specs are JSON documents in the wire's own field names.
 */
export const name = '006-gateway';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema
    .createTable('gw_apis')
    .ifNotExists()
    .addColumn('api_id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('gw_children')
    .ifNotExists()
    .addColumn('api_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('child_id', 'text', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('gw_children_pk', ['api_id', 'kind', 'child_id'])
    .execute();
  await db.schema
    .createTable('function_urls')
    .ifNotExists()
    .addColumn('function_name', 'text', (c) => c.notNull())
    .addColumn('qualifier', 'text', (c) => c.notNull())
    .addColumn('url_id', 'text', (c) => c.notNull().unique())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('modified_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('function_urls_pk', ['function_name', 'qualifier'])
    .execute();
}
