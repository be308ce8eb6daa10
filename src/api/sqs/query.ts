import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sqsError } from '../../core/sqs-errors.js';
import { toStratusError } from '../errors.js';
import type { SqsOperation } from './index.js';

/**
 * SQS's query protocol (form-encoded `Action=SendMessage&Version=2012-11-05&...`, XML answers):
 * what SQS's clients spoke before its JSON protocol (late 2023) and older SDKs still speak (AWS
 * SDK for JavaScript v2 and v3 before 3.465, Java SDK v1, boto3 before 1.34). Requests are read
 * into the JSON protocol's input and run by the same operations; their output is written as the
 * query protocol's XML, with its element names (flattened lists and maps: `Attribute.1.Name`,
 * `<Message>`, `<Attribute><Name/><Value/></Attribute>`).
 */

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';
/** Operations whose answer is only ResponseMetadata (no output shape in the model). */
const NO_OUTPUT = new Set([
  'DeleteMessage', 'DeleteQueue', 'SetQueueAttributes', 'PurgeQueue', 'TagQueue', 'UntagQueue', 'ChangeMessageVisibility', 'AddPermission', 'RemovePermission',
]);

/** Request members whose query name differs from the JSON one: flattened lists and maps. */
const LISTS: Record<string, string> = {
  AttributeName: 'AttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  TagKey: 'TagKeys',
  SendMessageBatchRequestEntry: 'Entries',
  DeleteMessageBatchRequestEntry: 'Entries',
  ChangeMessageVisibilityBatchRequestEntry: 'Entries',
  StringListValue: 'StringListValues',
  BinaryListValue: 'BinaryListValues',
};
/** Flattened maps: query name -> JSON name, and the names of their entries' key and value. */
const MAPS: Record<string, { json: string; key: string; value: string }> = {
  Attribute: { json: 'Attributes', key: 'Name', value: 'Value' },
  MessageAttribute: { json: 'MessageAttributes', key: 'Name', value: 'Value' },
  MessageSystemAttribute: { json: 'MessageSystemAttributes', key: 'Name', value: 'Value' },
  Tag: { json: 'Tags', key: 'Key', value: 'Value' },
};
/** Integer members (the JSON protocol's operations take numbers). */
const INTEGERS = new Set(['DelaySeconds', 'MaxNumberOfMessages', 'VisibilityTimeout', 'WaitTimeSeconds', 'MaxResults']);

/** A tree of the request's dotted names: `Attribute.1.Name=x` -> { Attribute: { 1: { Name: 'x' } } }. */
type Tree = { [k: string]: Tree | string };

function tree(params: URLSearchParams): Tree {
  // Nodes without a prototype, and no part that names one: a parameter like `__proto__.X=1`
  // must not reach Object.prototype (every object of the server would inherit X).
  const root: Tree = Object.create(null);
  for (const [name, value] of params) {
    const parts = name.split('.');
    if (parts.some((p) => UNSAFE.has(p))) continue;
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = Object.hasOwn(node, parts[i]!) ? node[parts[i]!] : undefined;
      if (typeof next === 'object') node = next;
      else node = node[parts[i]!] = Object.create(null) as Tree;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return root;
}

const UNSAFE = new Set(['__proto__', 'constructor', 'prototype']);

/** The numbered entries of a flattened list or map (`.1`, `.2`, ...), in order. */
function numbered(t: Tree | string): Array<Tree | string> {
  if (typeof t === 'string') return [t];
  return Object.keys(t).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b)).map((k) => t[k]!);
}

/** One structure of the request, in the JSON protocol's shape. */
function structure(t: Tree, op: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(t)) {
    const map = MAPS[name];
    if (map && typeof v === 'object') {
      const m: Record<string, unknown> = {};
      for (const e of numbered(v)) {
        if (typeof e !== 'object') continue;
        const key = e[map.key];
        const value = e[map.value];
        if (typeof key !== 'string') continue;
        m[key] = typeof value === 'object' ? structure(value, op) : value;
      }
      // CreateQueue's tags are `tags` in the JSON protocol (TagQueue's are `Tags`).
      out[name === 'Tag' && op === 'CreateQueue' ? 'tags' : map.json] = m;
      continue;
    }
    const list = LISTS[name];
    if (list) {
      out[list] = numbered(v).map((e) => (typeof e === 'object' ? structure(e, op) : e));
      continue;
    }
    if (typeof v === 'object') out[name] = structure(v, op);
    else out[name] = INTEGERS.has(name) && /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // Characters XML 1.0 cannot carry as text are written as references (SQS allows #xD).
    .replace(/\r/g, '&#xD;');
}

/** Output members written as repeated elements of another name, per operation where it differs. */
const ELEMENTS: Record<string, string> = {
  QueueUrls: 'QueueUrl',
  queueUrls: 'QueueUrl',
  Messages: 'Message',
  Failed: 'BatchResultErrorEntry',
  StringListValues: 'StringListValue',
  BinaryListValues: 'BinaryListValue',
};
const SUCCESSFUL: Record<string, string> = {
  SendMessageBatch: 'SendMessageBatchResultEntry',
  DeleteMessageBatch: 'DeleteMessageBatchResultEntry',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibilityBatchResultEntry',
};

/** The XML of one output structure's members. */
function xml(o: Record<string, unknown>, op: string): string {
  let s = '';
  for (const [name, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    const map = Object.entries(MAPS).find(([, m]) => m.json === name);
    if (map && typeof v === 'object' && !Array.isArray(v)) {
      const [element, { key, value }] = map;
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        const inner = typeof val === 'object' && val !== null ? xml(val as Record<string, unknown>, op) : escapeXml(String(val));
        s += `<${element}><${key}>${escapeXml(k)}</${key}><${value}>${inner}</${value}></${element}>`;
      }
      continue;
    }
    if (Array.isArray(v)) {
      const element = name === 'Successful' ? SUCCESSFUL[op] ?? name : ELEMENTS[name] ?? name;
      for (const item of v) {
        s += typeof item === 'object' && item !== null
          ? `<${element}>${xml(item as Record<string, unknown>, op)}</${element}>`
          : `<${element}>${escapeXml(String(item))}</${element}>`;
      }
      continue;
    }
    s += typeof v === 'object' ? `<${name}>${xml(v as Record<string, unknown>, op)}</${name}>` : `<${name}>${escapeXml(String(v))}</${name}>`;
  }
  return s;
}

function send(reply: FastifyReply, status: number, body: string, requestId: string): FastifyReply {
  reply.header('x-amzn-RequestId', requestId);
  reply.header('content-type', 'text/xml');
  return reply.code(status).send(`<?xml version="1.0"?>${body}`);
}

/**
 * Serves one query protocol request (its parameters from the form body and the URL's query). A
 * queue URL path (`/ACCOUNT/QUEUE`) names the queue when QueueUrl is not given.
 */
export async function handleSqsQuery(
  ops: Record<string, SqsOperation>, params: URLSearchParams, req: FastifyRequest, reply: FastifyReply,
  admit?: (action: string) => Promise<void>,
): Promise<FastifyReply> {
  const requestId = randomUUID();
  const action = params.get('Action') ?? '';
  try {
    const op = ops[action];
    if (!op) throw sqsError('InvalidAction', `The action ${action || '(none)'} is not valid for this endpoint.`);
    await admit?.(action);
    params.delete('Action');
    params.delete('Version');
    const input = structure(tree(params), action);
    const path = req.url.split('?')[0]!;
    if (input.QueueUrl === undefined && /^\/[^/]+\/[^/]+$/.test(path)) {
      input.QueueUrl = `http://${req.headers.host ?? 'localhost'}${path}`;
    }
    const out = (await op(input, req, reply)) as Record<string, unknown> | undefined;
    // An operation with an output has its Result element even when empty (<ReceiveMessageResult/>):
    // query clients look it up by name.
    const result = NO_OUTPUT.has(action) ? '' : `<${action}Result>${out ? xml(out, action) : ''}</${action}Result>`;
    return send(reply, 200,
      `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`, requestId);
  } catch (err) {
    const e = toStratusError(err);
    const [code, type] = typeof e.extra.queryErrorCode === 'string' ? e.extra.queryErrorCode.split(';') : [e.code, e.status >= 500 ? 'Receiver' : 'Sender'];
    return send(reply, e.status,
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(code!)}</Code><Message>${escapeXml(e.message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`, requestId);
  }
}
