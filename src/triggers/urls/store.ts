import type { CorsConfig } from '../../core/gateway-cors.js';
import type { SqlDatabase } from '../../ports/index.js';

export interface UrlConfig {
  functionName: string;
  /** '$LATEST' for an unqualified URL, else an alias name. */
  qualifier: string;
  urlId: string;
  authType: 'NONE' | 'AWS_IAM';
  invokeMode: 'BUFFERED' | 'RESPONSE_STREAM';
  cors?: CorsConfig;
  createdAt: number;
  modifiedAt: number;
}

interface Row {
  function_name: string;
  qualifier: string;
  url_id: string;
  spec: string;
  created_at: number | string;
  modified_at: number | string;
}

function fromRow(r: Row): UrlConfig {
  const spec = JSON.parse(r.spec) as Pick<UrlConfig, 'authType' | 'invokeMode' | 'cors'>;
  return {
    functionName: r.function_name,
    qualifier: r.qualifier,
    urlId: r.url_id,
    ...spec,
    createdAt: Number(r.created_at),
    modifiedAt: Number(r.modified_at),
  };
}

function specOf(c: UrlConfig): string {
  const s: Record<string, unknown> = { authType: c.authType, invokeMode: c.invokeMode };
  if (c.cors) s.cors = c.cors;
  return JSON.stringify(s);
}

/** Function URL configurations on the relational store (migration 006-gateway). */
export class UrlStore {
  constructor(private readonly sql: SqlDatabase) {}

  private get db() {
    return this.sql.db;
  }

  /** False when the function (with that qualifier) already has a URL. */
  async create(c: UrlConfig): Promise<boolean> {
    const res = await this.db
      .insertInto('function_urls')
      .values({ function_name: c.functionName, qualifier: c.qualifier, url_id: c.urlId, spec: specOf(c), created_at: c.createdAt, modified_at: c.modifiedAt })
      .onConflict((oc: any) => oc.columns(['function_name', 'qualifier']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(functionName: string, qualifier: string): Promise<UrlConfig | undefined> {
    const r = await this.db.selectFrom('function_urls').selectAll().where('function_name', '=', functionName).where('qualifier', '=', qualifier).executeTakeFirst();
    return r ? fromRow(r as Row) : undefined;
  }

  async byUrlId(urlId: string): Promise<UrlConfig | undefined> {
    const r = await this.db.selectFrom('function_urls').selectAll().where('url_id', '=', urlId).executeTakeFirst();
    return r ? fromRow(r as Row) : undefined;
  }

  async list(functionName: string): Promise<UrlConfig[]> {
    const rows = await this.db.selectFrom('function_urls').selectAll().where('function_name', '=', functionName).orderBy('qualifier').execute();
    return rows.map((r: unknown) => fromRow(r as Row));
  }

  async all(): Promise<UrlConfig[]> {
    const rows = await this.db.selectFrom('function_urls').selectAll().execute();
    return rows.map((r: unknown) => fromRow(r as Row));
  }

  async update(c: UrlConfig): Promise<boolean> {
    const res = await this.db
      .updateTable('function_urls')
      .set({ spec: specOf(c), modified_at: c.modifiedAt })
      .where('function_name', '=', c.functionName)
      .where('qualifier', '=', c.qualifier)
      .executeTakeFirst();
    return Number(res.numUpdatedRows ?? 0) > 0;
  }

  async delete(functionName: string, qualifier: string): Promise<boolean> {
    const res = await this.db.deleteFrom('function_urls').where('function_name', '=', functionName).where('qualifier', '=', qualifier).executeTakeFirst();
    return Number(res.numDeletedRows ?? 0) > 0;
  }

  /** Every URL of a function (on function delete); returns their ids. */
  async deleteFunction(functionName: string): Promise<string[]> {
    const ids = (await this.list(functionName)).map((c) => c.urlId);
    await this.db.deleteFrom('function_urls').where('function_name', '=', functionName).execute();
    return ids;
  }
}
