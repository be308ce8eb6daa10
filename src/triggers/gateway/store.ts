import type { SqlDatabase } from '../../ports/index.js';
import type { ApiSpec, ChildKind, ChildSpec } from './types.js';

export interface ApiBundle {
  api: ApiSpec;
  children: Array<{ kind: ChildKind; spec: ChildSpec }>;
}

/** HTTP APIs on the relational store (migration 006-gateway). Portable Kysely queries. */
export class GatewayStore {
  constructor(private readonly sql: SqlDatabase) {}

  private get db() {
    return this.sql.db;
  }

  /** Inserts an API with its initial children (quick create) in one transaction. */
  async createApi(api: ApiSpec, children: Array<{ kind: ChildKind; id: string; spec: ChildSpec }>, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('gw_apis').values({ api_id: api.apiId, name: api.name, spec: JSON.stringify(api), created_at: now }).execute();
      for (const c of children) {
        await trx
          .insertInto('gw_children')
          .values({ api_id: api.apiId, kind: c.kind, child_id: c.id, spec: JSON.stringify(c.spec), created_at: now })
          .execute();
      }
    });
  }

  async getApi(apiId: string): Promise<ApiSpec | undefined> {
    const row = await this.db.selectFrom('gw_apis').select('spec').where('api_id', '=', apiId).executeTakeFirst();
    return row ? (JSON.parse(row.spec) as ApiSpec) : undefined;
  }

  async listApis(): Promise<ApiSpec[]> {
    const rows = await this.db.selectFrom('gw_apis').select('spec').orderBy('created_at').orderBy('api_id').execute();
    return rows.map((r: { spec: string }) => JSON.parse(r.spec) as ApiSpec);
  }

  async updateApi(api: ApiSpec): Promise<boolean> {
    const res = await this.db.updateTable('gw_apis').set({ name: api.name, spec: JSON.stringify(api) }).where('api_id', '=', api.apiId).executeTakeFirst();
    return Number(res.numUpdatedRows ?? 0) > 0;
  }

  async deleteApi(apiId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('gw_children').where('api_id', '=', apiId).execute();
      const res = await trx.deleteFrom('gw_apis').where('api_id', '=', apiId).executeTakeFirst();
      return Number(res.numDeletedRows ?? 0) > 0;
    });
  }

  /** False when the child already exists. */
  async createChild(apiId: string, kind: ChildKind, id: string, spec: ChildSpec, now: number): Promise<boolean> {
    const res = await this.db
      .insertInto('gw_children')
      .values({ api_id: apiId, kind, child_id: id, spec: JSON.stringify(spec), created_at: now })
      .onConflict((oc: any) => oc.columns(['api_id', 'kind', 'child_id']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async getChild<T extends ChildSpec>(apiId: string, kind: ChildKind, id: string): Promise<T | undefined> {
    const row = await this.db
      .selectFrom('gw_children')
      .select('spec')
      .where('api_id', '=', apiId)
      .where('kind', '=', kind)
      .where('child_id', '=', id)
      .executeTakeFirst();
    return row ? (JSON.parse(row.spec) as T) : undefined;
  }

  async listChildren<T extends ChildSpec>(apiId: string, kind: ChildKind): Promise<T[]> {
    const rows = await this.db
      .selectFrom('gw_children')
      .select('spec')
      .where('api_id', '=', apiId)
      .where('kind', '=', kind)
      .orderBy('created_at')
      .orderBy('child_id')
      .execute();
    return rows.map((r: { spec: string }) => JSON.parse(r.spec) as T);
  }

  async updateChild(apiId: string, kind: ChildKind, id: string, spec: ChildSpec): Promise<boolean> {
    const res = await this.db
      .updateTable('gw_children')
      .set({ spec: JSON.stringify(spec) })
      .where('api_id', '=', apiId)
      .where('kind', '=', kind)
      .where('child_id', '=', id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows ?? 0) > 0;
  }

  async deleteChild(apiId: string, kind: ChildKind, id: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom('gw_children')
      .where('api_id', '=', apiId)
      .where('kind', '=', kind)
      .where('child_id', '=', id)
      .executeTakeFirst();
    return Number(res.numDeletedRows ?? 0) > 0;
  }

  /** One API with every child, for the routing table. */
  async loadBundle(apiId: string): Promise<ApiBundle | undefined> {
    const api = await this.getApi(apiId);
    if (!api) return undefined;
    const rows = await this.db.selectFrom('gw_children').select(['kind', 'spec']).where('api_id', '=', apiId).execute();
    return { api, children: rows.map((r: { kind: ChildKind; spec: string }) => ({ kind: r.kind, spec: JSON.parse(r.spec) as ChildSpec })) };
  }

  async loadAll(): Promise<ApiBundle[]> {
    const apis = await this.listApis();
    const rows = await this.db.selectFrom('gw_children').select(['api_id', 'kind', 'spec']).execute();
    const by = new Map<string, ApiBundle>(apis.map((a) => [a.apiId, { api: a, children: [] }]));
    for (const r of rows as Array<{ api_id: string; kind: ChildKind; spec: string }>) {
      by.get(r.api_id)?.children.push({ kind: r.kind, spec: JSON.parse(r.spec) as ChildSpec });
    }
    return [...by.values()];
  }
}
