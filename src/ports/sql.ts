import type { Kysely } from 'kysely';

/**
 * The relational database behind the metadata store: one Kysely query builder over SQLite
 * (embedded) or Postgres (cluster). Module repositories (adapters/sql/*) write portable
 * queries against it; `dialect` is there for the rare statement that must differ.
 */
export interface SqlDatabase {
  db: Kysely<any>;
  dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;
}
