import { randomUUID } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { Errors, StratusError } from '../../core/errors.js';
import { matchesPattern, parseEventPattern, type CompiledPattern } from '../../core/event-pattern.js';
import type { Locale } from '../../core/model.js';
import { parseSchedule } from '../../core/schedule.js';
import { withoutKeys } from '../../core/tags.js';
import type { ChangeFeed, Clock, TargetDispatcher } from '../../ports/index.js';
import { ruleEnabled, type BusRecord, type EventsStore, type RuleRecord, type TargetSpec } from './store.js';
import { targetInput, validateTargetInput } from './transform.js';

export const DEFAULT_BUS = 'default';
export const CHANGE_TYPE = 'events';
const MAX_TARGETS_PER_RULE = 5;
const MAX_PUT_EVENTS_BYTES = 256 * 1024;

/** Deliveries that failed (EventBridge would retry them and count FailedInvocations). */
export const eventsChannel = diagnostics_channel.channel('stratus:events');

type Input = Record<string, unknown>;

interface CompiledRule {
  rule: RuleRecord;
  pattern: CompiledPattern;
  targets: TargetSpec[];
}

export interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  Resources?: unknown;
  Time?: unknown;
  EventBusName?: unknown;
  TraceHeader?: unknown;
}

export interface PutEventsResultEntry {
  EventId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

const notFound = (message: string) => new StratusError('ResourceNotFoundException', 400, message);
const exists = (message: string) => new StratusError('ResourceAlreadyExistsException', 400, message);
const limitExceeded = (message: string) => new StratusError('LimitExceededException', 400, message);

function constraint(value: unknown, field: string, rule: string): StratusError {
  return Errors.validation(`1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: ${rule}`);
}

/** A target's dead-letter queue: an SQS queue's ARN (EventBridge's DLQs are standard SQS queues). */
const SQS_ARN = /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$/;

function validateDeadLetterConfig(c: unknown): void {
  if (c === undefined || c === null) return;
  const arn = typeof c === 'object' && !Array.isArray(c) ? (c as Input).Arn : undefined;
  if (arn === undefined || arn === null) return;
  if (typeof arn !== 'string' || !SQS_ARN.test(arn)) {
    throw Errors.validation(`Parameter DeadLetterConfig.Arn is not valid. Reason: ${String(arn)} is not the ARN of an SQS standard queue.`);
  }
}

/** A target's RetryPolicy, in the model's ranges (attempts 0-185, event age 60-86400 s). */
function validateRetryPolicy(p: unknown): void {
  if (p === undefined || p === null) return;
  if (typeof p !== 'object' || Array.isArray(p)) throw Errors.validation('RetryPolicy must be an object');
  const ranges: Array<[string, string, number, number]> = [
    ['MaximumRetryAttempts', 'targets.member.retryPolicy.maximumRetryAttempts', 0, 185],
    ['MaximumEventAgeInSeconds', 'targets.member.retryPolicy.maximumEventAgeInSeconds', 60, 86400],
  ];
  for (const [key, field, min, max] of ranges) {
    const v = (p as Input)[key];
    if (v === undefined || v === null) continue;
    if (!Number.isInteger(v)) throw constraint(v, field, 'Member must be an integer');
    if ((v as number) < min) throw constraint(v, field, `Member must have value greater than or equal to ${min}`);
    if ((v as number) > max) throw constraint(v, field, `Member must have value less than or equal to ${max}`);
  }
}

function str(input: Input, key: string, field: string, opts: { required?: boolean; max?: number; pattern?: RegExp } = {}): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) {
    if (opts.required) throw constraint(null, field, 'Member must not be null');
    return undefined;
  }
  if (typeof v !== 'string') throw Errors.validation(`${key} must be a string`);
  if (opts.max !== undefined && v.length > opts.max) throw constraint(v, field, `Member must have length less than or equal to ${opts.max}`);
  if (opts.pattern && !opts.pattern.test(v)) throw constraint(v, field, `Member must satisfy regular expression pattern: ${opts.pattern.source.slice(1, -1)}`);
  return v;
}

const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
const BUS_NAME = /^[/.\-_A-Za-z0-9]{1,256}$/;
const TARGET_ID = /^[.\-_A-Za-z0-9]{1,64}$/;

function eventTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A Tags list (TagResource's, PutRule's, CreateEventBus's: Key 1 to 128 characters, Value 0 to 256) -> a map. */
function tagList(v: unknown, field: string, required: boolean): Record<string, string> {
  if (v === undefined || v === null) {
    if (required) throw constraint(null, field, 'Member must not be null');
    return {};
  }
  if (!Array.isArray(v)) throw Errors.validation('Tags must be a list');
  const out: Record<string, string> = {};
  v.forEach((t: { Key?: unknown; Value?: unknown } | null, i) => {
    const at = `${field}.${i + 1}.member`;
    const key = t?.Key;
    const value = t?.Value;
    if (key === undefined || key === null) throw constraint(null, `${at}.key`, 'Member must not be null');
    if (value === undefined || value === null) throw constraint(null, `${at}.value`, 'Member must not be null');
    if (typeof key !== 'string' || typeof value !== 'string') throw Errors.validation('Tag keys and values must be strings');
    if (key.length < 1) throw constraint(key, `${at}.key`, 'Member must have length greater than or equal to 1');
    if (key.length > 128) throw constraint(key, `${at}.key`, 'Member must have length less than or equal to 128');
    if (value.length > 256) throw constraint(value, `${at}.value`, 'Member must have length less than or equal to 256');
    out[key] = value;
  });
  return out;
}

/**
 * EventBridge: buses, rules (event patterns and schedules), targets, PutEvents. Matching runs
 * from a per-bus cache of compiled rules, invalidated through the change feed.
 */
export class EventsService {
  private readonly cache = new Map<string, Promise<CompiledRule[] | undefined>>();
  private unsubscribe: (() => void) | undefined;
  /** Called when schedule rules change (the scheduler reloads). */
  onScheduleChange: (() => void) | undefined;

  constructor(
    private readonly deps: { store: EventsStore; targets: TargetDispatcher; changes: ChangeFeed; locale: Locale; clock: Clock },
  ) {
    this.unsubscribe = deps.changes.subscribe((ev) => {
      if (ev.kind === 'resource' && ev.type === CHANGE_TYPE) {
        this.cache.delete(ev.id);
        this.onScheduleChange?.();
      } else if (ev.kind === 'resync') {
        this.cache.clear();
        this.onScheduleChange?.();
      }
    });
  }

  close(): void {
    this.unsubscribe?.();
  }

  async init(): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.ensureBus({ name: DEFAULT_BUS, description: null, tags: {}, createdAt: now, modifiedAt: now });
  }

  // ------------------------------------------------------------ names and ARNs

  busArn(name: string): string {
    return `arn:aws:events:${this.deps.locale.region}:${this.deps.locale.accountId}:event-bus/${name}`;
  }

  ruleArn(bus: string, name: string): string {
    const base = `arn:aws:events:${this.deps.locale.region}:${this.deps.locale.accountId}:rule/`;
    return bus === DEFAULT_BUS ? base + name : `${base}${bus}/${name}`;
  }

  /** A bus name or ARN (EventBusName parameters) -> the name. */
  busName(v: unknown, field = 'eventBusName'): string {
    if (v === undefined || v === null || v === '') return DEFAULT_BUS;
    if (typeof v !== 'string') throw Errors.validation('EventBusName must be a string');
    const arn = /^arn:aws[\w-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/(.+)$/.exec(v);
    if (arn) {
      if (arn[2] !== this.deps.locale.accountId || arn[1] !== this.deps.locale.region) throw notFound(`Event bus ${arn[3]} does not exist.`);
      return arn[3]!;
    }
    if (!BUS_NAME.test(v)) throw constraint(v, field, 'Member must satisfy regular expression pattern: (arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{12}:event-bus\\/)?[/\\.\\-_A-Za-z0-9]+');
    return v;
  }

  private async requireBus(name: string): Promise<BusRecord> {
    const b = await this.deps.store.getBus(name);
    if (!b) throw notFound(`Event bus ${name} does not exist.`);
    return b;
  }

  private async requireRule(bus: string, name: string): Promise<RuleRecord> {
    await this.requireBus(bus);
    const r = await this.deps.store.getRule(bus, name);
    if (!r) throw notFound(`Rule ${name} does not exist on EventBus ${bus}.`);
    return r;
  }

  private async changed(bus: string): Promise<void> {
    this.cache.delete(bus);
    await this.deps.changes.publish({ kind: 'resource', type: CHANGE_TYPE, id: bus });
  }

  // ------------------------------------------------------------ buses

  async createEventBus(input: Input): Promise<Input> {
    const name = str(input, 'Name', 'name', { required: true, pattern: BUS_NAME })!;
    if (input.EventSourceName !== undefined) throw Errors.validation('Partner event sources are not supported by Stratus.');
    // The model's pattern allows a slash for partner buses (aws.partner/...); a custom bus's name
    // has none, and EventBridge says so.
    if (name.includes('/')) throw Errors.validation("Event bus name must not contain '/'.");
    const description = str(input, 'Description', 'description', { max: 512 }) ?? null;
    const now = this.deps.clock.now();
    const ok = await this.deps.store.createBus({ name, description, tags: tagList(input.Tags, 'tags', false), createdAt: now, modifiedAt: now });
    if (!ok) throw exists(`Event bus ${name} already exists.`);
    await this.changed(name);
    const out: Input = { EventBusArn: this.busArn(name) };
    if (description) out.Description = description;
    return out;
  }

  async deleteEventBus(input: Input): Promise<Input> {
    const name = str(input, 'Name', 'name', { required: true, pattern: BUS_NAME })!;
    if (name === DEFAULT_BUS) throw Errors.validation('Cannot delete event bus default.');
    await this.deps.store.deleteBus(name);
    await this.changed(name);
    return {};
  }

  async describeEventBus(input: Input): Promise<Input> {
    const name = this.busName(input.Name, 'name');
    const b = await this.requireBus(name);
    return this.busView(b);
  }

  private busView(b: BusRecord): Input {
    const out: Input = { Name: b.name, Arn: this.busArn(b.name), CreationTime: b.createdAt / 1000, LastModifiedTime: b.modifiedAt / 1000 };
    if (b.description) out.Description = b.description;
    return out;
  }

  async listEventBuses(input: Input): Promise<Input> {
    const prefix = str(input, 'NamePrefix', 'namePrefix', { pattern: BUS_NAME });
    const limit = this.limit(input.Limit);
    const after = this.token(input.NextToken);
    const rows = await this.deps.store.listBuses(prefix, after, limit + 1);
    const page = rows.slice(0, limit);
    const out: Input = { EventBuses: page.map((b) => this.busView(b)) };
    if (rows.length > limit) out.NextToken = Buffer.from(page[page.length - 1]!.name).toString('base64url');
    return out;
  }

  private limit(v: unknown): number {
    if (v === undefined || v === null) return 100;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100) {
      throw constraint(v, 'limit', v !== undefined && Number(v) < 1 ? 'Member must have value greater than or equal to 1' : 'Member must have value less than or equal to 100');
    }
    return v;
  }

  private token(v: unknown): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.length === 0) throw Errors.validation('The NextToken is not valid.');
    return Buffer.from(v, 'base64url').toString('utf8');
  }

  // ------------------------------------------------------------ rules

  async putRule(input: Input): Promise<Input> {
    const name = str(input, 'Name', 'name', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    const pattern = str(input, 'EventPattern', 'eventPattern', { max: 4096 });
    const schedule = str(input, 'ScheduleExpression', 'scheduleExpression', { max: 256 });
    const state = input.State ?? 'ENABLED';
    const description = str(input, 'Description', 'description', { max: 512 }) ?? null;
    const roleArn = str(input, 'RoleArn', 'roleArn', { max: 1600 }) ?? null;
    if (state !== 'ENABLED' && state !== 'DISABLED' && state !== 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS') {
      throw constraint(state, 'state', 'Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]');
    }
    if (!pattern && !schedule) throw Errors.validation('Parameter(s) EventPattern or ScheduleExpression must be specified.');
    if (pattern) parseEventPattern(pattern);
    if (schedule) {
      parseSchedule(schedule);
      if (bus !== DEFAULT_BUS) throw Errors.validation('ScheduleExpression is supported only on the default event bus.');
    }
    await this.requireBus(bus);
    const existing = await this.deps.store.getRule(bus, name);
    const now = this.deps.clock.now();
    const sameSchedule = existing && existing.schedule === (schedule ?? null);
    await this.deps.store.putRule({
      bus,
      name,
      eventPattern: pattern ?? null,
      schedule: schedule ?? null,
      // Stored and answered as given: DescribeRule and ListRules say the state PutRule set.
      state,
      description,
      roleArn,
      // "If you are updating an existing rule, any tags you specify in the PutRule operation are
      // ignored" (PutRule): those go through TagResource and UntagResource.
      tags: existing ? existing.tags : tagList(input.Tags, 'tags', false),
      createdAt: existing?.createdAt ?? now,
      anchorAt: sameSchedule ? existing!.anchorAt : now,
      lastFireAt: sameSchedule ? existing!.lastFireAt : null,
    });
    await this.changed(bus);
    return { RuleArn: this.ruleArn(bus, name) };
  }

  private ruleView(r: RuleRecord): Input {
    const out: Input = { Name: r.name, Arn: this.ruleArn(r.bus, r.name), State: r.state, EventBusName: r.bus };
    if (r.eventPattern) out.EventPattern = r.eventPattern;
    if (r.schedule) out.ScheduleExpression = r.schedule;
    if (r.description) out.Description = r.description;
    if (r.roleArn) out.RoleArn = r.roleArn;
    return out;
  }

  async describeRule(input: Input): Promise<Input> {
    const name = str(input, 'Name', 'name', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    const r = await this.requireRule(bus, name);
    return { ...this.ruleView(r), CreatedBy: this.deps.locale.accountId };
  }

  async listRules(input: Input): Promise<Input> {
    const prefix = str(input, 'NamePrefix', 'namePrefix', { pattern: RULE_NAME });
    const bus = this.busName(input.EventBusName);
    await this.requireBus(bus);
    const limit = this.limit(input.Limit);
    const after = this.token(input.NextToken);
    const rows = await this.deps.store.listRules(bus, prefix, after, limit + 1);
    const page = rows.slice(0, limit);
    const out: Input = { Rules: page.map((r) => this.ruleView(r)) };
    if (rows.length > limit) out.NextToken = Buffer.from(page[page.length - 1]!.name).toString('base64url');
    return out;
  }

  async deleteRule(input: Input): Promise<Input> {
    const name = str(input, 'Name', 'name', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    await this.requireBus(bus);
    const r = await this.deps.store.getRule(bus, name);
    if (!r) return {};
    if ((await this.deps.store.countTargets(bus, name)) > 0) throw Errors.validation("Rule can't be deleted since it has targets.");
    await this.deps.store.deleteRule(bus, name);
    await this.changed(bus);
    return {};
  }

  async setRuleState(input: Input, state: 'ENABLED' | 'DISABLED'): Promise<Input> {
    const name = str(input, 'Name', 'name', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    const r = await this.requireRule(bus, name);
    // EnableRule on a rule that is already enabled (with CloudTrail management events or not)
    // leaves it as it is; DisableRule always disables.
    if (state === 'ENABLED' && ruleEnabled(r.state)) return {};
    await this.deps.store.setRuleState(bus, name, state);
    await this.changed(bus);
    return {};
  }

  // ------------------------------------------------------------ targets

  async putTargets(input: Input): Promise<Input> {
    const rule = str(input, 'Rule', 'rule', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    const targets = input.Targets;
    if (!Array.isArray(targets) || targets.length < 1 || targets.length > 100) {
      throw constraint(targets === undefined ? null : '[...]', 'targets', 'Member must have length between 1 and 100');
    }
    await this.requireRule(bus, rule);
    const specs: TargetSpec[] = [];
    const failed: Input[] = [];
    const ids = new Set<string>();
    for (const t of targets as Input[]) {
      const id = str(t, 'Id', 'targets.member.id', { required: true, pattern: TARGET_ID })!;
      const arn = str(t, 'Arn', 'targets.member.arn', { required: true, max: 1600 })!;
      if (ids.has(id)) throw Errors.validation(`The request contains duplicate target ids: ${id}`);
      ids.add(id);
      validateTargetInput({ Id: id, Input: t.Input, InputPath: t.InputPath, InputTransformer: t.InputTransformer });
      validateRetryPolicy(t.RetryPolicy);
      validateDeadLetterConfig(t.DeadLetterConfig);
      if (!this.deps.targets.serves(arn)) {
        failed.push({ TargetId: id, ErrorCode: 'ValidationException', ErrorMessage: `Stratus cannot deliver to ${arn}: no service serves this ARN` });
        continue;
      }
      specs.push({ ...t, Id: id, Arn: arn });
    }
    const current = await this.deps.store.listTargets(bus, rule);
    const after = new Set([...current.map((c) => c.spec.Id), ...specs.map((s) => s.Id)]);
    if (after.size > MAX_TARGETS_PER_RULE) throw limitExceeded(`The requested resource exceeds the maximum number allowed (${MAX_TARGETS_PER_RULE} targets per rule).`);
    if (specs.length) {
      await this.deps.store.putTargets(bus, rule, specs, this.deps.clock.now());
      await this.changed(bus);
    }
    return { FailedEntryCount: failed.length, FailedEntries: failed };
  }

  async removeTargets(input: Input): Promise<Input> {
    const rule = str(input, 'Rule', 'rule', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    const ids = input.Ids;
    if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100 || !ids.every((i) => typeof i === 'string')) {
      throw constraint(ids === undefined ? null : '[...]', 'ids', 'Member must have length between 1 and 100');
    }
    await this.requireRule(bus, rule);
    await this.deps.store.removeTargets(bus, rule, ids as string[]);
    await this.changed(bus);
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  async listTargetsByRule(input: Input): Promise<Input> {
    const rule = str(input, 'Rule', 'rule', { required: true, pattern: RULE_NAME })!;
    const bus = this.busName(input.EventBusName);
    await this.requireRule(bus, rule);
    const limit = this.limit(input.Limit);
    const after = this.token(input.NextToken);
    const all = await this.deps.store.listTargets(bus, rule);
    const start = after === undefined ? 0 : all.findIndex((t) => t.spec.Id === after) + 1;
    const page = all.slice(start, start + limit);
    const out: Input = { Targets: page.map((t) => t.spec) };
    if (start + limit < all.length) out.NextToken = Buffer.from(page[page.length - 1]!.spec.Id).toString('base64url');
    return out;
  }

  async listRuleNamesByTarget(input: Input): Promise<Input> {
    const arn = str(input, 'TargetArn', 'targetArn', { required: true, max: 1600 })!;
    const bus = this.busName(input.EventBusName);
    const rows = await this.deps.store.rulesByTargetArn(arn);
    return { RuleNames: rows.filter((r) => r.bus === bus).map((r) => r.rule) };
  }

  // ------------------------------------------------------------ tags

  /** A rule's or a bus's ARN (the resources EventBridge tags) -> which one. */
  private taggable(input: Input): { bus: string; rule?: string } {
    const arn = str(input, 'ResourceARN', 'resourceARN', { required: true, max: 1600 })!;
    const m = /^arn:aws[\w-]*:events:([a-z0-9-]+):(\d{12}):(event-bus|rule)\/(.+)$/.exec(arn);
    if (!m) throw Errors.validation('Parameter ResourceARN is not valid.');
    const [region, account, kind, path] = [m[1]!, m[2]!, m[3]!, m[4]!];
    // A rule of the default bus is rule/NAME, of another bus rule/BUS/NAME.
    const slash = path.indexOf('/');
    const bus = kind === 'event-bus' ? path : slash < 0 ? DEFAULT_BUS : path.slice(0, slash);
    const rule = kind === 'rule' ? path.slice(slash + 1) : undefined;
    if (account !== this.deps.locale.accountId || region !== this.deps.locale.region) {
      throw notFound(rule === undefined ? `Event bus ${bus} does not exist.` : `Rule ${rule} does not exist on EventBus ${bus}.`);
    }
    return { bus, rule };
  }

  private async updateTags(input: Input, change: (tags: Record<string, string>) => Record<string, string>): Promise<Record<string, string>> {
    const { bus, rule } = this.taggable(input);
    const tags = await this.deps.store.updateTags(bus, rule, change);
    if (tags) return tags;
    // Says which is missing, the bus or the rule, as ListTagsForResource does.
    if (rule === undefined) await this.requireBus(bus);
    else await this.requireRule(bus, rule);
    // Deleted and created again meanwhile: missing all the same for this request.
    throw notFound(rule === undefined ? `Event bus ${bus} does not exist.` : `Rule ${rule} does not exist on EventBus ${bus}.`);
  }

  async tagResource(input: Input): Promise<Input> {
    const tags = tagList(input.Tags, 'tags', true);
    await this.updateTags(input, (had) => ({ ...had, ...tags }));
    return {};
  }

  async untagResource(input: Input): Promise<Input> {
    const keys = input.TagKeys;
    if (keys === undefined || keys === null) throw constraint(null, 'tagKeys', 'Member must not be null');
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw Errors.validation('TagKeys must be a list of strings');
    keys.forEach((k: string, i) => {
      if (k.length < 1) throw constraint(k, `tagKeys.${i + 1}.member`, 'Member must have length greater than or equal to 1');
      if (k.length > 128) throw constraint(k, `tagKeys.${i + 1}.member`, 'Member must have length less than or equal to 128');
    });
    await this.updateTags(input, (had) => withoutKeys(had, keys));
    return {};
  }

  async listTagsForResource(input: Input): Promise<Input> {
    const { bus, rule } = this.taggable(input);
    const { tags } = rule === undefined ? await this.requireBus(bus) : await this.requireRule(bus, rule);
    return { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
  }

  testEventPattern(input: Input): Input {
    const pattern = str(input, 'EventPattern', 'eventPattern', { required: true, max: 4096 })!;
    const eventText = str(input, 'Event', 'event', { required: true })!;
    let event: unknown;
    try {
      event = JSON.parse(eventText);
    } catch {
      throw Errors.validation('Parameter Event is not valid.');
    }
    if (!event || typeof event !== 'object' || Array.isArray(event)) throw Errors.validation('Parameter Event is not valid.');
    for (const f of ['id', 'account', 'source', 'time', 'region', 'detail-type']) {
      if (!(f in (event as object))) throw Errors.validation(`Parameter Event is not valid. Reason: Provided Event is missing required field: ${f}`);
    }
    return { Result: matchesPattern(parseEventPattern(pattern), event) };
  }

  // ------------------------------------------------------------ events

  async putEvents(input: Input): Promise<Input> {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
      throw constraint(entries === undefined ? null : '[...]', 'entries', 'Member must have length less than or equal to 10');
    }
    const size = entries.reduce((n: number, e: PutEventsEntry) => n + entrySize(e), 0);
    if (size > MAX_PUT_EVENTS_BYTES) throw Errors.validation('Total size of the entries in the request is over the limit.');
    // AWS services' own sources (aws.*): no caller of PutEvents may put events as one, whatever its
    // permissions. (Events Stratus forwards from bus to bus keep theirs: see putEvent's other caller.)
    const results = await Promise.all((entries as PutEventsEntry[]).map((e) => (typeof e.Source === 'string' && e.Source.startsWith('aws.')
      ? { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' }
      : this.putEvent(e))));
    return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
  }

  /** One entry: validate, build the envelope, match the bus's rules, deliver to their targets. */
  async putEvent(e: PutEventsEntry): Promise<PutEventsResultEntry> {
    if (typeof e.Source !== 'string' || e.Source === '') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' };
    }
    if (typeof e.DetailType !== 'string' || e.DetailType === '') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' };
    }
    if (typeof e.Detail !== 'string' || e.Detail === '') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(e.Detail);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (!detail || typeof detail !== 'object' || Array.isArray(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    let bus: string;
    try {
      bus = this.busName(e.EventBusName);
    } catch (err) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: (err as Error).message };
    }
    const rules = await this.compiled(bus);
    if (!rules) return { ErrorCode: 'InvalidArgument', ErrorMessage: `Event bus ${bus} does not exist.` };
    const now = this.deps.clock.now();
    const time = typeof e.Time === 'number' ? e.Time * 1000 : typeof e.Time === 'string' && !Number.isNaN(Date.parse(e.Time)) ? Date.parse(e.Time) : now;
    const event: Record<string, unknown> = {
      version: '0',
      id: randomUUID(),
      'detail-type': e.DetailType,
      source: e.Source,
      account: this.deps.locale.accountId,
      time: eventTime(time),
      region: this.deps.locale.region,
      resources: Array.isArray(e.Resources) ? e.Resources.filter((r) => typeof r === 'string') : [],
      detail,
    };
    await this.dispatch(rules, event, now);
    return { EventId: event.id as string };
  }

  /** Delivers `event` to the targets of every enabled rule it matches. */
  private async dispatch(rules: CompiledRule[], event: Record<string, unknown>, now: number): Promise<void> {
    const deliveries: Promise<void>[] = [];
    for (const r of rules) {
      if (!ruleEnabled(r.rule.state) || r.targets.length === 0) continue;
      if (!matchesPattern(r.pattern, event)) continue;
      deliveries.push(this.deliverRule(r.rule, r.targets, event, now));
    }
    await Promise.all(deliveries);
  }

  /** Sends one event to one rule's targets (also used by the scheduler). */
  async deliverRule(rule: RuleRecord, targets: TargetSpec[], event: Record<string, unknown>, now: number): Promise<void> {
    const ctx = { ruleArn: this.ruleArn(rule.bus, rule.name), ruleName: rule.name, ingestionTime: eventTime(now) };
    await Promise.all(
      targets.map(async (t) => {
        try {
          const body = targetInput(t, event, ctx);
          const msg: { body: string; invocationType: 'Event'; messageGroupId?: string } = { body, invocationType: 'Event' };
          const group = (t.SqsParameters as { MessageGroupId?: unknown } | undefined)?.MessageGroupId;
          if (typeof group === 'string') msg.messageGroupId = group;
          await this.deps.targets.deliver(t.Arn, msg);
        } catch (err) {
          if (eventsChannel.hasSubscribers) {
            eventsChannel.publish({ type: 'delivery-failed', rule: ctx.ruleArn, target: t.Arn, eventId: event.id, error: (err as Error).message });
          }
          await this.deadLetter(t, event, ctx.ruleArn, err as Error);
        }
      }),
    );
  }

  /**
   * An event its target could not take (a missing function or queue, a refused input: errors
   * EventBridge does not retry) goes to the target's DeadLetterConfig queue, when it has one, as
   * EventBridge sends it: the event, with the attributes RULE_ARN, TARGET_ARN, ERROR_CODE,
   * ERROR_MESSAGE and RETRY_ATTEMPTS. Without one it is dropped, as there.
   */
  private async deadLetter(t: TargetSpec, event: Record<string, unknown>, ruleArn: string, err: Error): Promise<void> {
    const dlq = (t.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn;
    if (typeof dlq !== 'string' || !SQS_ARN.test(dlq)) return;
    const name = (err as { name?: string }).name;
    const code = name === 'ResourceNotFoundException' || name === 'QueueDoesNotExist' ? 'RESOURCE_NOT_FOUND' : 'SDK_CLIENT_ERROR';
    try {
      await this.deps.targets.deliver(dlq, {
        body: JSON.stringify(event),
        attributes: { RULE_ARN: ruleArn, TARGET_ARN: t.Arn, ERROR_CODE: code, ERROR_MESSAGE: err.message, RETRY_ATTEMPTS: '0' },
      });
    } catch (e) {
      if (eventsChannel.hasSubscribers) {
        eventsChannel.publish({ type: 'dead-letter-failed', rule: ruleArn, target: t.Arn, eventId: event.id, error: (e as Error).message });
      }
    }
  }

  /** Enabled pattern rules of a bus with their targets; undefined when the bus does not exist. */
  private async compiled(bus: string): Promise<CompiledRule[] | undefined> {
    let p = this.cache.get(bus);
    if (!p) {
      p = this.load(bus);
      this.cache.set(bus, p);
      // Unknown buses and failed loads are not cached.
      p.then((r) => r === undefined && this.cache.get(bus) === p && this.cache.delete(bus), () => this.cache.delete(bus));
    }
    return p;
  }

  private async load(bus: string): Promise<CompiledRule[] | undefined> {
    const b = await this.deps.store.getBus(bus);
    if (!b) return undefined;
    const [rules, targets] = await Promise.all([this.deps.store.rulesOfBus(bus), this.deps.store.targetsOfBus(bus)]);
    const out: CompiledRule[] = [];
    for (const rule of rules) {
      if (!rule.eventPattern) continue;
      let pattern: CompiledPattern;
      try {
        pattern = parseEventPattern(rule.eventPattern);
      } catch {
        continue;
      }
      out.push({ rule, pattern, targets: targets.filter((t) => t.rule === rule.name).map((t) => t.spec) });
    }
    return out;
  }

  /** For the 'events' delivery target (destinations, bus-to-bus): put one event onto the bus an ARN names. */
  async deliverToBus(arn: string, message: { body: string; event?: { source: string; detailType: string; resources?: string[] } }): Promise<void> {
    const bus = this.busName(arn);
    let entry: PutEventsEntry;
    if (message.event) {
      entry = { Source: message.event.source, DetailType: message.event.detailType, Detail: message.body, Resources: message.event.resources ?? [], EventBusName: bus };
    } else {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(message.body);
      } catch {
        throw Errors.validation('Event bus targets need an event (JSON with source, detail-type and detail).');
      }
      entry = {
        Source: ev.source,
        DetailType: ev['detail-type'],
        Detail: JSON.stringify(ev.detail ?? {}),
        Resources: ev.resources,
        EventBusName: bus,
        ...(typeof ev.time === 'string' ? { Time: ev.time } : {}),
      };
    }
    const res = await this.putEvent(entry);
    if (res.ErrorCode) {
      throw res.ErrorMessage?.includes('does not exist') ? Errors.resourceNotFound(res.ErrorMessage) : Errors.validation(res.ErrorMessage ?? res.ErrorCode);
    }
  }

  /** Rules with a schedule (the scheduler's list). */
  scheduledRules(): Promise<RuleRecord[]> {
    return this.deps.store.scheduledRules();
  }

  targetsOf(rule: RuleRecord): Promise<TargetSpec[]> {
    return this.deps.store.listTargets(rule.bus, rule.name).then((ts) => ts.map((t) => t.spec));
  }

  claimFire(rule: RuleRecord, at: number): Promise<boolean> {
    return this.deps.store.claimFire(rule.bus, rule.name, rule.lastFireAt, at);
  }

  /** EventBridge's "Scheduled Event". */
  scheduledEvent(rule: RuleRecord, at: number): Record<string, unknown> {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: this.deps.locale.accountId,
      time: eventTime(at),
      region: this.deps.locale.region,
      resources: [this.ruleArn(rule.bus, rule.name)],
      detail: {},
    };
  }
}

function entrySize(e: PutEventsEntry): number {
  let n = 0;
  for (const k of ['Source', 'DetailType', 'Detail'] as const) if (typeof e[k] === 'string') n += Buffer.byteLength(e[k] as string);
  if (Array.isArray(e.Resources)) for (const r of e.Resources) if (typeof r === 'string') n += Buffer.byteLength(r);
  return n + (e.Time !== undefined ? 14 : 0);
}
