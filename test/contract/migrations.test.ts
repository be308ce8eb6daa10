import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { openSqlDatabase } from '../../src/adapters/sql/open.js';
import { MIGRATIONS, appliedMigrations, migrate, type Migration } from '../../src/adapters/sql/migrations/index.js';
import type { SqlDatabase } from '../../src/ports/sql.js';
import { databaseTargets, describeEachDatabase, openTestDatabase } from './db.js';

const ALL = ['001-functions', '002-logs', '003-async', '004-sqs', '005-events', '006-gateway', '007-mappings', '008-layers', '009-function-policies', '010-provisioned-concurrency', '011-log-event-order', '012-log-group-tags', '013-cluster', '014-log-group-class', '015-recursion-config'];

/** Tables each migration must have created (a sample that covers all ten). */
const TABLES = [
  'functions', 'function_versions', 'function_aliases',
  'log_groups', 'log_streams', 'log_events',
  'event_queue', 'event_invoke_configs',
  'sqs_queues', 'sqs_messages', 'sqs_dedup',
  'events_buses', 'events_rules', 'events_targets',
  'gw_apis', 'gw_children', 'function_urls',
  'event_source_mappings',
  'layers', 'layer_versions',
  'function_policies',
  'provisioned_concurrency',
  'cluster_meta',
  'schema_migrations',
];

async function tables(d: SqlDatabase): Promise<string[]> {
  const q = d.dialect === 'sqlite'
    ? sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`
    : sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`;
  const { rows } = await q.execute(d.db);
  return rows.map((r) => r.name).sort();
}

async function appliedAt(d: SqlDatabase): Promise<Record<string, number>> {
  const rows = await d.db.selectFrom('schema_migrations').selectAll().execute();
  return Object.fromEntries(rows.map((r) => [String(r.name), Number(r.applied_at)]));
}

describe('migration list', () => {
  it('has every one, in order', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.name), ALL);
  });
});

describeEachDatabase('migrate', (db) => {
  it('applies every migration and creates their tables', async () => {
    const d = db().sql;
    assert.deepEqual(await appliedMigrations(d), ALL);
    assert.deepEqual(await tables(d), [...TABLES].sort());
  });

  it('running again is a no-op (nothing re-applied, records unchanged)', async () => {
    const d = db().sql;
    const before = await appliedAt(d);
    let ran = 0;
    const spying: Migration[] = MIGRATIONS.map((m) => ({ name: m.name, up: async (k, dialect) => { ran++; await m.up(k, dialect); } }));
    await migrate(d, spying);
    await migrate(d);
    assert.equal(ran, 0);
    assert.deepEqual(await appliedAt(d), before);
    assert.deepEqual(await tables(d), [...TABLES].sort());
  });

  it('a failing migration rolls back completely, is not recorded, and applies once fixed', async () => {
    const d = db().sql;
    let fail = true;
    const extra: Migration = {
      name: '999-test',
      async up(k: Kysely<any>) {
        await k.schema.createTable('half_done').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
        await k.insertInto('half_done').values({ id: 1 }).execute();
        if (fail) throw new Error('migration failed on purpose');
      },
    };
    await assert.rejects(migrate(d, [...MIGRATIONS, extra]), /on purpose/);
    assert.equal((await tables(d)).includes('half_done'), false, 'its DDL was rolled back');
    assert.deepEqual(await appliedMigrations(d), ALL);
    fail = false;
    await migrate(d, [...MIGRATIONS, extra]);
    assert.deepEqual(await appliedMigrations(d), [...ALL, '999-test']);
    assert.equal((await tables(d)).includes('half_done'), true);
  });

  it('two nodes migrating a fresh database at once both succeed, each migration applied once', async (t) => {
    // Postgres: two pools on one fresh schema, racing. SQLite: two connections on one fresh
    // file, one after the other (one process owns an embedded file; see db.ts peer()).
    const schemaTarget = db().dialect;
    const other = await openTestDatabase(schemaTarget, { migrate: false });
    t.after(() => other.dispose());
    const a = other.sql;
    const b = await other.connect();
    let applied = 0;
    const counting: Migration[] = MIGRATIONS.map((m) => ({ name: m.name, up: async (k, dialect) => { applied++; await m.up(k, dialect); } }));
    if (schemaTarget === 'postgres') {
      await Promise.all([migrate(a, counting), migrate(b, counting)]);
    } else {
      await migrate(a, counting);
      await migrate(b, counting);
    }
    assert.equal(applied, ALL.length);
    assert.deepEqual(await appliedMigrations(a), ALL);
    assert.deepEqual(await appliedMigrations(b), ALL);
  });

  it('int8 columns and counts come back as JS numbers', async () => {
    const d = db().sql;
    await d.db.insertInto('event_queue').values({
      id: 'n1', queue: 'q', grp: 'g', state: 'queued', meta: '{}', enqueued_at: 1_700_000_000_123, updated_at: 1_700_000_000_123, leases: 0,
    }).execute();
    const r = await d.db.selectFrom('event_queue').select(['enqueued_at']).where('id', '=', 'n1').executeTakeFirstOrThrow();
    assert.equal(r.enqueued_at, 1_700_000_000_123);
    const c = await d.db.selectFrom('event_queue').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(typeof c.n, 'number');
  });
});

describe('openSqlDatabase (SQLite)', () => {
  it('creates <dataDir>/stratus.db 0600 with WAL, synchronous=NORMAL, busy_timeout, foreign keys', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-open-'));
    try {
      const d = await openSqlDatabase({ dataDir });
      try {
        const file = path.join(dataDir, 'stratus.db');
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        const pragma = async (p: string) => Object.values((await sql.raw(`pragma ${p}`).execute(d.db)).rows[0] as object)[0];
        assert.equal(String(await pragma('journal_mode')).toLowerCase(), 'wal');
        assert.equal(Number(await pragma('synchronous')), 1); // NORMAL
        assert.equal(Number(await pragma('busy_timeout')), 5000);
        assert.equal(Number(await pragma('foreign_keys')), 1);
        await migrate(d);
        // Foreign keys are enforced: a version of a missing function is refused.
        await assert.rejects(
          d.db.insertInto('function_aliases').values({
            function_name: 'nope', name: 'a', function_version: '1', description: '', weights: '{}', revision_id: 'r',
          }).execute(),
          /FOREIGN KEY/,
        );
      } finally {
        await d.close();
        await d.close(); // idempotent
      }
      // Reopen: the data is there, migrations are a no-op.
      const again = await openSqlDatabase({ dataDir });
      assert.deepEqual(await appliedMigrations(again), ALL);
      await again.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const postgres = databaseTargets.find((x) => x.dialect === 'postgres')!;
describe('openSqlDatabase (Postgres)', postgres.skip ? { skip: postgres.skip } : {}, () => {
  it('creates the schema and every pooled connection uses it', async (t) => {
    const pgdb = await openTestDatabase('postgres', { migrate: false });
    t.after(() => pgdb.dispose());
    const d = pgdb.sql;
    // More concurrent queries than one connection: several pooled connections answer.
    const rows = await Promise.all(
      Array.from({ length: 20 }, () => sql<{ s: string; pid: number }>`select current_schema() as s, pg_backend_pid() as pid, pg_sleep(0.02)`.execute(d.db)),
    );
    const schemas = new Set(rows.map((r) => r.rows[0]!.s));
    const pids = new Set(rows.map((r) => r.rows[0]!.pid));
    assert.equal(schemas.size, 1);
    assert.match([...schemas][0]!, /^stratus_t_/);
    assert.ok(pids.size > 1, 'more than one pooled connection was used');
    const big = await sql<{ n: unknown }>`select 9007199254740991::bigint as n`.execute(d.db);
    assert.equal(big.rows[0]!.n, 9007199254740991);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(openSqlDatabase({ databaseUrl: 'postgres://127.0.0.1/test', schema: 'x"; drop schema public; --' }), /Invalid database schema name/);
  });
});
