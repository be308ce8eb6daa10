import { functionArn, isNumericVersion, lambdaTimestamp, parseFunctionRef, resolveQualifier } from '../../core/arn.js';
import { Errors } from '../../core/errors.js';
import { LATEST, type FunctionSnapshot, type Locale } from '../../core/model.js';
import { rules, Violations } from '../../core/validation.js';
import { pooledProvisioned } from '../../core/concurrency.js';
import type { ChangeFeed, Clock, ControlSnapshot, FunctionStore, SqlDatabase } from '../../ports/index.js';
import { listPage, maxItems, requireFunction } from '../function-configs.js';

export type ProvisionedStatus = 'IN_PROGRESS' | 'READY' | 'FAILED';

/** One provisioned concurrency config: what was asked for a version or alias, and how far it got. */
export interface ProvisionedConfig {
  functionName: string;
  /** A version number or an alias name (never $LATEST). */
  qualifier: string;
  requested: number;
  /** Epoch ms of the last Put: the allocator's reports are for that one only. */
  lastModified: number;
  allocated: number;
  status: ProvisionedStatus;
  statusReason: string | null;
}

export interface ProvisionedConfigInput {
  FunctionName: string;
  Qualifier?: string;
  ProvisionedConcurrentExecutions?: unknown;
}

const TABLE = 'provisioned_concurrency';
export const PROVISIONED_CHANGE = 'provisioned-concurrency';

/**
 * Put/Get/List/DeleteProvisionedConcurrencyConfig, persisted in `provisioned_concurrency`. A Put
 * records the request (IN_PROGRESS) and announces it; the allocator (allocator.ts) starts the
 * environments and records what it allocated (READY, or FAILED with the reason).
 */
export class ProvisionedConfigs {
  constructor(
    private readonly deps: {
      sql: SqlDatabase; snapshot: ControlSnapshot; changes: ChangeFeed; locale: Locale; clock: Clock;
      /** The function store: reservations and provisioned concurrency totals, as PutFunctionConcurrency reads them. */
      functions: FunctionStore;
      /** The account's concurrency limit and the part no reservation may take (STRATUS_UNRESERVED_MIN). */
      accountConcurrency: number; unreservedMin: number;
    },
  ) {}

  async put(input: ProvisionedConfigInput): Promise<ProvisionedConfig> {
    const v = new Violations();
    if (input.Qualifier === undefined || input.Qualifier === null) v.add(null, 'qualifier', rules.notNull);
    const n = input.ProvisionedConcurrentExecutions;
    if (n === undefined || n === null) v.add(null, 'provisionedConcurrentExecutions', rules.notNull);
    else if (typeof n !== 'number' || !Number.isInteger(n)) v.add(n, 'provisionedConcurrentExecutions', 'Member must be an integer');
    else if (n < 1) v.add(n, 'provisionedConcurrentExecutions', rules.minValue(1));
    v.throwIfAny();
    const requested = n as number;
    const { name, qualifier, fs } = await this.target(input);
    // Tenant isolation "is incompatible with Provisioned Concurrency" (it is set at create and
    // kept by every version): refused. Lambda's words for it are not documented.
    if (fs.versions.get(LATEST)?.config.tenancy) {
      throw Errors.invalidParameter('Provisioned Concurrency is not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT).');
    }
    if (qualifier === LATEST || (!isNumericVersion(qualifier) && fs.aliases.get(qualifier)?.functionVersion === LATEST)) {
      throw Errors.invalidParameter('Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
    }
    // Lambda refuses a config on an alias while it routes by weight (weights added to an alias
    // that has one are allowed: its provisioned concurrency is then spread over both versions).
    if (!isNumericVersion(qualifier) && Object.keys(fs.aliases.get(qualifier)?.additionalVersionWeights ?? {}).length > 0) {
      throw Errors.invalidParameter('Alias with weights can not be used with Provisioned Concurrency');
    }
    const existing = await this.read(name, qualifier);
    const totals = await this.deps.functions.provisionedTotals();
    // The function's other configs: its total less what this one asked before.
    const ofFunction = (totals.get(name)?.total ?? 0) - (existing?.requested ?? 0);
    const reserved = fs.fn.reservedConcurrency;
    if (reserved !== null) {
      if (ofFunction + requested > reserved) {
        throw Errors.invalidParameter('Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function');
      }
    } else {
      // Provisioned concurrency of functions without a reservation comes out of the unreserved
      // pool, which keeps its minimum as reservations do.
      const { accountConcurrency, unreservedMin } = this.deps;
      const totalReserved = await this.deps.functions.totalReserved();
      if (accountConcurrency - totalReserved - pooledProvisioned(totals, name) - ofFunction - requested < unreservedMin) {
        // Lambda's words: ConcurrentExecutions here (PutFunctionConcurrency's say ReservedConcurrentExecutions).
        throw Errors.invalidParameter(
          `Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${unreservedMin}].`,
        );
      }
    }
    refuseOverlap(qualifier, fs, await this.ofFunction(name));
    const cfg: ProvisionedConfig = {
      functionName: name, qualifier, requested, lastModified: this.deps.clock.now(),
      allocated: existing?.allocated ?? 0, status: 'IN_PROGRESS', statusReason: null,
    };
    const row = {
      requested, last_modified: cfg.lastModified, allocated: cfg.allocated, status: cfg.status, status_reason: null,
    };
    await this.deps.sql.db
      .insertInto(TABLE)
      .values({ function_name: name, qualifier, ...row })
      .onConflict((oc: any) => oc.columns(['function_name', 'qualifier']).doUpdateSet(row))
      .execute();
    await this.deps.changes.publish({ kind: 'resource', type: PROVISIONED_CHANGE, id: name });
    return cfg;
  }

  async get(input: ProvisionedConfigInput): Promise<ProvisionedConfig> {
    this.requireQualifier(input);
    const { name, qualifier } = await this.target(input);
    const cfg = await this.read(name, qualifier);
    if (!cfg) throw missing();
    return cfg;
  }

  async delete(input: ProvisionedConfigInput): Promise<void> {
    this.requireQualifier(input);
    const { name, qualifier } = await this.target(input);
    const res = await this.deps.sql.db.deleteFrom(TABLE).where('function_name', '=', name).where('qualifier', '=', qualifier).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw missing();
    await this.deps.changes.publish({ kind: 'resource', type: PROVISIONED_CHANGE, id: name });
  }

  async list(input: { FunctionName: string; Marker?: string; MaxItems?: unknown }): Promise<{ configs: ProvisionedConfig[]; nextMarker?: string }> {
    const ref = parseFunctionRef(input.FunctionName, this.deps.locale);
    await requireFunction(this.deps.snapshot, this.deps.locale, ref.name, undefined);
    return listPage(this.deps.sql, TABLE, ref.name, input.Marker, maxItems(input.MaxItems), fromRow);
  }

  /** Every config of one function (the allocator's). */
  async ofFunction(name: string): Promise<ProvisionedConfig[]> {
    const rows = await this.deps.sql.db.selectFrom(TABLE).selectAll().where('function_name', '=', name).execute();
    return rows.map(fromRow);
  }

  /** Names of the functions that have a config (the allocator's, at start). */
  async functionNames(): Promise<string[]> {
    const rows = await this.deps.sql.db.selectFrom(TABLE).select('function_name').distinct().execute();
    return rows.map((r: { function_name: string }) => r.function_name);
  }

  /** The allocator's report on the config Put at `lastModified` (a later Put's is not overwritten). */
  async report(cfg: ProvisionedConfig, allocated: number, status: ProvisionedStatus, statusReason: string | null): Promise<void> {
    await this.deps.sql.db
      .updateTable(TABLE)
      .set({ allocated, status, status_reason: statusReason })
      .where('function_name', '=', cfg.functionName)
      .where('qualifier', '=', cfg.qualifier)
      .where('last_modified', '=', cfg.lastModified)
      .execute();
  }

  /** A config whose version or alias is gone goes with it. */
  async forget(cfg: ProvisionedConfig): Promise<void> {
    await this.deps.sql.db.deleteFrom(TABLE).where('function_name', '=', cfg.functionName).where('qualifier', '=', cfg.qualifier).execute();
  }

  /** Lambda's response shape; `withArn` for ListProvisionedConcurrencyConfigs' items. */
  toWire(cfg: ProvisionedConfig, withArn = false): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (withArn) out.FunctionArn = functionArn(this.deps.locale, cfg.functionName, cfg.qualifier);
    out.RequestedProvisionedConcurrentExecutions = cfg.requested;
    out.AvailableProvisionedConcurrentExecutions = cfg.allocated;
    out.AllocatedProvisionedConcurrentExecutions = cfg.allocated;
    out.Status = cfg.status;
    if (cfg.statusReason) out.StatusReason = cfg.statusReason;
    out.LastModified = lambdaTimestamp(cfg.lastModified);
    return out;
  }

  private requireQualifier(input: ProvisionedConfigInput): void {
    const ref = parseFunctionRef(input.FunctionName, this.deps.locale);
    if (resolveQualifier(ref, input.Qualifier) === undefined) {
      new Violations().add(null, 'qualifier', rules.notNull).throwIfAny();
    }
  }

  private async target(input: ProvisionedConfigInput): Promise<{ name: string; qualifier: string; fs: FunctionSnapshot }> {
    const ref = parseFunctionRef(input.FunctionName, this.deps.locale);
    const qualifier = resolveQualifier(ref, input.Qualifier) ?? LATEST;
    const fs = await requireFunction(this.deps.snapshot, this.deps.locale, ref.name, qualifier);
    return { name: ref.name, qualifier, fs };
  }

  private async read(name: string, qualifier: string): Promise<ProvisionedConfig | undefined> {
    const r = await this.deps.sql.db.selectFrom(TABLE).selectAll().where('function_name', '=', name).where('qualifier', '=', qualifier).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }
}

/**
 * A version has one provisioned concurrency config at most: on itself, or on an alias that points
 * to it. Lambda refuses the second either way round (ResourceConflictException).
 */
function refuseOverlap(qualifier: string, fs: FunctionSnapshot, configs: readonly ProvisionedConfig[]): void {
  const others = configs.filter((c) => c.qualifier !== qualifier);
  if (isNumericVersion(qualifier)) {
    if (others.some((c) => !isNumericVersion(c.qualifier) && versionsOf(fs, c.qualifier).includes(qualifier))) {
      throw Errors.resourceConflict('Version is pointed by a Provisioned Concurrency alias');
    }
  } else {
    const covered = versionsOf(fs, qualifier);
    if (others.some((c) => isNumericVersion(c.qualifier) && covered.includes(c.qualifier))) {
      throw Errors.resourceConflict('Alias can\'t be used for Provisioned Concurrency configuration on an already Provisioned version');
    }
  }
}

/** The versions an alias points to (a weighted one's second too). */
function versionsOf(fs: FunctionSnapshot, alias: string): string[] {
  const a = fs.aliases.get(alias);
  return a ? [a.functionVersion, ...Object.keys(a.additionalVersionWeights)] : [];
}

function missing() {
  return Errors.provisionedConcurrencyConfigNotFound('No Provisioned Concurrency Config found for this function');
}

function fromRow(r: any): ProvisionedConfig {
  return {
    functionName: r.function_name,
    qualifier: r.qualifier,
    requested: Number(r.requested),
    lastModified: Number(r.last_modified),
    allocated: Number(r.allocated),
    status: r.status as ProvisionedStatus,
    statusReason: r.status_reason ?? null,
  };
}
