import type { FilterCriteria } from '../../core/filter-criteria.js';
import type { SqlDatabase } from '../../ports/index.js';

export interface MappingConfig {
  BatchSize: number;
  MaximumBatchingWindowInSeconds: number;
  FilterCriteria?: FilterCriteria;
  FunctionResponseTypes: string[];
  ScalingConfig?: { MaximumConcurrency?: number };
  /** Which metrics the mapping is to publish (EventCount for a queue): kept and returned; Stratus publishes none. */
  MetricsConfig?: { Metrics: string[] };
  /**
   * Provisioned mode: the least and most event pollers Lambda keeps for the mapping. Kept and
   * returned; it changes nothing here: Stratus polls with one receiver per enabled mapping, its
   * invocations bounded by ScalingConfig.MaximumConcurrency (or DEFAULT_MAPPING_CONCURRENCY).
   */
  ProvisionedPollerConfig?: { MinimumPollers?: number; MaximumPollers?: number };
  /** The key Lambda encrypts the filter criteria with: kept and returned; Stratus encrypts nothing with it. */
  KMSKeyArn?: string;
  Tags?: Record<string, string>;
}

export interface MappingRecord {
  uuid: string;
  functionName: string;
  qualifier?: string;
  eventSourceArn: string;
  enabled: boolean;
  /** Settled state: 'Enabled' or 'Disabled'. */
  state: 'Enabled' | 'Disabled';
  stateReason: string;
  config: MappingConfig;
  lastResult?: string;
  createdAt: number;
  lastModified: number;
}

const T = 'event_source_mappings';

/** Event source mappings on the relational store (migration 007-mappings). */
export class MappingStore {
  constructor(private readonly sql: SqlDatabase) {}

  private get db() {
    return this.sql.db;
  }

  async create(m: MappingRecord): Promise<void> {
    await this.db.insertInto(T).values(row(m)).execute();
  }

  async get(uuid: string): Promise<MappingRecord | undefined> {
    const r = await this.db.selectFrom(T).selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  async put(m: MappingRecord): Promise<boolean> {
    const { uuid, ...rest } = row(m);
    const res = await this.db.updateTable(T).set(rest).where('uuid', '=', uuid as string).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async delete(uuid: string): Promise<boolean> {
    const res = await this.db.deleteFrom(T).where('uuid', '=', uuid).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async setLastResult(uuid: string, result: string): Promise<void> {
    await this.db.updateTable(T).set({ last_result: result }).where('uuid', '=', uuid).execute();
  }

  /** Ordered by creation then uuid; `after` is the uuid of the previous page's last item. */
  async list(filter: { functionName?: string; qualifier?: string | null; eventSourceArn?: string }): Promise<MappingRecord[]> {
    let q = this.db.selectFrom(T).selectAll();
    if (filter.functionName !== undefined) q = q.where('function_name', '=', filter.functionName);
    if (filter.qualifier !== undefined) {
      q = filter.qualifier === null ? q.where('qualifier', 'is', null) : q.where('qualifier', '=', filter.qualifier);
    }
    if (filter.eventSourceArn !== undefined) q = q.where('event_source_arn', '=', filter.eventSourceArn);
    const rows = await q.orderBy('created_at').orderBy('uuid').execute();
    return rows.map(toRecord);
  }
}

function row(m: MappingRecord): Record<string, unknown> {
  return {
    uuid: m.uuid,
    function_name: m.functionName,
    qualifier: m.qualifier ?? null,
    event_source_arn: m.eventSourceArn,
    enabled: m.enabled ? 1 : 0,
    state: m.state,
    state_reason: m.stateReason,
    config: JSON.stringify(m.config),
    last_result: m.lastResult ?? null,
    created_at: m.createdAt,
    last_modified: m.lastModified,
  };
}

function toRecord(r: any): MappingRecord {
  const m: MappingRecord = {
    uuid: r.uuid,
    functionName: r.function_name,
    eventSourceArn: r.event_source_arn,
    enabled: Number(r.enabled) === 1,
    state: r.state,
    stateReason: r.state_reason,
    config: JSON.parse(r.config),
    createdAt: Number(r.created_at),
    lastModified: Number(r.last_modified),
  };
  if (r.qualifier !== null && r.qualifier !== undefined) m.qualifier = r.qualifier;
  if (r.last_result) m.lastResult = r.last_result;
  return m;
}
