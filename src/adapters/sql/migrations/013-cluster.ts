import type { Kysely } from 'kysely';

/**
 * What the nodes of a cluster agree on, kept where they all find it: `id`, the cluster's id, which
 * names its NATS subjects and buckets. The first node to start writes it; every other node reads
 * it, whatever spelling of the database URL it was given.
 */
export const name = '013-cluster';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema.createTable('cluster_meta')
    .addColumn('k', 'text', (c) => c.primaryKey())
    .addColumn('v', 'text', (c) => c.notNull())
    .execute();
}
