import type { Kysely } from 'kysely';

/**
 * The relational database behind the metadata store: one Kysely query builder over SQLite
 * (embedded) or Postgres (cluster). Module repositories (adapters/sql/*) write portable
 * queries against it; `dialect` is there for the rare statement that must differ.
 */
export interface SqlDatabase {
  db: Kysely<any>;
  dialect: 'sqlite' | 'postgres';
  /**
   * SQLite only: a prepared statement on Kysely's own (single) connection, for the few hot
   * single-row writes where building and compiling a query costs more than running it. Runs
   * synchronously on that connection: inside a Kysely transaction's callback, it is part of the
   * transaction. Outside one it would join whatever transaction is open on the connection, so
   * use it only inside a transaction's callback.
   */
  prepared?(sqlText: string): PreparedStatement;
  close(): Promise<void>;
}

export interface PreparedStatement {
  run(...params: unknown[]): unknown;
}
