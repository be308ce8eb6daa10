import type { Kysely } from 'kysely';

/**
 * A function's recursion configuration (PutFunctionRecursionConfig's RecursiveLoop: Allow or
 * Terminate). Null, as every function created before it has: Lambda's default, Terminate.
 */
export const name = '015-recursion-config';

export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema.alterTable('functions').addColumn('recursive_loop', 'text').execute();
}
