import { sql, type Kysely } from 'kysely';

/**
 * Functions, their versions and aliases (core/model.ts FunctionRecord, VersionRecord,
 * AliasRecord). Configuration, tags and alias weights are JSON text; what is queried or
 * constrained has a column. Versions carry a numeric sort key ($LATEST = 0, then 1, 2, ...).
 * Names compare bytewise and case-sensitively on both dialects (Postgres: collation "C"), so
 * paging by name gives the same order on SQLite and Postgres. Versions and aliases belong to
 * their function (ON DELETE CASCADE; deleteFunction also deletes them explicitly).
 */
export const name = '001-functions';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const nameType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;

  await db.schema
    .createTable('functions')
    .ifNotExists()
    .addColumn('name', nameType, (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('reserved_concurrency', 'integer')
    .addColumn('last_version', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('function_versions')
    .ifNotExists()
    .addColumn('function_name', nameType, (c) => c.notNull().references('functions.name').onDelete('cascade'))
    .addColumn('version', nameType, (c) => c.notNull())
    .addColumn('sort_key', 'integer', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('code_sha256', 'text', (c) => c.notNull())
    .addColumn('code_key', 'text', (c) => c.notNull())
    .addColumn('code_size', 'bigint', (c) => c.notNull())
    .addColumn('revision_id', 'text', (c) => c.notNull())
    .addColumn('last_modified', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('state_reason', 'text')
    .addColumn('state_reason_code', 'text')
    .addColumn('last_update_status', 'text', (c) => c.notNull())
    .addColumn('last_update_status_reason', 'text')
    .addColumn('last_update_status_reason_code', 'text')
    .addPrimaryKeyConstraint('function_versions_pk', ['function_name', 'version'])
    .execute();
  await db.schema
    .createIndex('function_versions_order')
    .ifNotExists()
    .unique()
    .on('function_versions')
    .columns(['function_name', 'sort_key'])
    .execute();
  // Blob garbage collection asks which code keys are still referenced.
  await db.schema.createIndex('function_versions_code').ifNotExists().on('function_versions').column('code_key').execute();

  await db.schema
    .createTable('function_aliases')
    .ifNotExists()
    .addColumn('function_name', nameType, (c) => c.notNull().references('functions.name').onDelete('cascade'))
    .addColumn('name', nameType, (c) => c.notNull())
    .addColumn('function_version', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('weights', 'text', (c) => c.notNull())
    .addColumn('revision_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('function_aliases_pk', ['function_name', 'name'])
    .execute();
}
