import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import pg from 'pg';
import { openSqlDatabase } from '../../src/adapters/sql/open.js';
import { migrate } from '../../src/adapters/sql/migrations/index.js';
import type { SqlDatabase } from '../../src/ports/sql.js';
import { TEST_DATABASE_URL } from '../helpers/services.js';

/**
 * The databases a contract suite runs against: SQLite always (a real file in a temp dir), and
 * Postgres when STRATUS_TEST_DATABASE_URL is set (or CI is: then a missing Postgres fails the
 * suite rather than skipping it, see test/helpers/services.ts). Each opened database is
 * isolated: SQLite gets its own directory, Postgres its own random schema, dropped at the end.
 *
 *   describeEachDatabase('LogStore', (db) => {
 *     it('...', async () => { const store = new SqlLogStore(db().sql); ... });
 *   });
 */
export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseTarget {
  dialect: Dialect;
  /** Why the suite is skipped on this database, or false when it runs. */
  skip: string | false;
}

export interface TestDatabase {
  readonly dialect: Dialect;
  /** The connection under test (migrated unless opened with migrate: false). */
  readonly sql: SqlDatabase;
  /**
   * Another, independent connection to the same database (a second node, or a restart after
   * closing the first). Closed by dispose() if the caller did not.
   */
  connect(): Promise<SqlDatabase>;
  /**
   * A connection for a concurrent writer, as a second node would have it: on Postgres another
   * pool (connect()); on SQLite the same connection, because one process owns an embedded file
   * and better-sqlite3 is synchronous — a second connection in the same process waiting on the
   * file lock would block the event loop that the lock holder needs to commit.
   */
  peer(): Promise<SqlDatabase>;
  /** Closes every connection and removes the database (directory / schema). */
  dispose(): Promise<void>;
}

async function probePostgres(): Promise<string | false> {
  if (!TEST_DATABASE_URL) return 'STRATUS_TEST_DATABASE_URL is not set';
  if (process.env.CI) return false; // must run: a failure to connect fails the suite
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return false;
  } catch (e) {
    return `Postgres unreachable at ${TEST_DATABASE_URL}: ${(e as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const databaseTargets: readonly DatabaseTarget[] = [
  { dialect: 'sqlite', skip: false },
  { dialect: 'postgres', skip: await probePostgres() },
];

export async function openTestDatabase(dialect: Dialect, opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const connections = new Set<SqlDatabase>();
  let connect: () => Promise<SqlDatabase>;
  let remove: () => Promise<void>;

  if (dialect === 'sqlite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-db-'));
    connect = () => openSqlDatabase({ dataDir });
    remove = async () => fs.rmSync(dataDir, { recursive: true, force: true });
  } else {
    if (!TEST_DATABASE_URL) throw new Error('Postgres requested but STRATUS_TEST_DATABASE_URL is not set');
    const url = TEST_DATABASE_URL;
    const schema = `stratus_t_${crypto.randomBytes(6).toString('hex')}`;
    connect = () => openSqlDatabase({ databaseUrl: url, schema });
    remove = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    };
  }

  const tracked = async (): Promise<SqlDatabase> => {
    const db = await connect();
    connections.add(db);
    const close = db.close.bind(db);
    return { ...db, close: async () => { connections.delete(db); await close(); } };
  };

  const main = await tracked();
  if (opts.migrate !== false) await migrate(main);
  return {
    dialect,
    sql: main,
    connect: tracked,
    peer: async () => (dialect === 'postgres' ? tracked() : main),
    async dispose() {
      for (const c of [...connections]) await c.close();
      connections.clear();
      await remove();
    },
  };
}

/**
 * One `describe` per database target, with a database opened (and migrated) before its tests
 * and disposed after. `db()` returns it inside tests and hooks.
 */
export function describeEachDatabase(
  title: string,
  body: (db: () => TestDatabase, target: DatabaseTarget) => void,
  opts: { migrate?: boolean } = {},
): void {
  for (const target of databaseTargets) {
    describe(`${title} [${target.dialect}]`, target.skip ? { skip: target.skip } : {}, () => {
      let current: TestDatabase | undefined;
      before(async () => {
        current = await openTestDatabase(target.dialect, opts);
      });
      after(async () => {
        await current?.dispose();
      });
      body(() => {
        if (!current) throw new Error(`the ${target.dialect} test database is not open`);
        return current;
      }, target);
    });
  }
}
