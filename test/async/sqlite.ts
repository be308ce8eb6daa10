import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { up as upAsync } from '../../src/adapters/sql/migrations/003-async.js';
import { up as upEvents } from '../../src/adapters/sql/migrations/005-events.js';
import type { SqlDatabase } from '../../src/ports/sql.js';

/**
 * A real SQLite file opened the way the embedded store opens it (WAL), with this area's
 * migrations applied: lets the queue adapter be tested before/without the whole server.
 */
export async function openTestSqlite(file: string): Promise<SqlDatabase> {
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
  await upAsync(db, 'sqlite');
  await upEvents(db, 'sqlite');
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}
