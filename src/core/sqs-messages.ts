import { SqsErrors } from './sqs-errors.js';
import type { SqsAttributeValue } from './sqs-md5.js';

/** Message-level rules of SQS: bodies, message attributes, batch entries, receive parameters. */

/** Characters SQS accepts (XML 1.0): #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF. */
const INVALID_CHARS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export function validateBody(body: unknown): string {
  if (body === undefined || body === null || body === '') throw SqsErrors.missingParameter('MessageBody');
  if (typeof body !== 'string') throw SqsErrors.invalidParameterValue('MessageBody must be a string');
  if (INVALID_CHARS.test(body)) throw SqsErrors.invalidMessageContents();
  return body;
}

const ATTR_NAME = /^[a-zA-Z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\.[^\s]{1,255})?$/;

export interface ParsedAttributes {
  attributes: Record<string, SqsAttributeValue>;
  /** Bytes counted against MaximumMessageSize: names, types and values. */
  size: number;
}

/**
 * Parses MessageAttributes from the JSON wire (BinaryValue base64). Throws InvalidParameterValue
 * as SQS does for bad names, data types, missing or non-numeric values, more than 10 attributes.
 */
export function parseMessageAttributes(input: unknown, system = false): ParsedAttributes {
  const attributes: Record<string, SqsAttributeValue> = {};
  let size = 0;
  if (input === undefined || input === null) return { attributes, size };
  if (typeof input !== 'object' || Array.isArray(input)) throw SqsErrors.invalidParameterValue('MessageAttributes must be a map');
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > 10) {
    throw SqsErrors.invalidParameterValue(`Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`);
  }
  for (const [name, raw] of entries) {
    if (system) {
      if (name !== 'AWSTraceHeader') throw SqsErrors.invalidParameterValue(`Message system attribute name '${name}' is invalid.`);
    } else if (!ATTR_NAME.test(name) || /^(aws\.|amazon\.)/i.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
      throw SqsErrors.invalidParameterValue(`Message (user) attribute name '${name}' is invalid.`);
    }
    const v = raw as Record<string, unknown>;
    if (!v || typeof v !== 'object') throw SqsErrors.invalidParameterValue(`The message attribute '${name}' must contain a value.`);
    const dataType = v.DataType;
    if (typeof dataType !== 'string' || dataType === '') {
      throw SqsErrors.invalidParameterValue(`The message attribute '${name}' must contain non-empty message attribute type.`);
    }
    if (!DATA_TYPE.test(dataType)) {
      throw SqsErrors.invalidParameterValue(`The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    }
    if (system && dataType !== 'String') throw SqsErrors.invalidParameterValue(`The message system attribute '${name}' must be of type String.`);
    const base = dataType.split('.')[0];
    const out: SqsAttributeValue = { DataType: dataType };
    if (base === 'Binary') {
      if (typeof v.BinaryValue !== 'string' || v.BinaryValue === '') {
        throw SqsErrors.invalidParameterValue(`The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      }
      out.BinaryValue = Buffer.from(v.BinaryValue, 'base64');
      size += out.BinaryValue.length;
    } else {
      if (typeof v.StringValue !== 'string' || v.StringValue === '') {
        throw SqsErrors.invalidParameterValue(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${base}'.`);
      }
      if (INVALID_CHARS.test(v.StringValue)) throw SqsErrors.invalidMessageContents();
      if (base === 'Number' && !/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v.StringValue)) {
        throw SqsErrors.invalidParameterValue(`Can't cast the value of message (user) attribute '${name}' to a number.`);
      }
      out.StringValue = v.StringValue;
      size += Buffer.byteLength(v.StringValue);
    }
    size += Buffer.byteLength(name) + Buffer.byteLength(dataType);
    attributes[name] = out;
  }
  return { attributes, size };
}

/** The JSON wire form of stored attributes (BinaryValue back to base64). */
export function attributesToWire(attrs: Record<string, SqsAttributeValue>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(attrs)) {
    const w: Record<string, unknown> = { DataType: v.DataType };
    if (v.StringValue !== undefined) w.StringValue = v.StringValue;
    if (v.BinaryValue !== undefined) w.BinaryValue = v.BinaryValue.toString('base64');
    out[k] = w;
  }
  return out;
}

/** The subset of attributes MessageAttributeNames asks for: All, .*, exact names, prefix.* */
export function selectMessageAttributes(
  attrs: Record<string, SqsAttributeValue>,
  names: readonly string[] | undefined,
): Record<string, SqsAttributeValue> {
  if (!names || names.length === 0) return {};
  const all = names.includes('All') || names.includes('.*');
  const out: Record<string, SqsAttributeValue> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (all || names.some((n) => (n.endsWith('.*') ? k.startsWith(n.slice(0, -1)) : n === k))) out[k] = v;
  }
  return out;
}

export const SYSTEM_ATTRIBUTE_NAMES = [
  'SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SequenceNumber',
  'MessageDeduplicationId', 'MessageGroupId', 'AWSTraceHeader', 'DeadLetterQueueSourceArn',
] as const;
const SYSTEM_SET = new Set<string>(SYSTEM_ATTRIBUTE_NAMES);

/** AttributeNames + MessageSystemAttributeNames of ReceiveMessage -> the set to return. */
export function requestedSystemAttributes(...lists: unknown[]): Set<string> {
  const out = new Set<string>();
  for (const list of lists) {
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw SqsErrors.invalidParameterValue('AttributeNames must be a list');
    for (const n of list) {
      if (n === 'All') SYSTEM_ATTRIBUTE_NAMES.forEach((a) => out.add(a));
      else if (typeof n === 'string' && SYSTEM_SET.has(n)) out.add(n);
      else if (typeof n === 'string' && /^(Policy|VisibilityTimeout|MaximumMessageSize|MessageRetentionPeriod|ApproximateNumberOf.*|CreatedTimestamp|LastModifiedTimestamp|QueueArn|DelaySeconds|ReceiveMessageWaitTimeSeconds|RedrivePolicy|FifoQueue|ContentBasedDeduplication|KmsMasterKeyId|KmsDataKeyReusePeriodSeconds|DeduplicationScope|FifoThroughputLimit|RedriveAllowPolicy|SqsManagedSseEnabled)$/.test(n)) {
        // Queue attribute names are accepted by the deprecated AttributeNames and ignored.
      } else throw SqsErrors.invalidAttributeName(`Unknown Attribute ${String(n)}.`);
    }
  }
  return out;
}

/** An optional integer parameter within [min, max]; SQS's InvalidParameterValue otherwise. */
export function intParam(input: Record<string, unknown>, name: string, min: number, max: number, reason?: string): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw SqsErrors.invalidParameterValue(
      `Value ${String(v)} for parameter ${name} is invalid. Reason: ${reason ?? `Must be between ${min} and ${max}, if provided.`}`,
    );
  }
  return n;
}

const BATCH_ID = /^[a-zA-Z0-9_-]{1,80}$/;

/** Checks the Entries of a *Batch request: 1-10, ids valid and distinct. */
export function validateBatchEntries(entries: unknown, op: string): Record<string, unknown>[] {
  if (entries === undefined || entries === null) throw SqsErrors.missingParameter('Entries');
  if (!Array.isArray(entries)) throw SqsErrors.invalidParameterValue('Entries must be a list');
  if (entries.length === 0) throw SqsErrors.emptyBatch(op);
  if (entries.length > 10) throw SqsErrors.tooManyEntries(entries.length);
  const seen = new Set<string>();
  for (const e of entries as Record<string, unknown>[]) {
    const id = e?.Id;
    if (typeof id !== 'string' || !BATCH_ID.test(id)) throw SqsErrors.invalidBatchEntryId();
    if (seen.has(id)) throw SqsErrors.idsNotDistinct(id);
    seen.add(id);
  }
  return entries as Record<string, unknown>[];
}

/**
 * Receipt handles: opaque to clients, they name the queue, the message and the receive that
 * produced it (a newer receive makes older handles stale: deleting with one does nothing).
 */
export function encodeReceiptHandle(queue: string, messageId: string, nonce: string): string {
  return Buffer.from(`${queue}\n${messageId}\n${nonce}`, 'utf8').toString('base64');
}

export function decodeReceiptHandle(handle: unknown): { queue: string; messageId: string; nonce: string } | undefined {
  if (typeof handle !== 'string' || handle === '' || handle.length > 1024 || !/^[A-Za-z0-9+/]+=*$/.test(handle)) return undefined;
  const parts = Buffer.from(handle, 'base64').toString('utf8').split('\n');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) return undefined;
  return { queue: parts[0], messageId: parts[1], nonce: parts[2] };
}
