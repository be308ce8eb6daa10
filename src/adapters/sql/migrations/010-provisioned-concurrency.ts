import { sql, type Kysely } from 'kysely';

/**
 * Provisioned concurrency (Put/Get/List/DeleteProvisionedConcurrencyConfig): one config per
 * function and qualifier (a version number or an alias), what was requested and when, and how
 * far the data plane got (allocated environments, IN_PROGRESS / READY / FAILED and why). They go
 * with their function, version or alias.
 */
export const name = '010-provisioned-concurrency';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const nameType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('provisioned_concurrency')
    .ifNotExists()
    .addColumn('function_name', nameType, (c) => c.notNull().references('functions.name').onDelete('cascade'))
    .addColumn('qualifier', nameType, (c) => c.notNull())
    .addColumn('requested', 'integer', (c) => c.notNull())
    .addColumn('last_modified', 'bigint', (c) => c.notNull())
    .addColumn('allocated', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addPrimaryKeyConstraint('provisioned_concurrency_pk', ['function_name', 'qualifier'])
    .execute();
}
