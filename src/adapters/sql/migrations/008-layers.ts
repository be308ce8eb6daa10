import { sql, type Kysely } from 'kysely';

/**
 * Layers: one row per layer holding the highest version number ever published (numbers are never
 * reused), one per version. Runtimes, architectures and the permission policy are JSON text.
 */
export const name = '008-layers';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const nameType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('layers')
    .ifNotExists()
    .addColumn('name', nameType, (c) => c.primaryKey())
    .addColumn('last_version', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('layer_versions')
    .ifNotExists()
    .addColumn('layer_name', nameType, (c) => c.notNull().references('layers.name'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('created_date', 'text', (c) => c.notNull())
    .addColumn('compatible_runtimes', 'text', (c) => c.notNull())
    .addColumn('compatible_architectures', 'text', (c) => c.notNull())
    .addColumn('license_info', 'text')
    .addColumn('code_sha256', 'text', (c) => c.notNull())
    .addColumn('code_key', 'text', (c) => c.notNull())
    .addColumn('code_size', 'bigint', (c) => c.notNull())
    .addColumn('unpacked_size', 'bigint', (c) => c.notNull())
    .addColumn('policy', 'text')
    .addPrimaryKeyConstraint('layer_versions_pk', ['layer_name', 'version'])
    .execute();
}
