import { SqsErrors } from './sqs-errors.js';

/**
 * Queue attributes: names, defaults, validation and the typed view the queue service uses.
 * Stored as SQS reports them (strings), so GetQueueAttributes answers without conversion.
 */

export const QUEUE_NAME = /^[a-zA-Z0-9_-]{1,80}$/;

/** Attributes a client may set (CreateQueue, SetQueueAttributes). */
const SETTABLE = new Set([
  'DelaySeconds', 'MaximumMessageSize', 'MessageRetentionPeriod', 'Policy', 'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout', 'RedrivePolicy', 'RedriveAllowPolicy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled', 'FifoQueue', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit',
]);
const FIFO_ONLY = new Set(['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']);
/** Computed on read. */
export const COMPUTED_ATTRIBUTES = [
  'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp', 'LastModifiedTimestamp', 'QueueArn',
] as const;
/** Every name GetQueueAttributes accepts (besides All). */
export const QUEUE_ATTRIBUTE_NAMES = new Set<string>([...SETTABLE, ...COMPUTED_ATTRIBUTES]);

const RANGES: Record<string, [number, number]> = {
  DelaySeconds: [0, 900],
  MaximumMessageSize: [1024, 1048576],
  MessageRetentionPeriod: [60, 1209600],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  VisibilityTimeout: [0, 43200],
  KmsDataKeyReusePeriodSeconds: [60, 86400],
};

export function defaultQueueAttributes(fifo: boolean): Record<string, string> {
  const a: Record<string, string> = {
    VisibilityTimeout: '30',
    DelaySeconds: '0',
    MessageRetentionPeriod: '345600',
    MaximumMessageSize: '1048576',
    ReceiveMessageWaitTimeSeconds: '0',
    SqsManagedSseEnabled: 'true',
  };
  if (fifo) {
    a.FifoQueue = 'true';
    a.ContentBasedDeduplication = 'false';
    a.DeduplicationScope = 'queue';
    a.FifoThroughputLimit = 'perQueue';
  }
  return a;
}

export function isFifoName(name: string): boolean {
  return name.endsWith('.fifo');
}

/**
 * Throws InvalidParameterValue for a name SQS refuses. `fifo` is whether FifoQueue=true was asked
 * for: a FIFO queue's name must end with .fifo, a standard queue's cannot ('.' is not a name
 * character). Each kind has its own message (a .fifo name without FifoQueue gets the plain one).
 */
export function validateQueueName(name: unknown, fifo: boolean): string {
  if (typeof name !== 'string' || name === '') throw SqsErrors.missingParameter('QueueName');
  if (fifo) {
    if (!isFifoName(name) || !QUEUE_NAME.test(name.slice(0, -5)) || name.length > 80) {
      throw SqsErrors.invalidParameterValue(
        'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.',
      );
    }
  } else if (!QUEUE_NAME.test(name)) {
    throw SqsErrors.invalidParameterValue('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
  }
  return name;
}

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

const invalidValue = (name: string, reason?: string) =>
  SqsErrors.invalidAttributeValue(`Invalid value for the parameter ${name}.${reason ? ` Reason: ${reason}` : ''}`);

/**
 * Validates attributes given to CreateQueue (creating) or SetQueueAttributes and returns them
 * normalised (numbers without leading zeros, booleans lower case, JSON re-serialised). An empty
 * string for RedrivePolicy / RedriveAllowPolicy / Policy clears it (returned as '').
 */
export function validateQueueAttributes(
  input: unknown,
  opts: { creating: boolean; fifo: boolean },
): Record<string, string> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw SqsErrors.invalidParameterValue('Attributes must be a map');
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(input as Record<string, unknown>)) {
    if (!SETTABLE.has(name)) {
      throw SqsErrors.invalidAttributeName(`Unknown Attribute ${name}.`);
    }
    const value = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;
    if (value === undefined) throw invalidValue(name);
    if (FIFO_ONLY.has(name) && !opts.fifo) {
      throw SqsErrors.invalidAttributeName(`Unknown Attribute ${name}.`);
    }
    if (name in RANGES) {
      const [min, max] = RANGES[name]!;
      if (!/^\s*-?\d+\s*$/.test(value)) throw invalidValue(name);
      const n = Number(value);
      if (n < min || n > max) throw invalidValue(name);
      out[name] = String(n);
    } else if (name === 'FifoQueue') {
      const v = value.toLowerCase();
      if (v !== 'true' && v !== 'false') throw invalidValue(name);
      if (!opts.creating) throw SqsErrors.invalidAttributeName(`Unknown Attribute ${name}.`);
      if ((v === 'true') !== opts.fifo) throw invalidValue(name);
      out[name] = v;
    } else if (name === 'ContentBasedDeduplication' || name === 'SqsManagedSseEnabled') {
      const v = value.toLowerCase();
      if (v !== 'true' && v !== 'false') throw invalidValue(name);
      out[name] = v;
    } else if (name === 'DeduplicationScope') {
      if (value !== 'messageGroup' && value !== 'queue') throw invalidValue(name);
      out[name] = value;
    } else if (name === 'FifoThroughputLimit') {
      if (value !== 'perQueue' && value !== 'perMessageGroupId') throw invalidValue(name);
      out[name] = value;
    } else if (name === 'RedrivePolicy') {
      out[name] = value === '' ? '' : JSON.stringify(parseRedrivePolicy(value));
    } else if (name === 'RedriveAllowPolicy' || name === 'Policy') {
      if (value !== '') {
        try {
          const j = JSON.parse(value);
          if (!j || typeof j !== 'object') throw new Error('not an object');
        } catch {
          throw invalidValue(name, 'Invalid JSON');
        }
        if (name === 'RedriveAllowPolicy') {
          const p = JSON.parse(value) as { redrivePermission?: unknown };
          if (!['allowAll', 'denyAll', 'byQueue'].includes(String(p.redrivePermission))) {
            throw invalidValue(name, 'Amazon SQS can\'t create the redrive allow policy, as it’s in an unsupported format.');
          }
        }
      }
      out[name] = value;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** Parses a RedrivePolicy value (JSON; maxReceiveCount 1-1000, number or string). */
export function parseRedrivePolicy(value: string): RedrivePolicy {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(value);
  } catch {
    throw invalidValue('RedrivePolicy', 'Redrive policy is not a valid JSON map.');
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw invalidValue('RedrivePolicy', 'Redrive policy is not a valid JSON map.');
  const arn = j.deadLetterTargetArn;
  const count = Number(j.maxReceiveCount);
  if (typeof arn !== 'string' || arn === '') throw invalidValue('RedrivePolicy', 'Redrive policy does not contain mandatory attribute: deadLetterTargetArn.');
  if (j.maxReceiveCount === undefined) throw invalidValue('RedrivePolicy', 'Redrive policy does not contain mandatory attribute: maxReceiveCount.');
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw invalidValue('RedrivePolicy', 'Invalid value for maxReceiveCount: ' + String(j.maxReceiveCount) + ', valid values are from 1 to 1000 both inclusive.');
  }
  return { deadLetterTargetArn: arn, maxReceiveCount: count };
}

/** The typed view of a queue's stored attributes. */
export interface QueueSettings {
  fifo: boolean;
  visibilityTimeout: number;
  delaySeconds: number;
  retentionSeconds: number;
  maximumMessageSize: number;
  receiveWaitSeconds: number;
  contentBasedDeduplication: boolean;
  deduplicationScope: 'queue' | 'messageGroup';
  redrive?: RedrivePolicy;
}

export function queueSettings(attrs: Record<string, string>): QueueSettings {
  const s: QueueSettings = {
    fifo: attrs.FifoQueue === 'true',
    visibilityTimeout: Number(attrs.VisibilityTimeout ?? 30),
    delaySeconds: Number(attrs.DelaySeconds ?? 0),
    retentionSeconds: Number(attrs.MessageRetentionPeriod ?? 345600),
    maximumMessageSize: Number(attrs.MaximumMessageSize ?? 1048576),
    receiveWaitSeconds: Number(attrs.ReceiveMessageWaitTimeSeconds ?? 0),
    contentBasedDeduplication: attrs.ContentBasedDeduplication === 'true',
    deduplicationScope: attrs.DeduplicationScope === 'messageGroup' ? 'messageGroup' : 'queue',
  };
  if (attrs.RedrivePolicy) s.redrive = JSON.parse(attrs.RedrivePolicy) as RedrivePolicy;
  return s;
}

/**
 * CreateQueue on an existing name succeeds only when every given attribute equals the stored
 * one. Returns the first differing attribute name, or undefined.
 */
export function differingAttribute(stored: Record<string, string>, given: Record<string, string>): string | undefined {
  for (const [k, v] of Object.entries(given)) {
    const cur = stored[k] ?? '';
    if (cur === v) continue;
    if (k === 'RedrivePolicy' || k === 'RedriveAllowPolicy' || k === 'Policy') {
      try {
        if (JSON.stringify(JSON.parse(cur || 'null')) === JSON.stringify(JSON.parse(v || 'null'))) continue;
      } catch {
        /* differs */
      }
    }
    return k;
  }
  return undefined;
}

/** The names GetQueueAttributes should answer for AttributeNames (All expands). */
export function requestedQueueAttributes(names: unknown): Set<string> {
  if (names === undefined || names === null) return new Set();
  if (!Array.isArray(names)) throw SqsErrors.invalidParameterValue('AttributeNames must be a list');
  const out = new Set<string>();
  for (const n of names) {
    if (n === 'All') {
      for (const a of QUEUE_ATTRIBUTE_NAMES) out.add(a);
    } else if (typeof n === 'string' && QUEUE_ATTRIBUTE_NAMES.has(n)) {
      out.add(n);
    } else {
      throw SqsErrors.invalidAttributeName(`Unknown Attribute ${String(n)}.`);
    }
  }
  return out;
}

/** Splits a queue ARN: arn:aws:sqs:REGION:ACCOUNT:NAME. */
export function parseQueueArn(arn: string): { region: string; accountId: string; name: string } | undefined {
  const m = /^arn:aws[a-zA-Z-]*:sqs:([a-z0-9-]+):(\d{12}):([a-zA-Z0-9_.-]{1,80})$/.exec(arn);
  return m ? { region: m[1]!, accountId: m[2]!, name: m[3]! } : undefined;
}

export function queueArn(region: string, accountId: string, name: string): string {
  return `arn:aws:sqs:${region}:${accountId}:${name}`;
}

/**
 * Finds the queue name in a QueueUrl (http://host:port/ACCOUNT/NAME). Also accepts the older
 * http://host/queue/NAME form. Undefined when the URL names no queue or another account.
 */
export function queueNameFromUrl(url: string, accountId: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const parts = path.split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  const name = decodeURIComponent(parts[parts.length - 1]!);
  const owner = parts[parts.length - 2]!;
  if (/^\d{12}$/.test(owner) && owner !== accountId) return undefined;
  return name;
}
