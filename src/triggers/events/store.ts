import type { SqlDatabase } from '../../ports/index.js';

export interface BusRecord {
  name: string;
  description: string | null;
  tags: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
}

/**
 * A rule's state as PutRule, EnableRule and DisableRule set it (RuleState). Both enabled states
 * match events; ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS also opts a rule into CloudTrail's
 * read-only management events, which Stratus has none of.
 */
export type RuleState = 'ENABLED' | 'DISABLED' | 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

export const ruleEnabled = (state: RuleState): boolean => state !== 'DISABLED';

export interface RuleRecord {
  bus: string;
  name: string;
  eventPattern: string | null;
  schedule: string | null;
  state: RuleState;
  description: string | null;
  roleArn: string | null;
  tags: Record<string, string>;
  createdAt: number;
  /** Rate schedules keep their grid from here; reset when the expression changes. */
  anchorAt: number;
  lastFireAt: number | null;
}

/** A target as PutTargets gave it (Id, Arn, Input, InputPath, InputTransformer, SqsParameters...). */
export type TargetSpec = Record<string, unknown> & { Id: string; Arn: string };

export interface TargetRecord {
  bus: string;
  rule: string;
  spec: TargetSpec;
  position: number;
}

/** EventBridge resources on the relational store (migration 005-events). */
export class EventsStore {
  constructor(private readonly sql: SqlDatabase) {}

  private get db() {
    return this.sql.db;
  }

  async ensureBus(b: BusRecord): Promise<void> {
    await this.db
      .insertInto('events_buses')
      .values(busRow(b))
      .onConflict((oc: any) => oc.column('name').doNothing())
      .execute();
  }

  /** False when the bus exists. */
  async createBus(b: BusRecord): Promise<boolean> {
    const res = await this.db
      .insertInto('events_buses')
      .values(busRow(b))
      .onConflict((oc: any) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async getBus(name: string): Promise<BusRecord | undefined> {
    const r = await this.db.selectFrom('events_buses').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? toBus(r) : undefined;
  }

  async listBuses(prefix: string | undefined, after: string | undefined, limit: number): Promise<BusRecord[]> {
    let q = this.db.selectFrom('events_buses').selectAll();
    if (prefix) q = q.where('name', '>=', prefix).where('name', '<', prefix + '\uffff');
    if (after !== undefined) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(limit).execute();
    return rows.map(toBus);
  }

  /** Deletes the bus with its rules and targets. */
  async deleteBus(name: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('events_targets').where('bus', '=', name).execute();
      await trx.deleteFrom('events_rules').where('bus', '=', name).execute();
      await trx.deleteFrom('events_buses').where('name', '=', name).execute();
    });
  }

  async putRule(r: RuleRecord): Promise<void> {
    const row = ruleRow(r);
    await this.db
      .insertInto('events_rules')
      .values(row)
      .onConflict((oc: any) =>
        oc.columns(['bus', 'name']).doUpdateSet({
          event_pattern: row.event_pattern,
          schedule: row.schedule,
          state: row.state,
          description: row.description,
          role_arn: row.role_arn,
          tags: row.tags,
          anchor_at: row.anchor_at,
          last_fire_at: row.last_fire_at,
        }),
      )
      .execute();
  }

  async getRule(bus: string, name: string): Promise<RuleRecord | undefined> {
    const r = await this.db.selectFrom('events_rules').selectAll().where('bus', '=', bus).where('name', '=', name).executeTakeFirst();
    return r ? toRule(r) : undefined;
  }

  async listRules(bus: string, prefix: string | undefined, after: string | undefined, limit: number): Promise<RuleRecord[]> {
    let q = this.db.selectFrom('events_rules').selectAll().where('bus', '=', bus);
    if (prefix) q = q.where('name', '>=', prefix).where('name', '<', prefix + '\uffff');
    if (after !== undefined) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(limit).execute();
    return rows.map(toRule);
  }

  /**
   * Replaces the tags of a bus (no rule) or of a rule with what `change` makes of them, in one
   * transaction (on Postgres under the row's lock: two changes at once do not lose one). The
   * tags after, or undefined when there is no such bus or rule.
   */
  async updateTags(
    bus: string,
    rule: string | undefined,
    change: (tags: Record<string, string>) => Record<string, string>,
  ): Promise<Record<string, string> | undefined> {
    return this.db.transaction().execute(async (trx) => {
      let q = rule === undefined
        ? trx.selectFrom('events_buses').select('tags').where('name', '=', bus)
        : trx.selectFrom('events_rules').select('tags').where('bus', '=', bus).where('name', '=', rule);
      if (this.sql.dialect === 'postgres') q = q.forUpdate();
      const r = await q.executeTakeFirst();
      if (!r) return undefined;
      const tags = change(JSON.parse(r.tags));
      const json = JSON.stringify(tags);
      if (rule === undefined) await trx.updateTable('events_buses').set({ tags: json }).where('name', '=', bus).execute();
      else await trx.updateTable('events_rules').set({ tags: json }).where('bus', '=', bus).where('name', '=', rule).execute();
      return tags;
    });
  }

  async scheduledRules(): Promise<RuleRecord[]> {
    const rows = await this.db.selectFrom('events_rules').selectAll().where('schedule', 'is not', null).execute();
    return rows.map(toRule);
  }

  async setRuleState(bus: string, name: string, state: RuleState): Promise<boolean> {
    const res = await this.db.updateTable('events_rules').set({ state }).where('bus', '=', bus).where('name', '=', name).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Compare-and-set of a schedule's last fire: only one node (or tick) wins a fire. */
  async claimFire(bus: string, name: string, previous: number | null, at: number): Promise<boolean> {
    let q = this.db.updateTable('events_rules').set({ last_fire_at: at }).where('bus', '=', bus).where('name', '=', name);
    q = previous === null ? q.where('last_fire_at', 'is', null) : q.where('last_fire_at', '=', previous);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deleteRule(bus: string, name: string): Promise<boolean> {
    const res = await this.db.deleteFrom('events_rules').where('bus', '=', bus).where('name', '=', name).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async countTargets(bus: string, rule: string): Promise<number> {
    const r = await this.db
      .selectFrom('events_targets')
      .select((eb: any) => eb.fn.countAll().as('n'))
      .where('bus', '=', bus)
      .where('rule', '=', rule)
      .executeTakeFirst();
    return Number((r as { n?: unknown } | undefined)?.n ?? 0);
  }

  async listTargets(bus: string, rule: string): Promise<TargetRecord[]> {
    const rows = await this.db
      .selectFrom('events_targets')
      .selectAll()
      .where('bus', '=', bus)
      .where('rule', '=', rule)
      .orderBy('position')
      .orderBy('id')
      .execute();
    return rows.map(toTarget);
  }

  async targetsOfBus(bus: string): Promise<TargetRecord[]> {
    const rows = await this.db.selectFrom('events_targets').selectAll().where('bus', '=', bus).orderBy('position').execute();
    return rows.map(toTarget);
  }

  async rulesOfBus(bus: string): Promise<RuleRecord[]> {
    const rows = await this.db.selectFrom('events_rules').selectAll().where('bus', '=', bus).execute();
    return rows.map(toRule);
  }

  /** The rules with a target of that ARN, each once (a rule may have several). */
  async rulesByTargetArn(arn: string): Promise<Array<{ bus: string; rule: string }>> {
    const rows = await this.db.selectFrom('events_targets').select(['bus', 'rule']).distinct().where('arn', '=', arn).orderBy('rule').execute();
    return rows.map((r: any) => ({ bus: r.bus, rule: r.rule }));
  }

  /** Upserts targets of one rule in one transaction. */
  async putTargets(bus: string, rule: string, specs: TargetSpec[], now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < specs.length; i++) {
        const s = specs[i]!;
        const row = { bus, rule, id: s.Id, arn: s.Arn, spec: JSON.stringify(s), position: now * 1000 + i };
        const existing = await trx
          .selectFrom('events_targets')
          .select('position')
          .where('bus', '=', bus)
          .where('rule', '=', rule)
          .where('id', '=', s.Id)
          .executeTakeFirst();
        if (existing) {
          await trx
            .updateTable('events_targets')
            .set({ arn: row.arn, spec: row.spec })
            .where('bus', '=', bus)
            .where('rule', '=', rule)
            .where('id', '=', s.Id)
            .execute();
        } else {
          await trx.insertInto('events_targets').values(row).execute();
        }
      }
    });
  }

  async removeTargets(bus: string, rule: string, ids: string[]): Promise<string[]> {
    const existing = await this.db
      .selectFrom('events_targets')
      .select('id')
      .where('bus', '=', bus)
      .where('rule', '=', rule)
      .where('id', 'in', ids)
      .execute();
    if (existing.length) {
      await this.db.deleteFrom('events_targets').where('bus', '=', bus).where('rule', '=', rule).where('id', 'in', ids).execute();
    }
    return existing.map((r: any) => r.id as string);
  }
}

function busRow(b: BusRecord) {
  return { name: b.name, description: b.description, tags: JSON.stringify(b.tags), created_at: b.createdAt, modified_at: b.modifiedAt };
}

function toBus(r: any): BusRecord {
  return {
    name: r.name,
    description: r.description ?? null,
    tags: JSON.parse(r.tags),
    createdAt: Number(r.created_at),
    modifiedAt: Number(r.modified_at),
  };
}

function ruleRow(r: RuleRecord) {
  return {
    bus: r.bus,
    name: r.name,
    event_pattern: r.eventPattern,
    schedule: r.schedule,
    state: r.state,
    description: r.description,
    role_arn: r.roleArn,
    tags: JSON.stringify(r.tags),
    created_at: r.createdAt,
    anchor_at: r.anchorAt,
    last_fire_at: r.lastFireAt,
  };
}

function toRule(r: any): RuleRecord {
  return {
    bus: r.bus,
    name: r.name,
    eventPattern: r.event_pattern ?? null,
    schedule: r.schedule ?? null,
    state: r.state,
    description: r.description ?? null,
    roleArn: r.role_arn ?? null,
    tags: JSON.parse(r.tags),
    createdAt: Number(r.created_at),
    anchorAt: Number(r.anchor_at),
    lastFireAt: r.last_fire_at === null || r.last_fire_at === undefined ? null : Number(r.last_fire_at),
  };
}

function toTarget(r: any): TargetRecord {
  return { bus: r.bus, rule: r.rule, spec: JSON.parse(r.spec), position: Number(r.position) };
}
