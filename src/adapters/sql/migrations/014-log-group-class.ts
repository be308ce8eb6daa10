import type { Kysely } from 'kysely';

/**
 * A log group's class (CreateLogGroup's logGroupClass: STANDARD, INFREQUENT_ACCESS, DELIVERY) and
 * the KMS key it names (kmsKeyId), kept and returned as CloudWatch returns them. Stratus treats
 * every class alike and encrypts nothing with the key.
 */
export const name = '014-log-group-class';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema.alterTable('log_groups').addColumn('log_class', 'text', (c) => c.notNull().defaultTo('STANDARD')).execute();
  await db.schema.alterTable('log_groups').addColumn('kms_key_id', 'text').execute();
}
