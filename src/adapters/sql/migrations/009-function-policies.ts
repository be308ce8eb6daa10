import { sql, type Kysely } from 'kysely';

/**
 * Functions' resource-based policies (AddPermission, RemovePermission, GetPolicy): one per
 * function and qualifier ('' for the unqualified function, else a version or alias), its
 * statements and revision as JSON text (core/model.ts FunctionPolicy). They go with their
 * function (ON DELETE CASCADE; the store also deletes them explicitly, and a version's or an
 * alias's with it).
 */
export const name = '009-function-policies';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const nameType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('function_policies')
    .ifNotExists()
    .addColumn('function_name', nameType, (c) => c.notNull().references('functions.name').onDelete('cascade'))
    .addColumn('qualifier', nameType, (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('function_policies_pk', ['function_name', 'qualifier'])
    .execute();
}
