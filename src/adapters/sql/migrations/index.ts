import { sql, type Kysely } from 'kysely';
import { Errors } from '../../../core/errors.js';
import type { SqlDatabase } from '../../../ports/sql.js';
import * as m001 from './001-functions.js';
import * as m002 from './002-logs.js';
import * as m003 from './003-async.js';
import * as m004 from './004-sqs.js';
import * as m005 from './005-events.js';
import * as m006 from './006-gateway.js';
import * as m007 from './007-mappings.js';
import * as m008 from './008-layers.js';
import * as m009 from './009-function-policies.js';
import * as m010 from './010-provisioned-concurrency.js';
import * as m011 from './011-log-event-order.js';
import * as m012 from './012-log-group-tags.js';
import * as m013 from './013-cluster.js';
import * as m014 from './014-log-group-class.js';
import * as m015 from './015-recursion-config.js';

export interface Migration {
  name: string;
  up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void>;
}

/** Every schema migration, in the order they apply. Names are recorded once applied. */
export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010, m011, m012, m013, m014, m015];

const TABLE = 'schema_migrations';

/**
 * Brings the schema up to date: applies each migration not yet recorded in
 * `schema_migrations`, in order, each in its own transaction together with its record, so a
 * failed migration leaves nothing behind and running again is a no-op.
 *
 * Two nodes starting together on one Postgres database do not race: each migration's
 * transaction first takes a transaction-scoped advisory lock (keyed by the current schema, so
 * isolated schemas do not wait on each other) and then re-reads what is applied. On SQLite the
 * transaction is BEGIN IMMEDIATE, which takes the write lock up front.
 */
export async function migrate(database: SqlDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (seen.has(m.name)) throw Errors.service(`Duplicate migration name ${m.name}`);
    seen.add(m.name);
  }
  await locked(database, async (db) => {
    await db.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .execute();
  });
  for (const m of migrations) {
    await locked(database, async (db) => {
      const done = await db.selectFrom(TABLE).select('name').where('name', '=', m.name).executeTakeFirst();
      if (done) return;
      await m.up(db, database.dialect);
      await db.insertInto(TABLE).values({ name: m.name, applied_at: Date.now() }).execute();
    });
  }
}

/** Names of the migrations applied so far, in the order they were applied. */
export async function appliedMigrations(database: SqlDatabase): Promise<string[]> {
  const rows = await database.db.selectFrom(TABLE).select('name').orderBy('applied_at').orderBy('name').execute();
  return rows.map((r: { name: string }) => r.name);
}

async function locked(database: SqlDatabase, fn: (db: Kysely<any>) => Promise<void>): Promise<void> {
  if (database.dialect === 'postgres') {
    await database.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ':stratus-migrations'))`.execute(trx);
      await fn(trx);
    });
    return;
  }
  // Kysely's SQLite transaction is a deferred BEGIN; IMMEDIATE takes the write lock at once so
  // two processes opening the same file cannot both read "not applied" and then deadlock.
  await database.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      await fn(conn);
      await sql`commit`.execute(conn);
    } catch (e) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}
