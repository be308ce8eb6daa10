import { functionArn, parseFunctionRef, resolveQualifier } from '../../core/arn.js';
import { Errors } from '../../core/errors.js';
import { LATEST, type Locale } from '../../core/model.js';
import { rules, Violations } from '../../core/validation.js';
import { MAX_RETRY_ATTEMPTS_LIMIT, DEFAULT_MAX_EVENT_AGE_SECONDS, MIN_EVENT_AGE_SECONDS } from '../../core/retry.js';
import type { ChangeFeed, Clock, ControlSnapshot, SqlDatabase } from '../../ports/index.js';
import { listPage, maxItems, requireFunction } from '../function-configs.js';

/** One function's (or version's, or alias's) asynchronous invocation settings. */
export interface EventInvokeConfig {
  functionName: string;
  qualifier: string; // '$LATEST', a version number or an alias name
  maximumRetryAttempts: number | null;
  maximumEventAgeInSeconds: number | null;
  onSuccess: string | null;
  onFailure: string | null;
  lastModified: number; // epoch ms
}

export interface EventInvokeConfigInput {
  FunctionName: string;
  Qualifier?: string;
  MaximumRetryAttempts?: unknown;
  MaximumEventAgeInSeconds?: unknown;
  DestinationConfig?: unknown;
}

const TABLE = 'event_invoke_configs';
const CHANGE_TYPE = 'event-invoke-config';
const DESTINATION_SERVICES = new Set(['sqs', 'sns', 'lambda', 'events', 's3']);
/** DestinationArn's pattern in Lambda's API model (checked before the semantic checks below). */
const DESTINATION_ARN_PATTERN = '$|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)';
const DESTINATION_ARN = /^(?:|kafka:\/\/([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*))$/;

/**
 * Put/Get/Update/Delete/List of event invoke configs, persisted in `event_invoke_configs`, with
 * a per-function cache for the async worker (invalidated through the change feed).
 */
export class EventInvokeConfigs {
  private readonly cache = new Map<string, Map<string, EventInvokeConfig>>();
  private readonly loading = new Map<string, Promise<Map<string, EventInvokeConfig>>>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: { sql: SqlDatabase; snapshot: ControlSnapshot; changes: ChangeFeed; locale: Locale; clock: Clock },
  ) {
    this.unsubscribe = deps.changes.subscribe((ev) => {
      if (ev.kind === 'resource' && ev.type === CHANGE_TYPE) this.cache.delete(ev.id);
      if (ev.kind === 'resync') this.cache.clear();
      if (ev.kind === 'function-deleted') {
        this.cache.delete(ev.name);
        void this.deps.sql.db.deleteFrom(TABLE).where('function_name', '=', ev.name).execute().catch(() => undefined);
      }
      // A deleted version or alias takes its config with it (a new alias of the same name starts without one).
      if (ev.kind === 'function') void this.dropGone(ev.name).catch(() => undefined);
    });
  }

  close(): void {
    this.unsubscribe?.();
  }

  /** The config the worker applies for an event invoked through `qualifier` (cached). */
  async lookup(functionName: string, qualifier: string): Promise<EventInvokeConfig | undefined> {
    let m = this.cache.get(functionName);
    if (!m) {
      let p = this.loading.get(functionName);
      if (!p) {
        p = this.loadFunction(functionName).finally(() => this.loading.delete(functionName));
        this.loading.set(functionName, p);
      }
      m = await p;
      this.cache.set(functionName, m);
    }
    return m.get(qualifier);
  }

  private async loadFunction(name: string): Promise<Map<string, EventInvokeConfig>> {
    const rows = await this.deps.sql.db.selectFrom(TABLE).selectAll().where('function_name', '=', name).execute();
    return new Map(rows.map((r: any) => [r.qualifier as string, fromRow(r)]));
  }

  private async dropGone(name: string): Promise<void> {
    const fs = this.deps.snapshot.get(name);
    if (!fs) return;
    const rows = await this.deps.sql.db.selectFrom(TABLE).select('qualifier').where('function_name', '=', name).execute() as Array<{ qualifier: string }>;
    const gone = rows.map((r) => r.qualifier).filter((q) => q !== LATEST && !fs.versions.has(q) && !fs.aliases.has(q));
    if (gone.length === 0) return;
    await this.deps.sql.db.deleteFrom(TABLE).where('function_name', '=', name).where('qualifier', 'in', gone).execute();
    this.cache.delete(name);
  }

  // ------------------------------------------------------------ API operations

  async put(input: EventInvokeConfigInput): Promise<EventInvokeConfig> {
    checkModel(input);
    requireSetting(input);
    const { name, qualifier } = await this.target(input);
    const cfg: EventInvokeConfig = {
      functionName: name,
      qualifier,
      maximumRetryAttempts: retryAttempts(input.MaximumRetryAttempts),
      maximumEventAgeInSeconds: eventAge(input.MaximumEventAgeInSeconds),
      ...destinations(input.DestinationConfig, { onSuccess: null, onFailure: null }),
      lastModified: this.deps.clock.now(),
    };
    await this.checkFunctionDestinations(name, givenDestinations(input.DestinationConfig));
    await this.write(cfg);
    return cfg;
  }

  async update(input: EventInvokeConfigInput): Promise<EventInvokeConfig> {
    checkModel(input);
    requireSetting(input);
    const { name, qualifier } = await this.target(input);
    // Update changes a config that exists (Put makes one): Lambda's ResourceNotFound otherwise.
    const existing = await this.read(name, qualifier);
    if (!existing) throw this.missing(name, qualifier);
    const cfg: EventInvokeConfig = {
      functionName: name,
      qualifier,
      maximumRetryAttempts:
        input.MaximumRetryAttempts === undefined || input.MaximumRetryAttempts === null
          ? existing.maximumRetryAttempts
          : retryAttempts(input.MaximumRetryAttempts),
      maximumEventAgeInSeconds:
        input.MaximumEventAgeInSeconds === undefined || input.MaximumEventAgeInSeconds === null
          ? existing.maximumEventAgeInSeconds
          : eventAge(input.MaximumEventAgeInSeconds),
      ...destinations(input.DestinationConfig, { onSuccess: existing.onSuccess, onFailure: existing.onFailure }),
      lastModified: this.deps.clock.now(),
    };
    await this.checkFunctionDestinations(name, givenDestinations(input.DestinationConfig));
    await this.write(cfg);
    return cfg;
  }

  async get(input: EventInvokeConfigInput): Promise<EventInvokeConfig> {
    const { name, qualifier } = await this.target(input);
    const cfg = await this.read(name, qualifier);
    if (!cfg) throw this.missing(name, qualifier);
    return cfg;
  }

  async delete(input: EventInvokeConfigInput): Promise<void> {
    const { name, qualifier } = await this.target(input);
    const res = await this.deps.sql.db
      .deleteFrom(TABLE)
      .where('function_name', '=', name)
      .where('qualifier', '=', qualifier)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw this.missing(name, qualifier);
    await this.deps.changes.publish({ kind: 'resource', type: CHANGE_TYPE, id: name });
  }

  async list(input: { FunctionName: string; Marker?: string; MaxItems?: unknown }): Promise<{ configs: EventInvokeConfig[]; nextMarker?: string }> {
    const ref = parseFunctionRef(input.FunctionName, this.deps.locale, 'NamespacedFunctionName');
    if (ref.qualifier !== undefined) {
      throw Errors.invalidParameter('Qualifier is not supported by ListFunctionEventInvokeConfigs; pass the function name only.');
    }
    await requireFunction(this.deps.snapshot, this.deps.locale, ref.name, undefined);
    return listPage(this.deps.sql, TABLE, ref.name, input.Marker, maxItems(input.MaxItems), fromRow);
  }

  /** Lambda's response shape for one config. */
  toWire(cfg: EventInvokeConfig): Record<string, unknown> {
    const out: Record<string, unknown> = {
      LastModified: cfg.lastModified / 1000,
      FunctionArn: functionArn(this.deps.locale, cfg.functionName, cfg.qualifier),
    };
    if (cfg.maximumRetryAttempts !== null) out.MaximumRetryAttempts = cfg.maximumRetryAttempts;
    if (cfg.maximumEventAgeInSeconds !== null) out.MaximumEventAgeInSeconds = cfg.maximumEventAgeInSeconds;
    out.DestinationConfig = {
      OnSuccess: cfg.onSuccess ? { Destination: cfg.onSuccess } : {},
      OnFailure: cfg.onFailure ? { Destination: cfg.onFailure } : {},
    };
    return out;
  }

  // ------------------------------------------------------------ helpers

  private missing(name: string, qualifier: string) {
    return Errors.resourceNotFound(
      `The function ${functionArn(this.deps.locale, name, qualifier)} doesn't have an EventInvokeConfig`,
    );
  }

  /**
   * Lambda's checks of the functions named as destinations, once the function configured is
   * found: each must exist ("The destination ARN ... is invalid.", as for any destination Lambda
   * cannot send to), and none may be the function itself, under any qualifier: each record sent
   * would be another asynchronous event to the same function, whose record would be another one,
   * for ever.
   */
  private async checkFunctionDestinations(self: string, arns: string[]): Promise<void> {
    for (const arn of arns) {
      const target = functionDestination(arn);
      if (!target) continue;
      const here = target.name !== '' && target.region === this.deps.locale.region && target.accountId === this.deps.locale.accountId;
      const fs = here ? this.deps.snapshot.get(target.name) ?? await this.deps.snapshot.lookup(target.name) : undefined;
      if (!fs) throw Errors.invalidParameter(`The destination ARN ${arn} is invalid.`);
      if (target.name === self) throw Errors.invalidParameter("You can't specify the function as a destination for itself.");
    }
  }

  private async target(input: EventInvokeConfigInput): Promise<{ name: string; qualifier: string }> {
    const ref = parseFunctionRef(input.FunctionName, this.deps.locale, 'NamespacedFunctionName');
    const given = resolveQualifier(ref, input.Qualifier);
    await requireFunction(this.deps.snapshot, this.deps.locale, ref.name, given);
    return { name: ref.name, qualifier: given ?? LATEST };
  }

  private async read(name: string, qualifier: string): Promise<EventInvokeConfig | undefined> {
    const r = await this.deps.sql.db
      .selectFrom(TABLE)
      .selectAll()
      .where('function_name', '=', name)
      .where('qualifier', '=', qualifier)
      .executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  private async write(cfg: EventInvokeConfig): Promise<void> {
    const row = {
      function_name: cfg.functionName,
      qualifier: cfg.qualifier,
      maximum_retry_attempts: cfg.maximumRetryAttempts,
      maximum_event_age: cfg.maximumEventAgeInSeconds,
      on_success: cfg.onSuccess,
      on_failure: cfg.onFailure,
      last_modified: cfg.lastModified,
    };
    await this.deps.sql.db
      .insertInto(TABLE)
      .values(row)
      .onConflict((oc: any) => oc.columns(['function_name', 'qualifier']).doUpdateSet({
        maximum_retry_attempts: row.maximum_retry_attempts,
        maximum_event_age: row.maximum_event_age,
        on_success: row.on_success,
        on_failure: row.on_failure,
        last_modified: row.last_modified,
      }))
      .execute();
    await this.deps.changes.publish({ kind: 'resource', type: CHANGE_TYPE, id: cfg.functionName });
  }
}

function fromRow(r: any): EventInvokeConfig {
  return {
    functionName: r.function_name,
    qualifier: r.qualifier,
    maximumRetryAttempts: r.maximum_retry_attempts === null ? null : Number(r.maximum_retry_attempts),
    maximumEventAgeInSeconds: r.maximum_event_age === null ? null : Number(r.maximum_event_age),
    onSuccess: r.on_success ?? null,
    onFailure: r.on_failure ?? null,
    lastModified: Number(r.last_modified),
  };
}

/**
 * The API model's constraints on an event invoke config (MaximumRetryAttempts 0-2,
 * MaximumEventAgeInSeconds 60-21600, DestinationArn's pattern): one ValidationException listing
 * every violation, as for Lambda's other operations, before the function is looked up.
 */
function checkModel(input: EventInvokeConfigInput): void {
  const v = new Violations();
  v.range(input.MaximumRetryAttempts, 'maximumRetryAttempts', 0, MAX_RETRY_ATTEMPTS_LIMIT);
  v.range(input.MaximumEventAgeInSeconds, 'maximumEventAgeInSeconds', MIN_EVENT_AGE_SECONDS, DEFAULT_MAX_EVENT_AGE_SECONDS);
  const dc = input.DestinationConfig;
  if (dc && typeof dc === 'object' && !Array.isArray(dc)) {
    for (const [key, field] of [['OnSuccess', 'onSuccess'], ['OnFailure', 'onFailure']] as const) {
      const dest = (dc as Record<string, { Destination?: unknown } | undefined>)[key]?.Destination;
      if (typeof dest !== 'string') continue;
      if (dest.length > 350) v.add(dest, `destinationConfig.${field}.destination`, rules.maxLength(350));
      else if (!DESTINATION_ARN.test(dest)) v.add(dest, `destinationConfig.${field}.destination`, rules.pattern(DESTINATION_ARN_PATTERN));
    }
  }
  v.throwIfAny();
}

/**
 * A Put or Update that sets nothing (no retry attempts, event age or DestinationConfig) is
 * refused, as Lambda refuses it: before the function is looked up.
 */
function requireSetting(input: EventInvokeConfigInput): void {
  const given = (v: unknown) => v !== undefined && v !== null;
  if (!given(input.MaximumRetryAttempts) && !given(input.MaximumEventAgeInSeconds) && !given(input.DestinationConfig)) {
    throw Errors.invalidParameter('You must specify at least one of error handling or destination setting.');
  }
}

/** The destination ARNs a DestinationConfig names (its format was checked by destinations()). */
function givenDestinations(dc: unknown): string[] {
  if (!dc || typeof dc !== 'object') return [];
  const d = dc as Record<string, { Destination?: unknown } | null | undefined>;
  return [d.OnSuccess?.Destination, d.OnFailure?.Destination].filter((x): x is string => typeof x === 'string' && x !== '');
}

/** The function a Lambda destination ARN names (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]); undefined for another service's. */
function functionDestination(arn: string): { region: string; accountId: string; name: string } | undefined {
  const parts = arn.split(':');
  if (parts[2] !== 'lambda') return undefined;
  return { region: parts[3] ?? '', accountId: parts[4] ?? '', name: parts[5] === 'function' ? parts[6] ?? '' : '' };
}

function retryAttempts(v: unknown): number | null {
  return v === undefined || v === null ? null : (v as number);
}

function eventAge(v: unknown): number | null {
  return v === undefined || v === null ? null : (v as number);
}

function destinations(
  dc: unknown,
  base: { onSuccess: string | null; onFailure: string | null },
): { onSuccess: string | null; onFailure: string | null } {
  if (dc === undefined || dc === null) return base;
  if (typeof dc !== 'object' || Array.isArray(dc)) throw Errors.invalidParameter('DestinationConfig must be an object');
  const d = dc as { OnSuccess?: { Destination?: unknown }; OnFailure?: { Destination?: unknown } };
  const pick = (x: { Destination?: unknown } | undefined, current: string | null, onFailure: boolean): string | null => {
    if (x === undefined || x === null) return current;
    const dest = x.Destination;
    if (dest === undefined || dest === null || dest === '') return null;
    if (typeof dest !== 'string') throw Errors.invalidParameter('Destination must be a string');
    validateDestination(dest, onFailure);
    return dest;
  };
  return { onSuccess: pick(d.OnSuccess, base.onSuccess, false), onFailure: pick(d.OnFailure, base.onFailure, true) };
}

export function validateDestination(arn: string, onFailure: boolean): void {
  const parts = arn.split(':');
  const service = parts[2] ?? '';
  const ok =
    parts[0] === 'arn' &&
    parts.length >= 6 &&
    DESTINATION_SERVICES.has(service) &&
    (service !== 's3' || onFailure) &&
    arn.length <= 350;
  if (!ok) throw Errors.invalidParameter(`The destination ARN ${arn} is invalid.`);
}
