import { randomUUID } from 'node:crypto';
import { functionArn, parseFunctionRef, VERSION } from '../../core/arn.js';
import { Errors } from '../../core/errors.js';
import { validateFilterCriteria } from '../../core/filter-criteria.js';
import { validateTags } from '../../core/function-config.js';
import { LATEST, type Locale } from '../../core/model.js';
import { parseQueueArn, queueSettings } from '../../core/sqs-attributes.js';
import { maxItems, rules, Violations } from '../../core/validation.js';
import type { ChangeFeed, Clock, FunctionStore, TagKeeper } from '../../ports/index.js';
import type { SqsService } from '../sqs/index.js';
import type { MappingConfig, MappingRecord, MappingStore } from './store.js';

export const MAPPING_RESOURCE = 'event-source-mapping';

type Input = Record<string, unknown>;

/**
 * Fields of other event sources (streams, Kafka, MQ): refused for queue sources (StartingPosition
 * first, in Lambda's words). SourceAccessConfigurations (broker and Kafka authentication, VPC) and
 * LoggingConfig ("Amazon MSK, and self-managed Apache Kafka only") are among them.
 */
const NOT_FOR_SQS = [
  'StartingPositionTimestamp', 'ParallelizationFactor', 'DestinationConfig', 'MaximumRecordAgeInSeconds',
  'BisectBatchOnFunctionError', 'MaximumRetryAttempts', 'TumblingWindowInSeconds', 'Topics', 'Queues', 'SourceAccessConfigurations',
  'SelfManagedEventSource', 'AmazonManagedKafkaEventSourceConfig', 'SelfManagedKafkaEventSourceConfig', 'DocumentDBEventSourceConfig',
  'LoggingConfig',
];

/** EventSourceMappingMetric's values, in the model's order; ErrorCount and KafkaMetrics are for Kafka sources only. */
const METRICS: readonly string[] = ['EventCount', 'ErrorCount', 'KafkaMetrics'];

/** KMSKeyArn's pattern in the model ('' is allowed: it removes the key). */
const KMS_KEY_ARN = /^arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*$/;
const KMS_KEY_ARN_TEXT = '(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()';
const POLLER_GROUP_NAME_TEXT = '[a-zA-Z0-9-_]*';

/**
 * EventSourcePosition's values, in the order Lambda's ValidationException lists them (the model
 * constrains CreateEventSourceMapping's StartingPosition to them, whatever the source).
 */
const STARTING_POSITIONS: readonly string[] = ['LATEST', 'AT_TIMESTAMP', 'TRIM_HORIZON'];

/** Services whose ARNs Lambda polls (streams, Kafka, brokers) and Stratus does not. */
const POLLED_ELSEWHERE = new Set(['kinesis', 'dynamodb', 'kafka', 'mq', 'rds']);

export interface MappingServiceDeps {
  store: MappingStore;
  functions: FunctionStore;
  sqs: SqsService;
  changes: ChangeFeed;
  locale: Locale;
  clock: Clock;
}

/**
 * Control plane of event source mappings (SQS sources): validation as Lambda does it, the
 * wire shape (EventSourceMappingConfiguration), persistence and change announcements. States
 * settle at once; responses show Lambda's transitional state (Creating, Updating, Enabling,
 * Disabling, Deleting) as Lambda does.
 */
export class MappingService {
  constructor(private readonly deps: MappingServiceDeps) {}

  private async announce(uuid: string): Promise<void> {
    await this.deps.changes.publish({ kind: 'resource', type: MAPPING_RESOURCE, id: uuid });
  }

  /**
   * Lambda refuses a queue whose visibility timeout is shorter than the function's timeout
   * (a message would reappear while the function still runs on it).
   */
  private async checkVisibility(fn: { name: string; qualifier?: string }, source: { visibilityTimeout: number }): Promise<void> {
    let version = fn.qualifier ?? LATEST;
    if (!VERSION.test(version) && version !== LATEST) version = (await this.deps.functions.getAlias(fn.name, version))?.functionVersion ?? LATEST;
    const timeout = (await this.deps.functions.getVersion(fn.name, version))?.config.timeout;
    if (timeout !== undefined && source.visibilityTimeout < timeout) {
      throw Errors.invalidParameter(
        `Invalid request provided: Queue visibility timeout: ${source.visibilityTimeout} seconds is less than Function timeout: ${timeout} seconds`,
      );
    }
  }

  /**
   * Resolves FunctionName (name, partial or full ARN, qualifier) to an existing function.
   * CreateEventSourceMapping says a missing one is InvalidParameterValueException "Function does
   * not exist" (`createError`); UpdateEventSourceMapping keeps ResourceNotFoundException.
   */
  private async resolveFunction(input: unknown, createError = false): Promise<{ name: string; qualifier?: string }> {
    if (typeof input !== 'string' || input === '') throw Errors.invalidParameter('FunctionName is required.');
    const ref = parseFunctionRef(input, this.deps.locale, 'NamespacedFunctionName');
    const notFound = () => createError
      ? Errors.invalidParameter('Function does not exist')
      : Errors.resourceNotFound(`Function not found: ${functionArn(this.deps.locale, ref.name, ref.qualifier)}`);
    const fn = await this.deps.functions.getFunction(ref.name);
    if (!fn) throw notFound();
    if (ref.qualifier !== undefined) {
      const exists = VERSION.test(ref.qualifier)
        ? await this.deps.functions.getVersion(ref.name, ref.qualifier)
        : await this.deps.functions.getAlias(ref.name, ref.qualifier);
      if (!exists) throw notFound();
      return { name: ref.name, qualifier: ref.qualifier };
    }
    return { name: ref.name };
  }

  /**
   * EventSourceArn names a queue: Lambda's "Unrecognized event source." when it is missing or
   * names no service Lambda polls; a stream's or broker's (which Lambda polls, Stratus not) is
   * refused saying what Stratus takes. Checked before the function is looked up, as Lambda does.
   */
  private recognizeSource(arn: unknown): string {
    if (typeof arn !== 'string' || arn === '') throw Errors.invalidParameter('Unrecognized event source.');
    if (parseQueueArn(arn)) return arn;
    const service = arn.startsWith('arn:') ? arn.split(':')[2] ?? '' : '';
    if (POLLED_ELSEWHERE.has(service)) throw Errors.invalidParameter('Unrecognized event source, must be SQS queue ARN.');
    throw Errors.invalidParameter('Unrecognized event source.');
  }

  /** The queue EventSourceArn names (recognized by recognizeSource): it must exist. */
  private async validateSource(arn: string): Promise<{ arn: string; fifo: boolean; visibilityTimeout: number }> {
    const q = await this.deps.sqs.queueByArn(arn);
    if (!q) {
      throw Errors.invalidParameter(
        'Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist or you do not have access to it.',
      );
    }
    return { arn, fifo: q.fifo, visibilityTimeout: queueSettings(q.attributes).visibilityTimeout };
  }

  /** Lambda's answer when the function (and qualifier) already has a mapping for the queue. */
  private async refuseDuplicate(fn: { name: string; qualifier?: string }, arn: string, self?: string): Promise<void> {
    const existing = (await this.deps.store.list({ functionName: fn.name, qualifier: fn.qualifier ?? null, eventSourceArn: arn }))
      .filter((m) => m.uuid !== self);
    if (existing.length) {
      throw Errors.resourceConflict(
        `An event source mapping with SQS arn (" ${arn} ") and function (" ${fn.name} ") already exists. Please update or delete the existing mapping with UUID ${existing[0]!.uuid}`,
      );
    }
  }

  private validateConfig(i: Input, base: MappingConfig, fifo: boolean): MappingConfig {
    if (i.StartingPosition !== undefined && i.StartingPosition !== null) throw Errors.invalidParameter('StartingPosition is not valid for SQS event sources.');
    for (const k of NOT_FOR_SQS) {
      if (i[k] !== undefined && i[k] !== null) throw Errors.invalidParameter(`Unsupported ${k} parameter for given event source.`);
    }
    const c: MappingConfig = { ...base };
    // Ranges and types were checked by checkModel.
    if (typeof i.BatchSize === 'number') c.BatchSize = i.BatchSize;
    if (typeof i.MaximumBatchingWindowInSeconds === 'number') c.MaximumBatchingWindowInSeconds = i.MaximumBatchingWindowInSeconds;
    if (fifo && c.BatchSize > 10) throw Errors.invalidParameter('Batch size for SQS FIFO queue must be less than or equal to 10.');
    if (fifo && c.MaximumBatchingWindowInSeconds > 0) throw Errors.invalidParameter('Batching window is not supported for FIFO queues.');
    if (c.BatchSize > 10 && c.MaximumBatchingWindowInSeconds < 1) {
      throw Errors.invalidParameter('Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10');
    }
    if (i.FilterCriteria !== undefined) {
      const f = validateFilterCriteria(i.FilterCriteria);
      if (f && f.Filters.length) c.FilterCriteria = f;
      else delete c.FilterCriteria;
    }
    if (Array.isArray(i.FunctionResponseTypes)) c.FunctionResponseTypes = [...i.FunctionResponseTypes] as string[];
    if (i.ScalingConfig !== undefined && i.ScalingConfig !== null) {
      const s = i.ScalingConfig as Input;
      if (typeof s !== 'object') throw Errors.invalidParameter('ScalingConfig must be an object.');
      const mc = s.MaximumConcurrency;
      if (typeof mc === 'number') c.ScalingConfig = { MaximumConcurrency: mc };
      else delete c.ScalingConfig;
    }
    if (i.MetricsConfig !== undefined && i.MetricsConfig !== null) {
      // EventCount is the one metric of a queue's mapping; an empty list turns the metrics off.
      const metrics = ((i.MetricsConfig as Input).Metrics ?? []) as string[];
      const other = metrics.filter((x) => x !== 'EventCount');
      if (other.length) throw Errors.invalidParameter(`Unsupported metrics ${other.join(', ')} for given event source.`);
      if (metrics.length) c.MetricsConfig = { Metrics: [...metrics] };
      else delete c.MetricsConfig;
    }
    if (i.ProvisionedPollerConfig !== undefined && i.ProvisionedPollerConfig !== null) {
      // A queue's provisioned mode: 2-200 pollers at least, 2-2000 at most (defaults 2 and 200);
      // poller groups are for Kafka sources. One without either bound returns to on-demand mode.
      const p = i.ProvisionedPollerConfig as Input;
      if (p.PollerGroupName !== undefined && p.PollerGroupName !== null) throw Errors.invalidParameter('Unsupported PollerGroupName parameter for given event source.');
      const min = p.MinimumPollers as number | undefined | null;
      const max = p.MaximumPollers as number | undefined | null;
      if (typeof min === 'number' && min < 2) throw Errors.invalidParameter('MinimumPollers must be at least 2 for SQS event sources.');
      if (typeof max === 'number' && max < 2) throw Errors.invalidParameter('MaximumPollers must be at least 2 for SQS event sources.');
      if (typeof min === 'number' && typeof max === 'number' && min > max) {
        throw Errors.invalidParameter('MinimumPollers must be less than or equal to MaximumPollers.');
      }
      const kept: NonNullable<MappingConfig['ProvisionedPollerConfig']> = {};
      if (typeof min === 'number') kept.MinimumPollers = min;
      if (typeof max === 'number') kept.MaximumPollers = max;
      if (kept.MinimumPollers !== undefined || kept.MaximumPollers !== undefined) c.ProvisionedPollerConfig = kept;
      else delete c.ProvisionedPollerConfig;
    }
    if (typeof i.KMSKeyArn === 'string') {
      // Filter criteria encryption applies to every source; '' removes the key.
      if (i.KMSKeyArn) c.KMSKeyArn = i.KMSKeyArn;
      else delete c.KMSKeyArn;
    }
    return c;
  }

  /**
   * The Lambda model's constraints on the mapping's fields (BatchSize 1-10000,
   * MaximumBatchingWindowInSeconds 0-300, FunctionResponseTypes at most one of the enum,
   * ScalingConfig.MaximumConcurrency 2-1000, StartingPosition one of EventSourcePosition,
   * MetricsConfig.Metrics at most three of EventSourceMappingMetric, ProvisionedPollerConfig's
   * MinimumPollers 1-200, MaximumPollers 1-2000 and PollerGroupName, KMSKeyArn's pattern):
   * ValidationException listing every violation, before anything is looked up, as Lambda's front
   * door checks them. Lambda's own rules (which fields
   * suit the source, batch window for large batches) stay InvalidParameterValueException.
   */
  private checkModel(i: Input, creating = false): void {
    const v = new Violations();
    // CreateEventSourceMapping's one required member.
    if (creating && (i.FunctionName === undefined || i.FunctionName === null)) v.add(null, 'functionName', rules.notNull);
    const p = i.StartingPosition;
    if (p !== undefined && p !== null && !STARTING_POSITIONS.includes(p as string)) v.add(p, 'startingPosition', rules.enumOf(STARTING_POSITIONS));
    v.range(i.BatchSize, 'batchSize', 1, 10000);
    v.range(i.MaximumBatchingWindowInSeconds, 'maximumBatchingWindowInSeconds', 0, 300);
    const t = i.FunctionResponseTypes;
    if (t !== undefined && t !== null) {
      if (!Array.isArray(t) || t.some((x) => x !== 'ReportBatchItemFailures')) v.add(t, 'functionResponseTypes', rules.enumOf(['ReportBatchItemFailures']));
      else if (t.length > 1) v.add(t, 'functionResponseTypes', rules.maxLength(1));
    }
    const s = i.ScalingConfig;
    if (s && typeof s === 'object') v.range((s as Input).MaximumConcurrency, 'scalingConfig.maximumConcurrency', 2, 1000);
    const mc = i.MetricsConfig;
    if (mc !== undefined && mc !== null) {
      const m = typeof mc === 'object' ? (mc as Input).Metrics : undefined;
      if (typeof mc !== 'object' || Array.isArray(mc)) v.addUnvalued('metricsConfig', 'Member must be a structure');
      else if (m !== undefined && m !== null && !Array.isArray(m)) v.add(m, 'metricsConfig.metrics', 'Member must be a list');
      else if (Array.isArray(m)) {
        if (m.length > 3) v.add(m, 'metricsConfig.metrics', rules.maxLength(3));
        if (m.some((x) => !METRICS.includes(x as string))) v.add(m, 'metricsConfig.metrics', `Member must satisfy constraint: [${rules.enumOf(METRICS)}]`);
      }
    }
    const pc = i.ProvisionedPollerConfig;
    if (pc !== undefined && pc !== null) {
      if (typeof pc !== 'object' || Array.isArray(pc)) v.addUnvalued('provisionedPollerConfig', 'Member must be a structure');
      else {
        const p = pc as Input;
        v.range(p.MinimumPollers, 'provisionedPollerConfig.minimumPollers', 1, 200);
        v.range(p.MaximumPollers, 'provisionedPollerConfig.maximumPollers', 1, 2000);
        const g = p.PollerGroupName;
        if (g !== undefined && g !== null) {
          if (typeof g !== 'string' || !/^[a-zA-Z0-9-_]*$/.test(g)) v.add(g, 'provisionedPollerConfig.pollerGroupName', rules.pattern(POLLER_GROUP_NAME_TEXT));
          else if (g.length > 128) v.add(g, 'provisionedPollerConfig.pollerGroupName', rules.maxLength(128));
        }
      }
    }
    const k = i.KMSKeyArn;
    if (k !== undefined && k !== null && (typeof k !== 'string' || (k !== '' && !KMS_KEY_ARN.test(k)))) v.add(k, 'kMSKeyArn', rules.pattern(KMS_KEY_ARN_TEXT));
    v.throwIfAny();
  }

  async create(i: Input): Promise<Record<string, unknown>> {
    this.checkModel(i, true);
    const arn = this.recognizeSource(i.EventSourceArn);
    const fn = await this.resolveFunction(i.FunctionName, true);
    const src = await this.validateSource(arn);
    const config = this.validateConfig(i, { BatchSize: 10, MaximumBatchingWindowInSeconds: 0, FunctionResponseTypes: [] }, src.fifo);
    await this.checkVisibility(fn, src);
    if (i.Tags !== undefined && i.Tags !== null) config.Tags = validateTags(i.Tags);
    if (i.Enabled !== undefined && i.Enabled !== null && typeof i.Enabled !== 'boolean') throw Errors.invalidParameter('Enabled must be a boolean.');
    await this.refuseDuplicate(fn, src.arn);
    const now = this.deps.clock.now();
    const enabled = i.Enabled !== false;
    const m: MappingRecord = {
      uuid: randomUUID(), functionName: fn.name, eventSourceArn: src.arn, enabled, state: enabled ? 'Enabled' : 'Disabled',
      stateReason: 'USER_INITIATED', config, createdAt: now, lastModified: now,
    };
    if (fn.qualifier !== undefined) m.qualifier = fn.qualifier;
    await this.deps.store.create(m);
    await this.announce(m.uuid);
    return this.toWire(m, 'Creating');
  }

  /** The mappings' tags (TagResource, UntagResource, ListTags on an EventSourceMappingArn). */
  tagKeeper(): TagKeeper {
    const uuidOf = (arn: string) => arn.slice(arn.lastIndexOf(':') + 1);
    return {
      get: async (arn) => ({ ...(await this.mustGet(uuidOf(arn))).config.Tags }),
      update: async (arn, change) => {
        const m = await this.mustGet(uuidOf(arn));
        const tags = change({ ...m.config.Tags });
        if (!(await this.deps.store.put({ ...m, config: { ...m.config, Tags: tags } }))) throw Errors.resourceNotFound('The resource you requested does not exist.');
      },
    };
  }

  private async mustGet(uuid: unknown): Promise<MappingRecord> {
    const m = typeof uuid === 'string' ? await this.deps.store.get(uuid) : undefined;
    if (!m) throw Errors.resourceNotFound('The resource you requested does not exist.');
    return m;
  }

  async get(uuid: string): Promise<Record<string, unknown>> {
    return this.toWire(await this.mustGet(uuid));
  }

  async update(uuid: string, i: Input): Promise<Record<string, unknown>> {
    this.checkModel(i);
    const m = await this.mustGet(uuid);
    const src = await this.deps.sqs.queueByArn(m.eventSourceArn);
    const next: MappingRecord = { ...m, config: this.validateConfig(i, m.config, src?.fifo ?? false) };
    if (i.FunctionName !== undefined && i.FunctionName !== null) {
      const fn = await this.resolveFunction(i.FunctionName);
      if (src) await this.checkVisibility(fn, { visibilityTimeout: queueSettings(src.attributes).visibilityTimeout });
      // The function it moves to may already have a mapping for the queue: one per pair, as at creation.
      await this.refuseDuplicate(fn, m.eventSourceArn, uuid);
      next.functionName = fn.name;
      if (fn.qualifier !== undefined) next.qualifier = fn.qualifier;
      else delete next.qualifier;
    }
    let shown = 'Updating';
    if (i.Enabled !== undefined && i.Enabled !== null) {
      if (typeof i.Enabled !== 'boolean') throw Errors.invalidParameter('Enabled must be a boolean.');
      if (i.Enabled !== m.enabled) shown = i.Enabled ? 'Enabling' : 'Disabling';
      next.enabled = i.Enabled;
      next.state = i.Enabled ? 'Enabled' : 'Disabled';
    }
    next.stateReason = 'USER_INITIATED';
    next.lastModified = this.deps.clock.now();
    await this.deps.store.put(next);
    await this.announce(uuid);
    return this.toWire(next, shown);
  }

  async delete(uuid: string): Promise<Record<string, unknown>> {
    const m = await this.mustGet(uuid);
    await this.deps.store.delete(uuid);
    await this.announce(uuid);
    return this.toWire(m, 'Deleting');
  }

  async list(q: { FunctionName?: string; EventSourceArn?: string; Marker?: string; MaxItems?: string }): Promise<Record<string, unknown>> {
    const filter: { functionName?: string; qualifier?: string | null; eventSourceArn?: string } = {};
    if (q.FunctionName) {
      const ref = parseFunctionRef(q.FunctionName, this.deps.locale, 'NamespacedFunctionName');
      filter.functionName = ref.name;
      if (ref.qualifier !== undefined) filter.qualifier = ref.qualifier;
    }
    if (q.EventSourceArn) filter.eventSourceArn = q.EventSourceArn;
    // "ListEventSourceMappings returns a maximum of 100 items in each response, even if you set the number higher."
    const max = Math.min(100, maxItems(q.MaxItems, 100, 10000));
    const all = await this.deps.store.list(filter);
    let start = 0;
    if (q.Marker) {
      const at = all.findIndex((m) => m.uuid === q.Marker);
      if (at < 0) throw Errors.invalidParameter('Invalid Marker.');
      start = at;
    }
    const page = all.slice(start, start + max);
    const out: Record<string, unknown> = { EventSourceMappings: page.map((m) => this.toWire(m)) };
    if (start + max < all.length) out.NextMarker = all[start + max]!.uuid;
    return out;
  }

  /** EventSourceMappingConfiguration as Lambda returns it for an SQS source. */
  toWire(m: MappingRecord, shownState?: string): Record<string, unknown> {
    const { locale } = this.deps;
    const out: Record<string, unknown> = {
      UUID: m.uuid,
      BatchSize: m.config.BatchSize,
      MaximumBatchingWindowInSeconds: m.config.MaximumBatchingWindowInSeconds,
      EventSourceArn: m.eventSourceArn,
      FunctionArn: functionArn(locale, m.functionName, m.qualifier),
      LastModified: m.lastModified / 1000,
      State: shownState ?? m.state,
      StateTransitionReason: m.stateReason,
      FunctionResponseTypes: m.config.FunctionResponseTypes,
      EventSourceMappingArn: `arn:aws:lambda:${locale.region}:${locale.accountId}:event-source-mapping:${m.uuid}`,
    };
    if (m.config.FilterCriteria) out.FilterCriteria = m.config.FilterCriteria;
    if (m.config.ScalingConfig?.MaximumConcurrency) out.ScalingConfig = m.config.ScalingConfig;
    if (m.config.KMSKeyArn) out.KMSKeyArn = m.config.KMSKeyArn;
    if (m.config.MetricsConfig) out.MetricsConfig = m.config.MetricsConfig;
    if (m.config.ProvisionedPollerConfig) out.ProvisionedPollerConfig = m.config.ProvisionedPollerConfig;
    return out;
  }
}
