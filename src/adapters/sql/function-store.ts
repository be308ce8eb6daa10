import type { Kysely, Transaction } from 'kysely';
import { isNumericVersion } from '../../core/arn.js';
import type { ProvisionedTotal } from '../../core/concurrency.js';
import { Errors } from '../../core/errors.js';
import { LATEST, type AliasRecord, type FunctionPolicy, type FunctionRecord, type VersionRecord } from '../../core/model.js';
import type { FunctionStore } from '../../ports/functions.js';
import type { SqlDatabase } from '../../ports/sql.js';

const FUNCTIONS = 'functions';
const VERSIONS = 'function_versions';
const ALIASES = 'function_aliases';
const POLICIES = 'function_policies';
/** Bound parameters per IN (...) list: far below SQLite's and Postgres's limits. */
const IN_CHUNK = 500;

interface FunctionRow {
  name: string;
  created_at: string;
  tags: string;
  reserved_concurrency: number | string | null;
  /** Null: Lambda's default (Terminate); written only once the function sets it. */
  recursive_loop: string | null;
  last_version: number | string;
}

interface VersionRow {
  function_name: string;
  version: string;
  sort_key: number | string;
  config: string;
  code_sha256: string;
  code_key: string;
  code_size: number | string;
  revision_id: string;
  last_modified: string;
  state: VersionRecord['state'];
  state_reason: string | null;
  state_reason_code: string | null;
  last_update_status: VersionRecord['lastUpdateStatus'];
  last_update_status_reason: string | null;
  last_update_status_reason_code: string | null;
}

interface AliasRow {
  function_name: string;
  name: string;
  function_version: string;
  description: string;
  weights: string;
  revision_id: string;
}

function toFunction(r: FunctionRow): FunctionRecord {
  return {
    name: r.name,
    createdAt: r.created_at,
    tags: JSON.parse(r.tags) as Record<string, string>,
    reservedConcurrency: r.reserved_concurrency === null ? null : Number(r.reserved_concurrency),
    recursiveLoop: r.recursive_loop === 'Allow' ? 'Allow' : 'Terminate',
    lastVersion: Number(r.last_version),
  };
}

function toVersion(r: VersionRow): VersionRecord {
  return {
    functionName: r.function_name,
    version: r.version,
    config: JSON.parse(r.config) as VersionRecord['config'],
    codeSha256: r.code_sha256,
    codeKey: r.code_key,
    codeSize: Number(r.code_size),
    revisionId: r.revision_id,
    lastModified: r.last_modified,
    state: r.state,
    stateReason: r.state_reason,
    stateReasonCode: r.state_reason_code,
    lastUpdateStatus: r.last_update_status,
    lastUpdateStatusReason: r.last_update_status_reason,
    lastUpdateStatusReasonCode: r.last_update_status_reason_code,
  };
}

function toAlias(r: AliasRow): AliasRecord {
  return {
    functionName: r.function_name,
    name: r.name,
    functionVersion: r.function_version,
    description: r.description,
    additionalVersionWeights: JSON.parse(r.weights) as Record<string, number>,
    revisionId: r.revision_id,
  };
}

/** $LATEST sorts first (0), published versions by number. */
function sortKeyOf(version: string): number {
  if (version === LATEST) return 0;
  if (!/^[1-9][0-9]*$/.test(version)) throw Errors.service(`Invalid version ${version}`);
  return Number(version);
}

function versionRow(v: VersionRecord): VersionRow {
  return {
    function_name: v.functionName,
    version: v.version,
    sort_key: sortKeyOf(v.version),
    config: JSON.stringify(v.config),
    code_sha256: v.codeSha256,
    code_key: v.codeKey,
    code_size: v.codeSize,
    revision_id: v.revisionId,
    last_modified: v.lastModified,
    state: v.state,
    state_reason: v.stateReason,
    state_reason_code: v.stateReasonCode,
    last_update_status: v.lastUpdateStatus,
    last_update_status_reason: v.lastUpdateStatusReason,
    last_update_status_reason_code: v.lastUpdateStatusReasonCode,
  };
}

function functionRow(fn: FunctionRecord): FunctionRow {
  return {
    name: fn.name,
    created_at: fn.createdAt,
    tags: JSON.stringify(fn.tags),
    reserved_concurrency: fn.reservedConcurrency,
    recursive_loop: fn.recursiveLoop,
    last_version: fn.lastVersion,
  };
}

function aliasRow(a: AliasRecord): AliasRow {
  return {
    function_name: a.functionName,
    name: a.name,
    function_version: a.functionVersion,
    description: a.description,
    weights: JSON.stringify(a.additionalVersionWeights),
    revision_id: a.revisionId,
  };
}

/** The row's parent function is missing (SQLite and Postgres spell it differently). */
function isForeignKeyViolation(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

function changed(res: { numUpdatedRows?: bigint; numDeletedRows?: bigint; numInsertedOrUpdatedRows?: bigint | undefined }): boolean {
  return Number(res.numUpdatedRows ?? res.numDeletedRows ?? res.numInsertedOrUpdatedRows ?? 0) > 0;
}

/**
 * Functions, versions and aliases on the relational store (SQLite embedded, Postgres in a
 * cluster; migration 001-functions), the same Kysely queries on both. Preconditions are part
 * of the writing statement's WHERE clause (or of its transaction), so of two concurrent
 * writers with the same expectation exactly one wins.
 */
export class SqlFunctionStore implements FunctionStore {
  constructor(private readonly sql: SqlDatabase) {}

  private get db(): Kysely<any> {
    return this.sql.db;
  }

  /** Reads that must see one consistent state (several statements). */
  private readTransaction<T>(fn: (trx: Transaction<any>) => Promise<T>): Promise<T> {
    let t = this.db.transaction();
    if (this.sql.dialect === 'postgres') t = t.setIsolationLevel('repeatable read');
    return t.execute(fn);
  }

  async createFunction(fn: FunctionRecord, latest: VersionRecord): Promise<boolean> {
    if (latest.functionName !== fn.name || latest.version !== LATEST) throw Errors.service('createFunction expects the function and its $LATEST');
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .insertInto(FUNCTIONS)
        .values(functionRow(fn))
        .onConflict((oc: any) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (!changed(res)) return false;
      await trx.insertInto(VERSIONS).values(versionRow(latest)).execute();
      return true;
    });
  }

  async getFunction(name: string): Promise<FunctionRecord | undefined> {
    const r = await this.db.selectFrom(FUNCTIONS).selectAll().where('name', '=', name).executeTakeFirst();
    return r ? toFunction(r as FunctionRow) : undefined;
  }

  async listFunctions(after: string | undefined, limit: number): Promise<FunctionRecord[]> {
    if (limit <= 0) return [];
    let q = this.db.selectFrom(FUNCTIONS).selectAll();
    if (after !== undefined) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(limit).execute();
    return rows.map((r) => toFunction(r as FunctionRow));
  }

  async countFunctions(): Promise<number> {
    const r = await this.db.selectFrom(FUNCTIONS).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return Number((r as { n: unknown }).n);
  }

  async updateFunction(fn: FunctionRecord): Promise<void> {
    // lastVersion belongs to publishVersion (its precondition); createdAt never changes.
    await this.db
      .updateTable(FUNCTIONS)
      .set({ tags: JSON.stringify(fn.tags), reserved_concurrency: fn.reservedConcurrency, recursive_loop: fn.recursiveLoop })
      .where('name', '=', fn.name)
      .execute();
  }

  async deleteFunction(name: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom(POLICIES).where('function_name', '=', name).execute();
      await trx.deleteFrom(ALIASES).where('function_name', '=', name).execute();
      await trx.deleteFrom(VERSIONS).where('function_name', '=', name).execute();
      const res = await trx.deleteFrom(FUNCTIONS).where('name', '=', name).executeTakeFirst();
      return changed(res);
    });
  }

  async getVersion(name: string, version: string): Promise<VersionRecord | undefined> {
    const r = await this.db
      .selectFrom(VERSIONS)
      .selectAll()
      .where('function_name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
    return r ? toVersion(r as VersionRow) : undefined;
  }

  async listVersions(name: string): Promise<VersionRecord[]> {
    const rows = await this.db.selectFrom(VERSIONS).selectAll().where('function_name', '=', name).orderBy('sort_key').execute();
    return rows.map((r) => toVersion(r as VersionRow));
  }

  async listLatest(names: string[]): Promise<VersionRecord[]> {
    const unique = [...new Set(names)];
    const byName = new Map<string, VersionRecord>();
    for (let i = 0; i < unique.length; i += IN_CHUNK) {
      const rows = await this.db
        .selectFrom(VERSIONS)
        .selectAll()
        .where('function_name', 'in', unique.slice(i, i + IN_CHUNK))
        .where('version', '=', LATEST)
        .execute();
      for (const r of rows) {
        const v = toVersion(r as VersionRow);
        byName.set(v.functionName, v);
      }
    }
    // In the order asked for (ListFunctions pages by name).
    return unique.flatMap((n) => {
      const v = byName.get(n);
      return v ? [v] : [];
    });
  }

  async putVersion(v: VersionRecord, expectedRevision?: string): Promise<boolean> {
    const row = versionRow(v);
    if (expectedRevision !== undefined) {
      const { function_name, version, ...rest } = row;
      const res = await this.db
        .updateTable(VERSIONS)
        .set(rest)
        .where('function_name', '=', function_name)
        .where('version', '=', version)
        .where('revision_id', '=', expectedRevision)
        .executeTakeFirst();
      return changed(res);
    }
    try {
      const { function_name: _n, version: _v, ...rest } = row;
      await this.db
        .insertInto(VERSIONS)
        .values(row)
        .onConflict((oc: any) => oc.columns(['function_name', 'version']).doUpdateSet(rest))
        .execute();
      return true;
    } catch (e) {
      if (isForeignKeyViolation(e)) return false; // no such function
      throw e;
    }
  }

  async publishVersion(v: VersionRecord, expectedLastVersion: number): Promise<boolean> {
    const number = sortKeyOf(v.version);
    if (number === 0) throw Errors.service('publishVersion expects a numbered version');
    return this.db.transaction().execute(async (trx) => {
      // The precondition is the UPDATE's WHERE: a concurrent publisher blocks on the row lock
      // (Postgres) or the write lock (SQLite) and then finds lastVersion moved on.
      const res = await trx
        .updateTable(FUNCTIONS)
        .set({ last_version: number })
        .where('name', '=', v.functionName)
        .where('last_version', '=', expectedLastVersion)
        .executeTakeFirst();
      if (!changed(res)) return false;
      await trx.insertInto(VERSIONS).values(versionRow(v)).execute();
      return true;
    });
  }

  async deleteVersion(name: string, version: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom(POLICIES).where('function_name', '=', name).where('qualifier', '=', version).execute();
      return changed(await trx.deleteFrom(VERSIONS).where('function_name', '=', name).where('version', '=', version).executeTakeFirst());
    });
  }

  async getAlias(name: string, alias: string): Promise<AliasRecord | undefined> {
    const r = await this.db.selectFrom(ALIASES).selectAll().where('function_name', '=', name).where('name', '=', alias).executeTakeFirst();
    return r ? toAlias(r as AliasRow) : undefined;
  }

  async listAliases(name: string): Promise<AliasRecord[]> {
    const rows = await this.db.selectFrom(ALIASES).selectAll().where('function_name', '=', name).orderBy('name').execute();
    return rows.map((r) => toAlias(r as AliasRow));
  }

  async createAlias(a: AliasRecord): Promise<boolean> {
    try {
      const res = await this.db
        .insertInto(ALIASES)
        .values(aliasRow(a))
        .onConflict((oc: any) => oc.columns(['function_name', 'name']).doNothing())
        .executeTakeFirst();
      return changed(res);
    } catch (e) {
      if (isForeignKeyViolation(e)) return false; // no such function
      throw e;
    }
  }

  async updateAlias(a: AliasRecord, expectedRevision?: string): Promise<boolean> {
    const { function_name, name, ...rest } = aliasRow(a);
    let q = this.db.updateTable(ALIASES).set(rest).where('function_name', '=', function_name).where('name', '=', name);
    if (expectedRevision !== undefined) q = q.where('revision_id', '=', expectedRevision);
    return changed(await q.executeTakeFirst());
  }

  async deleteAlias(name: string, alias: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom(POLICIES).where('function_name', '=', name).where('qualifier', '=', alias).execute();
      return changed(await trx.deleteFrom(ALIASES).where('function_name', '=', name).where('name', '=', alias).executeTakeFirst());
    });
  }

  async getPolicy(name: string, qualifier: string): Promise<FunctionPolicy | undefined> {
    const r = await this.db.selectFrom(POLICIES).select('policy').where('function_name', '=', name).where('qualifier', '=', qualifier).executeTakeFirst();
    return r ? (JSON.parse((r as { policy: string }).policy) as FunctionPolicy) : undefined;
  }

  async putPolicy(name: string, qualifier: string, policy: FunctionPolicy | null, expectedRevision: string, revisionId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // The owner's UPDATE is the precondition (and its row lock serializes writers): a policy
      // and the version or alias it belongs to move to the new revision together.
      const owner = qualifier === '' || qualifier === LATEST || isNumericVersion(qualifier)
        ? trx.updateTable(VERSIONS).set({ revision_id: revisionId }).where('version', '=', qualifier === '' ? LATEST : qualifier)
        : trx.updateTable(ALIASES).set({ revision_id: revisionId }).where('name', '=', qualifier);
      if (!changed(await owner.where('function_name', '=', name).where('revision_id', '=', expectedRevision).executeTakeFirst())) return false;
      if (policy === null) {
        await trx.deleteFrom(POLICIES).where('function_name', '=', name).where('qualifier', '=', qualifier).execute();
      } else {
        await trx
          .insertInto(POLICIES)
          .values({ function_name: name, qualifier, policy: JSON.stringify(policy) })
          .onConflict((oc: any) => oc.columns(['function_name', 'qualifier']).doUpdateSet({ policy: JSON.stringify(policy) }))
          .execute();
      }
      return true;
    });
  }

  async codeKeysInUse(): Promise<Set<string>> {
    const rows = await this.db.selectFrom(VERSIONS).select('code_key').distinct().execute();
    const keys = new Set(rows.map((r: { code_key: string }) => r.code_key));
    // The archives of the layers versions use (kept after the layer version itself is deleted).
    const configs = await this.db.selectFrom(VERSIONS).select('config').where('config', 'like', '%"codeKey"%').execute();
    for (const r of configs as Array<{ config: string }>) {
      for (const l of (JSON.parse(r.config) as VersionRecord['config']).layers ?? []) keys.add(l.codeKey);
    }
    return keys;
  }

  async totalCodeSize(): Promise<number> {
    const r = await this.db.selectFrom(VERSIONS).select((eb) => eb.fn.sum<number | string | null>('code_size').as('total')).executeTakeFirst();
    const total = (r as { total: unknown } | undefined)?.total;
    return total === null || total === undefined ? 0 : Number(total);
  }

  async provisionedTotals(): Promise<Map<string, ProvisionedTotal>> {
    const rows = await this.db.selectFrom('provisioned_concurrency as p')
      .innerJoin(`${FUNCTIONS} as f`, 'f.name', 'p.function_name')
      .select(['p.function_name', 'f.reserved_concurrency', (eb) => eb.fn.sum<number | string>('p.requested').as('total')])
      .groupBy(['p.function_name', 'f.reserved_concurrency'])
      .execute() as Array<{ function_name: string; reserved_concurrency: number | string | null; total: number | string }>;
    return new Map(rows.map((r) => [r.function_name, { total: Number(r.total), reserved: r.reserved_concurrency !== null }]));
  }

  async totalReserved(exceptName?: string): Promise<number> {
    let q = this.db.selectFrom(FUNCTIONS).select((eb) => eb.fn.sum<number | string | null>('reserved_concurrency').as('total'));
    if (exceptName !== undefined) q = q.where('name', '<>', exceptName);
    const r = await q.executeTakeFirst();
    const total = (r as { total: unknown } | undefined)?.total;
    return total === null || total === undefined ? 0 : Number(total);
  }

  async loadAll(): Promise<{ functions: FunctionRecord[]; versions: VersionRecord[]; aliases: AliasRecord[] }> {
    return this.readTransaction(async (trx) => {
      const functions = await trx.selectFrom(FUNCTIONS).selectAll().orderBy('name').execute();
      const versions = await trx.selectFrom(VERSIONS).selectAll().orderBy('function_name').orderBy('sort_key').execute();
      const aliases = await trx.selectFrom(ALIASES).selectAll().orderBy('function_name').orderBy('name').execute();
      return {
        functions: functions.map((r) => toFunction(r as FunctionRow)),
        versions: versions.map((r) => toVersion(r as VersionRow)),
        aliases: aliases.map((r) => toAlias(r as AliasRow)),
      };
    });
  }

  async loadFunction(name: string): Promise<{ fn: FunctionRecord; versions: VersionRecord[]; aliases: AliasRecord[] } | undefined> {
    return this.readTransaction(async (trx) => {
      const fn = await trx.selectFrom(FUNCTIONS).selectAll().where('name', '=', name).executeTakeFirst();
      if (!fn) return undefined;
      const versions = await trx.selectFrom(VERSIONS).selectAll().where('function_name', '=', name).orderBy('sort_key').execute();
      const aliases = await trx.selectFrom(ALIASES).selectAll().where('function_name', '=', name).orderBy('name').execute();
      return {
        fn: toFunction(fn as FunctionRow),
        versions: versions.map((r) => toVersion(r as VersionRow)),
        aliases: aliases.map((r) => toAlias(r as AliasRow)),
      };
    });
  }
}
