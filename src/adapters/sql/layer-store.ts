import type { Kysely } from 'kysely';
import type { LayerPolicy, LayerVersionRecord } from '../../core/model.js';
import type { LayerStore } from '../../ports/layers.js';
import type { SqlDatabase } from '../../ports/sql.js';

const LAYERS = 'layers';
const VERSIONS = 'layer_versions';

interface VersionRow {
  layer_name: string;
  version: number | string;
  description: string;
  created_date: string;
  compatible_runtimes: string;
  compatible_architectures: string;
  license_info: string | null;
  code_sha256: string;
  code_key: string;
  code_size: number | string;
  unpacked_size: number | string;
  policy: string | null;
}

function toVersion(r: VersionRow): LayerVersionRecord {
  return {
    layerName: r.layer_name,
    version: Number(r.version),
    description: r.description,
    createdDate: r.created_date,
    compatibleRuntimes: JSON.parse(r.compatible_runtimes) as string[] | null,
    compatibleArchitectures: JSON.parse(r.compatible_architectures) as string[] | null,
    licenseInfo: r.license_info,
    codeSha256: r.code_sha256,
    codeKey: r.code_key,
    codeSize: Number(r.code_size),
    unpackedSize: Number(r.unpacked_size),
    policy: r.policy === null ? null : (JSON.parse(r.policy) as LayerPolicy),
  };
}

/** The layer store on the relational database (migration 008-layers); same queries on SQLite and Postgres. */
export class SqlLayerStore implements LayerStore {
  constructor(private readonly database: SqlDatabase) {}

  private get db(): Kysely<any> {
    return this.database.db;
  }

  async publish(rec: Omit<LayerVersionRecord, 'version' | 'policy'>): Promise<LayerVersionRecord> {
    return this.db.transaction().execute(async (trx) => {
      // One statement takes the next number: concurrent publishers of a layer queue on its row.
      const row = await trx
        .insertInto(LAYERS)
        .values({ name: rec.layerName, last_version: 1 })
        .onConflict((oc: any) => oc.column('name').doUpdateSet({ last_version: (eb: any) => eb(`${LAYERS}.last_version`, '+', 1) }))
        .returning('last_version')
        .executeTakeFirstOrThrow();
      const version = Number((row as { last_version: number | string }).last_version);
      await trx.insertInto(VERSIONS).values({
        layer_name: rec.layerName,
        version,
        description: rec.description,
        created_date: rec.createdDate,
        compatible_runtimes: JSON.stringify(rec.compatibleRuntimes),
        compatible_architectures: JSON.stringify(rec.compatibleArchitectures),
        license_info: rec.licenseInfo,
        code_sha256: rec.codeSha256,
        code_key: rec.codeKey,
        code_size: rec.codeSize,
        unpacked_size: rec.unpackedSize,
        policy: null,
      }).execute();
      return { ...rec, version, policy: null };
    });
  }

  async getVersion(name: string, version: number): Promise<LayerVersionRecord | undefined> {
    const r = await this.db.selectFrom(VERSIONS).selectAll().where('layer_name', '=', name).where('version', '=', version).executeTakeFirst();
    return r ? toVersion(r as VersionRow) : undefined;
  }

  async listVersions(name: string, before?: number): Promise<LayerVersionRecord[]> {
    let q = this.db.selectFrom(VERSIONS).selectAll().where('layer_name', '=', name);
    if (before !== undefined) q = q.where('version', '<', before);
    const rows = await q.orderBy('version', 'desc').execute();
    return rows.map((r) => toVersion(r as VersionRow));
  }

  async listNames(after: string | undefined, limit: number): Promise<string[]> {
    let q = this.db.selectFrom(VERSIONS).select('layer_name').distinct();
    if (after !== undefined) q = q.where('layer_name', '>', after);
    const rows = await q.orderBy('layer_name').limit(limit).execute();
    return rows.map((r: { layer_name: string }) => r.layer_name);
  }

  async deleteVersion(name: string, version: number): Promise<LayerVersionRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.selectFrom(VERSIONS).selectAll().where('layer_name', '=', name).where('version', '=', version).executeTakeFirst();
      if (!r) return undefined;
      await trx.deleteFrom(VERSIONS).where('layer_name', '=', name).where('version', '=', version).execute();
      return toVersion(r as VersionRow);
    });
  }

  async putPolicy(name: string, version: number, policy: LayerPolicy | null, expectedRevision: string | null): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.selectFrom(VERSIONS).select('policy').where('layer_name', '=', name).where('version', '=', version).executeTakeFirst();
      if (!r) return false;
      const current = (r as { policy: string | null }).policy;
      const revision = current === null ? null : (JSON.parse(current) as LayerPolicy).revisionId;
      if (revision !== expectedRevision) return false;
      const res = await trx.updateTable(VERSIONS).set({ policy: policy === null ? null : JSON.stringify(policy) })
        .where('layer_name', '=', name).where('version', '=', version).where('policy', current === null ? 'is' : '=', current).executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    });
  }

  async totalCodeSize(): Promise<number> {
    const r = await this.db.selectFrom(VERSIONS).select((eb: any) => eb.fn.sum('code_size').as('total')).executeTakeFirst();
    const total = (r as { total: unknown } | undefined)?.total;
    return total === null || total === undefined ? 0 : Number(total);
  }

  async codeKeys(): Promise<Set<string>> {
    const rows = await this.db.selectFrom(VERSIONS).select('code_key').distinct().execute();
    return new Set(rows.map((r: { code_key: string }) => r.code_key));
  }
}
