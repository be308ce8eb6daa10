import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { Errors } from '../../core/errors.js';
import type { SqlDatabase } from '../../ports/sql.js';

export type SqlDatabaseOptions = { dataDir: string } | { databaseUrl: string; schema?: string };

/** Postgres type OIDs parsed differently from pg's defaults. */
const INT8_OID = 20;

/** A schema name safe to interpolate (tests make random ones; operators pick plain names). */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Opens the relational database behind the metadata store.
 *
 * Embedded: SQLite file `<dataDir>/stratus.db` (mode 0600) in WAL mode with synchronous=NORMAL
 * — a committed transaction survives a process kill, which is what an accepted (202) async
 * invoke promises; busy_timeout=5000 and foreign_keys=ON.
 *
 * Cluster: Postgres through a `pg` Pool; int8 (bigint, counts) parse as JS numbers. With
 * `schema`, the schema is created when missing and every pooled connection starts with
 * `search_path` set to it (tests isolate themselves this way).
 */
export async function openSqlDatabase(opts: SqlDatabaseOptions): Promise<SqlDatabase> {
  return 'dataDir' in opts ? openSqlite(opts.dataDir) : openPostgres(opts.databaseUrl, opts.schema);
}

function openSqlite(dataDir: string): SqlDatabase {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'stratus.db');
  // Create it 0600 before SQLite does (SQLite creates -wal/-shm with the same mode).
  fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
  fs.chmodSync(file, 0o600);
  const raw = new Database(file);
  try {
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('busy_timeout = 5000');
    raw.pragma('foreign_keys = ON');
  } catch (e) {
    raw.close();
    throw e;
  }
  const statements = cachingStatements(raw);
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: statements }) });
  let closed: Promise<void> | undefined;
  return {
    db,
    dialect: 'sqlite',
    prepared: (sqlText) => statements.prepare(sqlText),
    close: () => (closed ??= db.destroy()),
  };
}

/** How many prepared statements stay cached per SQLite connection (oldest dropped first). */
const STATEMENT_CACHE = 512;

/**
 * Kysely prepares every query anew; preparing costs more than running most of Stratus's queries.
 * The same SQL text reuses its prepared statement. (Kysely runs one query at a time per
 * connection, so a cached statement is never in use twice.)
 */
function cachingStatements(raw: Database.Database): { prepare(sql: string): Database.Statement; close(): void } {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(sqlText: string) {
      let st = cache.get(sqlText);
      if (st) {
        cache.delete(sqlText); // most recently used last
        cache.set(sqlText, st);
        return st;
      }
      st = raw.prepare(sqlText);
      cache.set(sqlText, st);
      if (cache.size > STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      return st;
    },
    close() {
      cache.clear();
      raw.close();
    },
  };
}

async function openPostgres(databaseUrl: string, schema?: string): Promise<SqlDatabase> {
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw Errors.invalidParameter(`Invalid database schema name: ${schema}`);
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
  const config: pg.PoolConfig = { connectionString: databaseUrl, types, max: 10 };
  if (schema !== undefined) {
    // A startup parameter: set on every connection before any query, no race with the first one.
    config.options = `-c search_path=${schema}`;
    await createSchema(databaseUrl, schema);
  }
  const pool = new pg.Pool(config);
  // An idle client's connection error (server restart) must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy();
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    db,
    dialect: 'postgres',
    close: () => (closed ??= db.destroy()),
  };
}

async function createSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`create schema if not exists "${schema}"`);
  } catch (e) {
    // Two nodes creating it at once: the loser sees a unique violation; the schema exists.
    const code = (e as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw e;
  } finally {
    await client.end();
  }
}
