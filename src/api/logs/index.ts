import { StratusError } from '../../core/errors.js';
import { DAY_MS, expiredBefore } from '../../core/log-retention.js';
import type { Locale } from '../../core/model.js';
import { withoutKeys } from '../../core/tags.js';
import type { Clock } from '../../ports/clock.js';
import type { LogEvent, LogGroupInfo, LogGroupSettings, LogStore, LogStreamInfo, StoredLogEvent } from '../../ports/logs.js';
import type { JsonTargetService } from '../json-target.js';
import { compileFilterPattern } from './filter-pattern.js';
import {
  LOG_GROUP_IDENTIFIER, LOG_GROUP_NAME, LOG_GROUP_PATTERN, LOG_STREAM_NAME, LogsErrors, MAX_TAGS, Params, RETENTION_DAYS, TAG_KEY, TAG_VALUE,
} from './params.js';
import { eventsToken, filterToken, listToken, parseEventsToken, parseFilterToken, parseListToken } from './tokens.js';

export { compileFilterPattern } from './filter-pattern.js';

/** LogGroupClass's values. */
const LOG_GROUP_CLASSES = ['STANDARD', 'INFREQUENT_ACCESS', 'DELIVERY'] as const;

export interface LogsApiDeps {
  store: LogStore;
  /** The buffer in front of the store: reads flush it first (read-your-writes). */
  service: { flush(): Promise<void> };
  clock: Clock;
  locale: Locale;
}

/** A response carries at most this many bytes of events (each counted as message + 26 bytes). */
export const MAX_RESPONSE_EVENT_BYTES = 1024 * 1024;
/** PutLogEvents batch limit, counted the same way. */
export const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;
const TOO_NEW_MS = 2 * 3600_000;
const TOO_OLD_MS = 14 * DAY_MS;

type Input = Record<string, unknown>;

/**
 * CloudWatch Logs over AWS JSON 1.1 (X-Amz-Target: Logs_20140328.<Operation>), as botocore's
 * logs 2014-03-28 model names the operations, their shapes and errors. Enough for the AWS SDK,
 * the AWS CLI (`aws logs filter-log-events`, `get-log-events`, v2's `aws logs tail`) and
 * tools that write logs (PutLogEvents).
 */
export function logsJsonService(deps: LogsApiDeps): JsonTargetService {
  const { store, service, clock, locale } = deps;
  const groupArn = (name: string) => `arn:aws:logs:${locale.region}:${locale.accountId}:log-group:${name}`;

  async function requireGroup(name: string): Promise<LogGroupInfo> {
    const g = await store.getGroup(name);
    if (!g) throw LogsErrors.groupNotFound();
    return g;
  }

  async function findStream(group: string, stream: string): Promise<LogStreamInfo | undefined> {
    // The exact name sorts first among the names it prefixes.
    const [s] = await store.describeStreams(group, { prefix: stream, orderBy: 'LogStreamName', descending: false, offset: 0, limit: 1 });
    return s && s.logStreamName === stream ? s : undefined;
  }

  /** logGroupName, or logGroupIdentifier (a name or a log group ARN, with or without ":*"). */
  function groupParam(p: Params): string {
    const name = p.string('logGroupName', LOG_GROUP_NAME);
    const id = p.string('logGroupIdentifier', LOG_GROUP_IDENTIFIER);
    p.check();
    if (name !== undefined && id !== undefined) {
      throw LogsErrors.invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
    }
    if (name !== undefined) return name;
    if (id === undefined) {
      throw LogsErrors.invalidParameter('Either logGroupName or logGroupIdentifier must be specified.');
    }
    if (!id.startsWith('arn:')) return id;
    const named = groupOfArn(id);
    if (named === undefined) throw LogsErrors.invalidParameter(`Invalid logGroupIdentifier: ${id}`);
    return named;
  }

  /** The log group a log group ARN (with or without ":*") names; undefined for another ARN. */
  function groupOfArn(arn: string): string | undefined {
    const m = /^arn:[^:]+:logs:([^:]*):([^:]*):log-group:([^:]+)(?::\*)?$/.exec(arn);
    if (!m) return undefined;
    if (m[1] !== locale.region || m[2] !== locale.accountId) throw LogsErrors.groupNotFound();
    return m[3]!;
  }

  /**
   * TagResource and friends: the log group of `resourceArn` (the only resource here with tags).
   * The tagging operations take the log group's ARN without ":*" (logGroupArn, not arn, in
   * DescribeLogGroups); CloudWatch answers "Invalid resourceArn" to the ":*" form, and so to
   * anything else that is not a log group's ARN.
   */
  function resourceParam(p: Params): string {
    const arn = p.string('resourceArn', { required: true, min: 1, max: 1011 })!;
    p.check();
    if (arn.endsWith(':*')) throw LogsErrors.invalidResourceArn();
    const name = groupOfArn(arn);
    if (name === undefined) throw LogsErrors.invalidResourceArn();
    return name;
  }

  const tagsParam = (p: Params, field: string, required: boolean) =>
    p.stringMap(field, { required, min: 1, max: MAX_TAGS, key: TAG_KEY, value: TAG_VALUE });

  /**
   * Adds or replaces tags (TagResource, TagLogGroup): at most 50 on a group, counting those it
   * has. TagResource says so with TooManyTagsException; TagLogGroup's model has no such error.
   */
  async function tag(group: string, tags: Record<string, string>, legacy = false): Promise<Record<string, never>> {
    const after = await store.updateTags(group, (had) => {
      const merged = { ...had, ...tags };
      if (Object.keys(merged).length > MAX_TAGS) {
        const e = LogsErrors.tooManyTags(groupArn(group));
        throw legacy ? LogsErrors.invalidParameter(e.message) : e;
      }
      return merged;
    });
    if (!after) throw LogsErrors.groupNotFound();
    return {};
  }

  async function untag(group: string, keys: string[]): Promise<Record<string, never>> {
    const after = await store.updateTags(group, (had) => withoutKeys(had, keys));
    if (!after) throw LogsErrors.groupNotFound();
    return {};
  }

  async function listTags(group: string): Promise<{ tags: Record<string, string> }> {
    const tags = await store.getTags(group);
    if (!tags) throw LogsErrors.groupNotFound();
    return { tags };
  }

  const toGroup = (g: LogGroupInfo) => {
    const out: Record<string, unknown> = {
      logGroupName: g.logGroupName,
      creationTime: g.creationTime,
      metricFilterCount: 0,
      arn: `${groupArn(g.logGroupName)}:*`,
      storedBytes: g.storedBytes,
      logGroupClass: g.logGroupClass,
      logGroupArn: groupArn(g.logGroupName),
    };
    if (g.retentionInDays !== null) out.retentionInDays = g.retentionInDays;
    if (g.kmsKeyId !== null) out.kmsKeyId = g.kmsKeyId;
    return out;
  };

  const toStream = (group: string, s: LogStreamInfo) => {
    const out: Record<string, unknown> = { logStreamName: s.logStreamName, creationTime: s.creationTime };
    if (s.firstEventTimestamp !== null) out.firstEventTimestamp = s.firstEventTimestamp;
    if (s.lastEventTimestamp !== null) out.lastEventTimestamp = s.lastEventTimestamp;
    if (s.lastIngestionTime !== null) out.lastIngestionTime = s.lastIngestionTime;
    out.uploadSequenceToken = sequenceToken(s);
    out.arn = `${groupArn(group)}:log-stream:${s.logStreamName}`;
    // "Starting on June 17, 2019, this parameter will be deprecated for log streams, and will be
    // reported as zero." (the model); the group's storedBytes still counts them.
    out.storedBytes = 0;
    return out;
  };

  const ops: Record<string, (input: Input) => Promise<unknown>> = {
    async CreateLogGroup(input) {
      const p = new Params(input);
      const name = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const logGroupClass = p.enumOf('logGroupClass', LOG_GROUP_CLASSES);
      const kmsKeyId = p.string('kmsKeyId', { max: 256 });
      const tags = tagsParam(p, 'tags', false);
      p.check();
      const settings: LogGroupSettings = {};
      if (logGroupClass !== undefined) settings.logGroupClass = logGroupClass;
      if (kmsKeyId !== undefined) settings.kmsKeyId = kmsKeyId;
      if (!(await store.createGroup(name, clock.now(), tags, settings))) throw LogsErrors.groupExists();
      return {};
    },

    async TagResource(input) {
      const p = new Params(input);
      const tags = tagsParam(p, 'tags', true)!;
      return tag(resourceParam(p), tags);
    },

    async UntagResource(input) {
      const p = new Params(input);
      const keys = p.stringList('tagKeys', { min: 0, max: MAX_TAGS, item: TAG_KEY, required: true });
      return untag(resourceParam(p), keys ?? []);
    },

    async ListTagsForResource(input) {
      return listTags(resourceParam(new Params(input)));
    },

    // The log-group-named forms, "on the path to deprecation" but still answered by CloudWatch.
    async TagLogGroup(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const tags = tagsParam(p, 'tags', true)!;
      p.check();
      return tag(group, tags, true);
    },

    async UntagLogGroup(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const keys = p.stringList('tags', { min: 1, item: TAG_KEY, required: true });
      p.check();
      return untag(group, keys ?? []);
    },

    async ListTagsLogGroup(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      p.check();
      return listTags(group);
    },

    async DeleteLogGroup(input) {
      const p = new Params(input);
      const name = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      p.check();
      if (!(await store.deleteGroup(name))) throw LogsErrors.groupNotFound();
      return {};
    },

    async DescribeLogGroups(input) {
      const p = new Params(input);
      const prefix = p.string('logGroupNamePrefix', LOG_GROUP_NAME);
      const pattern = p.string('logGroupNamePattern', LOG_GROUP_PATTERN);
      const token = p.string('nextToken', { min: 1 });
      const limit = p.integer('limit', { min: 1, max: 50 }) ?? 50;
      const identifiers = p.stringList('logGroupIdentifiers', { min: 1, max: 50, item: { min: 1, max: 2048 } });
      const logClass = p.enumOf('logGroupClass', LOG_GROUP_CLASSES);
      p.check();
      if (prefix !== undefined && pattern !== undefined) {
        throw LogsErrors.invalidParameter('LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');
      }
      if (identifiers !== undefined && (prefix !== undefined || pattern !== undefined)) {
        throw LogsErrors.invalidParameter('logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern.');
      }
      let after = token === undefined ? undefined : parseListToken(token, 'groups');
      let groups: LogGroupInfo[];
      if (identifiers !== undefined) {
        // Names (or this account's ARNs), in name order, paged as the rest.
        const names = [...new Set(identifiers.map((x) => (x.startsWith('arn:') ? groupOfArn(x) ?? x : x)))].sort();
        groups = [];
        for (const name of names) {
          if (after !== undefined && name <= after) continue;
          const g = await store.getGroup(name);
          if (g && (logClass === undefined || g.logGroupClass === logClass)) groups.push(g);
          if (groups.length > limit) break;
        }
      } else if (pattern || logClass) {
        // A case-insensitive substring of the name, a class: scanned page by page.
        const needle = pattern?.toLowerCase();
        const wanted = (g: LogGroupInfo) => (needle === undefined || g.logGroupName.toLowerCase().includes(needle)) && (logClass === undefined || g.logGroupClass === logClass);
        groups = [];
        for (;;) {
          const page = await store.describeGroups(prefix, after, 500);
          for (const g of page) if (wanted(g)) groups.push(g);
          if (page.length < 500 || groups.length > limit) break;
          after = page[page.length - 1]!.logGroupName;
        }
        groups = groups.slice(0, limit + 1);
      } else {
        groups = await store.describeGroups(prefix, after, limit + 1);
      }
      const more = groups.length > limit;
      const page = groups.slice(0, limit);
      // With a name pattern, only arn, creationTime and logGroupName are included (the model says so).
      const shown = page.map((g) => {
        const full = toGroup(g);
        return pattern ? { logGroupName: full.logGroupName, creationTime: full.creationTime, arn: full.arn } : full;
      });
      const out: Record<string, unknown> = { logGroups: shown };
      if (more) out.nextToken = listToken('groups', page[page.length - 1]!.logGroupName);
      return out;
    },

    async CreateLogStream(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const stream = p.string('logStreamName', { required: true, ...LOG_STREAM_NAME })!;
      p.check();
      await requireGroup(group);
      if (!(await store.createStream(group, stream, clock.now()))) throw LogsErrors.streamExists();
      return {};
    },

    async DeleteLogStream(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const stream = p.string('logStreamName', { required: true, ...LOG_STREAM_NAME })!;
      p.check();
      await requireGroup(group);
      if (!(await store.deleteStream(group, stream))) throw LogsErrors.streamNotFound();
      return {};
    },

    async DescribeLogStreams(input) {
      const p = new Params(input);
      const group = groupParam(p);
      const prefix = p.string('logStreamNamePrefix', LOG_STREAM_NAME);
      const orderBy = p.enumOf('orderBy', ['LogStreamName', 'LastEventTime'] as const) ?? 'LogStreamName';
      const descending = p.boolean('descending') ?? false;
      const token = p.string('nextToken', { min: 1 });
      const limit = p.integer('limit', { min: 1, max: 50 }) ?? 50;
      p.check();
      if (orderBy === 'LastEventTime' && prefix !== undefined) {
        throw LogsErrors.invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
      }
      const offset = token === undefined ? 0 : parseListToken(token, 'streams');
      await requireGroup(group);
      const streams = await store.describeStreams(group, { prefix, orderBy, descending, offset, limit: limit + 1 });
      const page = streams.slice(0, limit);
      const out: Record<string, unknown> = { logStreams: page.map((s) => toStream(group, s)) };
      if (streams.length > limit) out.nextToken = listToken('streams', offset + limit);
      return out;
    },

    async PutRetentionPolicy(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const days = p.integer('retentionInDays', { required: true });
      if (days !== undefined && !RETENTION_DAYS.includes(days)) {
        p.violation(days, 'retentionInDays', `satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`);
      }
      p.check();
      if (!(await store.putRetention(group, days!))) throw LogsErrors.groupNotFound();
      return {};
    },

    async DeleteRetentionPolicy(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      p.check();
      if (!(await store.putRetention(group, null))) throw LogsErrors.groupNotFound();
      return {};
    },

    async PutLogEvents(input) {
      const p = new Params(input);
      const group = p.string('logGroupName', { required: true, ...LOG_GROUP_NAME })!;
      const stream = p.string('logStreamName', { required: true, ...LOG_STREAM_NAME })!;
      p.string('sequenceToken', { min: 1 }); // accepted and ignored, as CloudWatch does now
      const raw = input.logEvents;
      if (raw === undefined || raw === null) p.violation(raw, 'logEvents', 'not be null');
      else if (!Array.isArray(raw)) throw LogsErrors.serialization("Expected a list for 'logEvents'");
      const list = Array.isArray(raw) ? raw : [];
      if (Array.isArray(raw) && list.length < 1) p.violation('', 'logEvents', 'have length greater than or equal to 1');
      if (list.length > 10_000) p.violation(`[${list.length} events]`, 'logEvents', 'have length less than or equal to 10000');
      const events: LogEvent[] = [];
      list.forEach((e: unknown, i) => {
        const ev = (e ?? {}) as Record<string, unknown>;
        const ts = ev.timestamp;
        const message = ev.message;
        const at = `logEvents.${i + 1}.member`;
        if (ts === undefined || ts === null) p.violation(ts, `${at}.timestamp`, 'not be null');
        else if (typeof ts !== 'number' || !Number.isFinite(ts)) throw LogsErrors.serialization(`Expected a number for '${at}.timestamp'`);
        else if (ts < 0) p.violation(ts, `${at}.timestamp`, 'have value greater than or equal to 0');
        if (message === undefined || message === null) p.violation(message, `${at}.message`, 'not be null');
        else if (typeof message !== 'string') throw LogsErrors.serialization(`Expected a string for '${at}.message'`);
        else if (message.length < 1) p.violation(message, `${at}.message`, 'have length greater than or equal to 1');
        events.push({ timestamp: Math.trunc(Number(ts)), message: String(message ?? '') });
      });
      p.check();
      let total = 0;
      for (let i = 0; i < events.length; i++) {
        const size = Buffer.byteLength(events[i]!.message) + EVENT_OVERHEAD;
        if (size > MAX_BATCH_BYTES) throw LogsErrors.invalidParameter(`Log event too large: ${size} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
        total += size;
        if (i > 0 && events[i]!.timestamp < events[i - 1]!.timestamp) {
          throw LogsErrors.invalidParameter('Log events in a single PutLogEvents request must be in chronological order.');
        }
      }
      if (total > MAX_BATCH_BYTES) throw LogsErrors.invalidParameter(`Upload too large: ${total} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
      // "For valid events (within 14 days in the past to 2 hours in future), the time span in a
      // single batch cannot exceed 24 hours" (PutLogEvents): those rejected for their age below
      // do not count. The events are in order: the first and the last valid ones tell the span.
      const now = clock.now();
      const valid = events.filter((e) => e.timestamp <= now + TOO_NEW_MS && e.timestamp >= now - TOO_OLD_MS);
      if (valid.length > 1 && valid[valid.length - 1]!.timestamp - valid[0]!.timestamp > DAY_MS) {
        throw LogsErrors.invalidParameter('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
      }
      const g = await requireGroup(group);
      const s = await findStream(group, stream);
      if (!s) throw LogsErrors.streamNotFound();

      // Events outside what CloudWatch accepts are rejected by index, not stored.
      const expired = expiredBefore(now, g.retentionInDays);
      const rejected: Record<string, number> = {};
      const accepted: LogEvent[] = [];
      events.forEach((e, i) => {
        if (e.timestamp > now + TOO_NEW_MS) {
          if (rejected.tooNewLogEventStartIndex === undefined) rejected.tooNewLogEventStartIndex = i;
        } else if (e.timestamp < expired) {
          rejected.expiredLogEventEndIndex = i;
        } else if (e.timestamp < now - TOO_OLD_MS) {
          rejected.tooOldLogEventEndIndex = i;
        } else {
          accepted.push(e);
        }
      });
      if (accepted.length) await store.append(group, stream, accepted);
      const out: Record<string, unknown> = { nextSequenceToken: sequenceToken({ ...s, lastIngestionTime: now }) };
      if (Object.keys(rejected).length) out.rejectedLogEventsInfo = rejected;
      return out;
    },

    async GetLogEvents(input) {
      const p = new Params(input);
      const group = groupParam(p);
      const stream = p.string('logStreamName', { required: true, ...LOG_STREAM_NAME })!;
      const startTime = p.integer('startTime', { min: 0 });
      const endTime = p.integer('endTime', { min: 0 });
      const token = p.string('nextToken', { min: 1 });
      const limit = p.integer('limit', { min: 1, max: 10_000 }) ?? 10_000;
      const startFromHead = p.boolean('startFromHead') ?? false;
      p.boolean('unmask');
      p.check();
      const cursor = token !== undefined ? parseEventsToken(token) : undefined;
      await requireGroup(group);
      if (!(await findStream(group, stream))) throw LogsErrors.streamNotFound();

      const forward = cursor ? cursor.dir === 'f' : startFromHead;
      const base = { logGroupName: group, logStreamNames: [stream], startTime, endTime, limit };
      // Positions are (timestamp, id): a stream reads in timestamp order, as CloudWatch's does.
      const position = cursor ? { timestamp: cursor.timestamp, id: cursor.id } : undefined;
      let events: StoredLogEvent[];
      if (forward) {
        events = capBytes(await store.query({ ...base, ...(position ? { after: position } : {}) }));
      } else {
        // Newest first from the store; the response is oldest first.
        events = capBytes(await store.query({ ...base, descending: true, ...(position ? { before: position } : {}) })).reverse();
      }
      let nextForwardToken: string;
      let nextBackwardToken: string;
      if (events.length > 0) {
        const last = events[events.length - 1]!;
        nextForwardToken = eventsToken({ dir: 'f', timestamp: last.timestamp, id: last.id });
        nextBackwardToken = eventsToken({ dir: 'b', timestamp: events[0]!.timestamp, id: events[0]!.id });
      } else if (!cursor) {
        // Nothing in range: reading forward from the start sees whatever comes later.
        nextForwardToken = eventsToken({ dir: 'f', timestamp: 0, id: 0 });
        nextBackwardToken = eventsToken({ dir: 'b', timestamp: 0, id: 0 });
      } else if (cursor.dir === 'f') {
        // At the end: the same forward token again, which is how paginators know to stop. Back
        // from here includes the event at the cursor.
        nextForwardToken = token!;
        nextBackwardToken = eventsToken({ dir: 'b', timestamp: cursor.timestamp, id: cursor.id + 1 });
      } else {
        // Forward from here includes the event at the cursor.
        nextBackwardToken = token!;
        nextForwardToken = eventsToken({ dir: 'f', timestamp: cursor.timestamp, id: Math.max(0, cursor.id - 1) });
      }
      return {
        events: events.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
        nextForwardToken,
        nextBackwardToken,
      };
    },

    async FilterLogEvents(input) {
      const p = new Params(input);
      const group = groupParam(p);
      const names = p.stringList('logStreamNames', { min: 1, max: 100, item: LOG_STREAM_NAME });
      const prefix = p.string('logStreamNamePrefix', LOG_STREAM_NAME);
      const startTime = p.integer('startTime', { min: 0 });
      const endTime = p.integer('endTime', { min: 0 });
      const pattern = p.string('filterPattern', { min: 0, max: 1024 });
      const token = p.string('nextToken', { min: 1 });
      const limit = p.integer('limit', { min: 1, max: 10_000 }) ?? 10_000;
      p.boolean('interleaved'); // deprecated: results are always interleaved
      p.boolean('unmask');
      p.check();
      if (names !== undefined && prefix !== undefined) {
        throw LogsErrors.invalidParameter('Cannot specify both logStreamNames and logStreamNamePrefix.');
      }
      const filter = compileFilterPattern(pattern);
      const after = token !== undefined ? parseFilterToken(token) : undefined;
      await requireGroup(group);
      const query = {
        logGroupName: group,
        ...(names ? { logStreamNames: names } : {}),
        ...(prefix ? { logStreamNamePrefix: prefix } : {}),
        startTime,
        // FilterLogEvents includes events at endTime; the store's endTime is exclusive.
        endTime: endTime === undefined ? undefined : endTime + 1,
        terms: filter.terms,
        ...(after ? { after } : {}),
        limit: limit + 1,
      };
      let found = await store.query(query);
      // What the store cannot test (alternatives, exclusions, JSON patterns): tested here, reading
      // on past what does not match until the page is full or the events run out.
      if (filter.match) {
        const matched: typeof found = [];
        for (;;) {
          for (const e of found) if (matched.length <= limit && filter.match(e.message)) matched.push(e);
          if (matched.length > limit || found.length < query.limit) break;
          const last = found[found.length - 1]!;
          found = await store.query({ ...query, after: { timestamp: last.timestamp, id: last.id } });
        }
        found = matched;
      }
      const events = capBytes(found.slice(0, limit));
      const out: Record<string, unknown> = {
        events: events.map((e) => ({
          logStreamName: e.logStreamName,
          timestamp: e.timestamp,
          message: e.message,
          ingestionTime: e.ingestionTime,
          eventId: String(e.id),
        })),
        // Deprecated by CloudWatch (always empty there since 2020); kept for the shape.
        searchedLogStreams: [],
      };
      if (found.length > events.length) out.nextToken = filterToken(events[events.length - 1]!);
      return out;
    },
  };

  return {
    prefix: 'Logs_20140328',
    contentType: 'application/x-amz-json-1.1',
    async handle(operation, input) {
      const op = ops[operation];
      if (!op) throw new StratusError('UnknownOperationException', 400, `Operation ${operation} is not supported by Stratus CloudWatch Logs.`);
      // Read-your-writes: every line written before this request (a function's output before
      // its invoke returned) is in the store first. It also keeps writes ordered: a delete is
      // not undone by buffered lines recreating the group, a retention policy finds a group
      // that so far exists only in the buffer. An empty buffer costs nothing.
      await service.flush();
      return op(input);
    },
  };
}

/** Keeps the leading events that fit in one response (at least one). */
function capBytes(events: StoredLogEvent[]): StoredLogEvent[] {
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    total += Buffer.byteLength(events[i]!.message) + EVENT_OVERHEAD;
    if (total > MAX_RESPONSE_EVENT_BYTES && i > 0) return events.slice(0, i);
  }
  return events;
}

/** A sequence-token-looking number (CloudWatch ignores sequence tokens now; tools still read them). */
function sequenceToken(s: { creationTime: number; lastIngestionTime: number | null }): string {
  return `49${String(s.creationTime).padStart(20, '0')}${String(s.lastIngestionTime ?? 0).padStart(34, '0')}`;
}
