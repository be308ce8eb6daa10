import { randomBytes, randomUUID } from 'node:crypto';
import { clientBaseUrl } from '../../core/base-url.js';
import { Errors, StratusError, isStratusError } from '../../core/errors.js';
import type { Locale } from '../../core/model.js';
import {
  defaultQueueAttributes, differingAttribute, isFifoName, parseQueueArn, queueArn, queueNameFromUrl, queueSettings,
  requestedQueueAttributes, validateQueueAttributes, validateQueueName, type QueueSettings,
} from '../../core/sqs-attributes.js';
import { SqsErrors } from '../../core/sqs-errors.js';
import { contentDeduplicationId, dedupScopeKey, DEDUP_WINDOW_MS, formatSequenceNumber } from '../../core/sqs-fifo.js';
import { md5OfBody, md5OfMessageAttributes, type SqsAttributeValue } from '../../core/sqs-md5.js';
import {
  attributesToWire, decodeReceiptHandle, encodeReceiptHandle, intParam, parseMessageAttributes, requestedSystemAttributes,
  selectMessageAttributes, validateBatchEntries, validateBody,
} from '../../core/sqs-messages.js';
import type { Clock, NoticeChannel, TargetMessage } from '../../ports/index.js';
import { QueueSignals } from './signals.js';
import type { NewMessage, QueueRecord, SendOutcome, SqsStore, StoredMessage } from './store.js';

export interface SqsServiceDeps {
  store: SqsStore;
  locale: Locale;
  clock: Clock;
  /** Base URL of this server (queue URLs), when the request gives no Host. */
  baseUrl: () => string;
  /**
   * In a cluster, other nodes' sends wake local long polls through their notices (best effort):
   * re-check this often (ms) in case one was lost.
   */
  recheckMs?: number;
  /** The cluster's notices ('sqs': a queue may have messages to receive); none on a single node. */
  notices?: NoticeChannel;
}

/** A received message with every system attribute (the poller and the wire layer pick from it). */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody: string;
  /** All system attributes SQS can return for this message. */
  attributes: Record<string, string>;
  messageAttributes: Record<string, SqsAttributeValue>;
  groupId?: string;
  queue: string;
}

export interface SendInput {
  body: string;
  attributes?: Record<string, SqsAttributeValue>;
  delaySeconds?: number;
  groupId?: string;
  dedupId?: string;
  traceHeader?: string;
}

type Input = Record<string, unknown>;

/** A message about to be sent; `systemAttribute`: the AWSTraceHeader it was sent with, if it was. */
type PreparedMessage = NewMessage & { dedupId?: string; dedupScope?: string; systemAttribute?: string };

const PURGE_INTERVAL_MS = 60_000;
const MAX_BATCH_BYTES = 1048576;
const MAX_TAGS = 50;
/** How long a queue record is reused; in a cluster, another node's change shows within this. */
const QUEUE_CACHE_MS = 1000;
/** The notice topic of queue changes (see SqsServiceDeps.notices). */
const NOTICE_TOPIC = 'sqs';

/**
 * The SQS-compatible queue service: every operation of the AmazonSQS JSON API (inputs and
 * outputs in the wire's shape), plus the in-process API that event source mappings and delivery
 * targets use. Persistence is the SqsStore; long polls wait on in-process signals.
 */
/** Receive attempts kept for repeating at once (the oldest go first). */
const MAX_ATTEMPTS = 1000;

export class SqsService {
  readonly signals = new QueueSignals();
  private readonly lastPurge = new Map<string, number>();
  /**
   * FIFO receives by ReceiveRequestAttemptId: a retry of a receive within its visibility timeout
   * (at most SQS's 5 minute deduplication interval) gets the same messages and receipt handles.
   * Kept by this server: in a cluster, a retry that reaches another node receives anew.
   */
  private readonly attempts = new Map<string, { answer: Promise<unknown>; until: number; handles: string[] }>();
  /** The attempt a receipt handle was answered in: deleting the message or changing its visibility ends the repeat. */
  private readonly attemptOfHandle = new Map<string, string>();
  /** Queue records for the hot path (send/receive/delete), briefly: local changes invalidate. */
  private readonly cache = new Map<string, { q: QueueRecord; at: number }>();
  private readonly sender: string;
  /** Ends this node's subscription to the other nodes' queue notices. */
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: SqsServiceDeps) {
    this.sender = deps.locale.accountId;
    // Another node's send (visibility change, FIFO delete...) wakes this node's long polls at
    // once, as SQS answers a waiting receive as soon as a message is there.
    this.unsubscribe = deps.notices?.subscribe(NOTICE_TOPIC, (queue) => this.signals.notify(queue)) ?? (() => undefined);
  }

  /** A change that may make a message of `queue` receivable: local long polls, then the other nodes', wake. */
  private changed(queue: string): void {
    this.signals.notify(queue);
    this.deps.notices?.notify(NOTICE_TOPIC, queue);
  }

  private get store() {
    return this.deps.store;
  }

  private now(): number {
    return this.deps.clock.now();
  }

  close(): void {
    this.unsubscribe();
    this.signals.close();
  }

  /** Whether the queue's messages go to a dead-letter queue once received too often (its RedrivePolicy, naming a queue there is). */
  async redrives(name: string): Promise<boolean> {
    const q = await this.getQueue(name);
    return q !== undefined && (await this.deadLetterQueueOf(queueSettings(q.attributes))) !== undefined;
  }

  /** The dead-letter queue a queue's RedrivePolicy names, if there is one. */
  private async deadLetterQueueOf(s: QueueSettings): Promise<QueueRecord | undefined> {
    return s.redrive ? this.queueByArn(s.redrive.deadLetterTargetArn) : undefined;
  }

  private async getQueue(name: string): Promise<QueueRecord | undefined> {
    const hit = this.cache.get(name);
    const now = Date.now();
    if (hit && now - hit.at < QUEUE_CACHE_MS) return hit.q;
    const q = await this.store.getQueue(name);
    if (q) this.cache.set(name, { q, at: now });
    else this.cache.delete(name);
    return q;
  }

  private forget(name: string): void {
    this.cache.delete(name);
  }

  // ---- naming ----

  queueUrl(name: string, host?: string): string {
    return `${clientBaseUrl(host, this.deps.baseUrl)}/${this.deps.locale.accountId}/${encodeURIComponent(name)}`;
  }

  queueArn(name: string): string {
    return queueArn(this.deps.locale.region, this.deps.locale.accountId, name);
  }

  private async queueFromUrl(url: unknown): Promise<QueueRecord> {
    if (typeof url !== 'string' || url === '') throw SqsErrors.missingParameter('QueueUrl');
    const name = queueNameFromUrl(url, this.deps.locale.accountId) ?? (/^[a-zA-Z0-9_.-]{1,80}$/.test(url) ? url : undefined);
    if (!name) throw SqsErrors.queueDoesNotExist();
    const q = await this.getQueue(name);
    if (!q) throw SqsErrors.queueDoesNotExist();
    return q;
  }

  /** The queue an ARN names (this account and region), if it exists. */
  async queueByArn(arn: string): Promise<QueueRecord | undefined> {
    const p = parseQueueArn(arn);
    if (!p || p.accountId !== this.deps.locale.accountId || p.region !== this.deps.locale.region) return undefined;
    return this.getQueue(p.name);
  }

  // ---- queues ----

  async createQueue(i: Input, host?: string): Promise<unknown> {
    // FifoQueue=true asks for a FIFO queue; the name must agree (checked with the name).
    const wantsFifo = String((i.Attributes as Record<string, unknown> | undefined)?.FifoQueue ?? '').toLowerCase() === 'true';
    const name = validateQueueName(i.QueueName, wantsFifo);
    const fifo = isFifoName(name);
    const given = validateQueueAttributes(i.Attributes, { creating: true, fifo });
    const tags = validateTags(i.tags);
    await this.checkRedrive(name, fifo, given.RedrivePolicy);
    const existing = await this.store.getQueue(name);
    if (existing) return this.existingQueue(existing, given, host);
    const now = this.now();
    const attributes = { ...defaultQueueAttributes(fifo), ...given };
    for (const [k, v] of Object.entries(attributes)) if (v === '') delete attributes[k];
    const created = await this.store.createQueue({ name, fifo, attributes, tags, createdAt: now, modifiedAt: now });
    if (!created) {
      const again = await this.store.getQueue(name);
      if (again) return this.existingQueue(again, given, host);
    }
    return { QueueUrl: this.queueUrl(name, host) };
  }

  private existingQueue(q: QueueRecord, given: Record<string, string>, host?: string): unknown {
    const diff = differingAttribute(q.attributes, given);
    if (diff) throw SqsErrors.queueNameExists(`A queue already exists with the same name and a different value for attribute ${diff}`);
    return { QueueUrl: this.queueUrl(q.name, host) };
  }

  private async checkRedrive(name: string, fifo: boolean, policy: string | undefined): Promise<void> {
    if (!policy) return;
    const { deadLetterTargetArn } = JSON.parse(policy) as { deadLetterTargetArn: string };
    const dlq = await this.queueByArn(deadLetterTargetArn);
    const bad = (reason: string) => SqsErrors.invalidAttributeValue(`Value ${policy} for parameter RedrivePolicy is invalid. Reason: ${reason}`);
    if (!dlq) throw bad('Dead-letter target does not exist.');
    if (dlq.name === name) throw bad('Dead-letter target can not be the queue itself.');
    if (dlq.fifo !== fifo) throw bad('Dead-letter queue type must match the source queue type (standard or FIFO).');
    // The dead-letter queue's RedriveAllowPolicy names who may use it: allowAll (the default),
    // denyAll, or byQueue with its sourceQueueArns. The refusal's wording is ours.
    const allow = dlq.attributes.RedriveAllowPolicy ? JSON.parse(dlq.attributes.RedriveAllowPolicy) as { redrivePermission?: string; sourceQueueArns?: unknown } : undefined;
    const permission = allow?.redrivePermission ?? 'allowAll';
    const listed = Array.isArray(allow?.sourceQueueArns) && allow.sourceQueueArns.includes(this.queueArn(name));
    if (permission === 'denyAll' || (permission === 'byQueue' && !listed)) {
      throw SqsErrors.invalidParameterValue(`Value ${policy} for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not allow this queue as its source.`);
    }
  }

  async getQueueUrl(i: Input, host?: string): Promise<unknown> {
    if (typeof i.QueueName !== 'string' || i.QueueName === '') throw SqsErrors.missingParameter('QueueName');
    if (i.QueueOwnerAWSAccountId !== undefined && i.QueueOwnerAWSAccountId !== this.deps.locale.accountId) throw SqsErrors.queueDoesNotExist();
    const q = await this.store.getQueue(i.QueueName);
    if (!q) throw SqsErrors.queueDoesNotExist();
    return { QueueUrl: this.queueUrl(q.name, host) };
  }

  async listQueues(i: Input, host?: string): Promise<unknown> {
    const max = intParam(i, 'MaxResults', 1, 1000, 'MaxResults must be an integer between 1 and 1000.');
    const prefix = typeof i.QueueNamePrefix === 'string' ? i.QueueNamePrefix : undefined;
    const given = i.NextToken !== undefined && i.NextToken !== null && i.NextToken !== '';
    if (given && max === undefined) throw SqsErrors.invalidParameterValue('MaxResults is a mandatory parameter when you provide a value for NextToken.');
    const after = pageAfter(i.NextToken);
    const limit = max ?? 1000;
    const rows = await this.store.listQueues(prefix, after, limit + 1);
    const page = rows.slice(0, limit);
    const out: Record<string, unknown> = {};
    if (page.length) out.QueueUrls = page.map((q) => this.queueUrl(q.name, host));
    if (max !== undefined && rows.length > limit) out.NextToken = nextToken(page[page.length - 1]!.name);
    return out;
  }

  async deleteQueue(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    await this.store.deleteQueue(q.name);
    this.forget(q.name);
    this.lastPurge.delete(q.name);
    this.changed(q.name);
    return {};
  }

  async getQueueAttributes(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const names = requestedQueueAttributes(i.AttributeNames);
    const out: Record<string, string> = {};
    if (names.size === 0) return {};
    const s = queueSettings(q.attributes);
    const now = this.now();
    const needsCounts = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'].some((n) => names.has(n));
    const counts = needsCounts ? await this.store.counts(q.name, now, now - s.retentionSeconds * 1000) : undefined;
    for (const n of names) {
      switch (n) {
        case 'ApproximateNumberOfMessages': out[n] = String(counts!.visible); break;
        case 'ApproximateNumberOfMessagesNotVisible': out[n] = String(counts!.notVisible); break;
        case 'ApproximateNumberOfMessagesDelayed': out[n] = String(counts!.delayed); break;
        case 'CreatedTimestamp': out[n] = String(Math.floor(q.createdAt / 1000)); break;
        case 'LastModifiedTimestamp': out[n] = String(Math.floor(q.modifiedAt / 1000)); break;
        case 'QueueArn': out[n] = this.queueArn(q.name); break;
        default:
          if (q.attributes[n] !== undefined && q.attributes[n] !== '') out[n] = q.attributes[n]!;
      }
    }
    return { Attributes: out };
  }

  async setQueueAttributes(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    if (i.Attributes === undefined || i.Attributes === null) throw SqsErrors.missingParameter('Attributes');
    const given = validateQueueAttributes(i.Attributes, { creating: false, fifo: q.fifo });
    await this.checkRedrive(q.name, q.fifo, given.RedrivePolicy);
    const attributes = { ...q.attributes, ...given };
    for (const [k, v] of Object.entries(attributes)) if (v === '') delete attributes[k];
    await this.store.updateQueue(q.name, { attributes, modifiedAt: this.now() });
    this.forget(q.name);
    return {};
  }

  async purgeQueue(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const now = this.now();
    const last = this.lastPurge.get(q.name);
    if (last !== undefined && now - last < PURGE_INTERVAL_MS) throw SqsErrors.purgeInProgress(this.queueArn(q.name));
    this.lastPurge.set(q.name, now);
    await this.store.purge(q.name);
    return {};
  }

  async tagQueue(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const tags = validateTags(i.Tags);
    const merged = { ...q.tags, ...tags };
    if (Object.keys(merged).length > MAX_TAGS) throw SqsErrors.invalidParameterValue(`Too many tags added for queue ${q.name}.`);
    await this.store.updateQueue(q.name, { tags: merged });
    this.forget(q.name);
    return {};
  }

  async untagQueue(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    if (!Array.isArray(i.TagKeys)) throw SqsErrors.missingParameter('TagKeys');
    const tags = { ...q.tags };
    for (const k of i.TagKeys) delete tags[String(k)];
    await this.store.updateQueue(q.name, { tags });
    this.forget(q.name);
    return {};
  }

  async listQueueTags(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    return Object.keys(q.tags).length ? { Tags: q.tags } : {};
  }

  /**
   * Pages as ListQueues does (by name): at most MaxResults (1-1000, default 1000) a page, and a
   * NextToken only when MaxResults was given and more remain (the model: "You must set MaxResults
   * to receive a value for NextToken in the response").
   */
  async listDeadLetterSourceQueues(i: Input, host?: string): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const max = intParam(i, 'MaxResults', 1, 1000, 'MaxResults must be an integer between 1 and 1000.');
    const after = pageAfter(i.NextToken);
    const limit = max ?? 1000;
    const arn = this.queueArn(q.name);
    const all = await this.store.listQueues(undefined, after, 100_000);
    const sources = all.filter((s) => s.attributes.RedrivePolicy && (JSON.parse(s.attributes.RedrivePolicy) as { deadLetterTargetArn: string }).deadLetterTargetArn === arn);
    const page = sources.slice(0, limit);
    const out: Record<string, unknown> = { queueUrls: page.map((s) => this.queueUrl(s.name, host)) };
    if (max !== undefined && sources.length > limit) out.NextToken = nextToken(page[page.length - 1]!.name);
    return out;
  }

  // ---- send ----

  /**
   * `traceHeader`: the request's X-Amzn-Trace-Id, which SQS keeps as every message's AWSTraceHeader
   * unless the message names its own (the SDKs in a Lambda function send the function's trace
   * header so: Lambda follows a function -> queue -> function chain through it).
   */
  private prepare(q: QueueRecord, s: QueueSettings, e: Input, now: number, traceHeader?: string): PreparedMessage {
    const body = validateBody(e.MessageBody);
    const delay = intParam(e, 'DelaySeconds', 0, 900, 'DelaySeconds must be >= 0 and <= 900');
    const { attributes, size } = parseMessageAttributes(e.MessageAttributes);
    const sys = parseMessageAttributes(e.MessageSystemAttributes, true).attributes;
    const bytes = Buffer.byteLength(body) + size;
    if (bytes > s.maximumMessageSize) {
      throw SqsErrors.invalidParameterValue(`One or more parameters are invalid. Reason: Message must be shorter than ${s.maximumMessageSize} bytes.`);
    }
    const m: PreparedMessage = {
      id: randomUUID(), body, md5Body: md5OfBody(body), attrs: attributes, sender: this.sender, sentAt: now,
      visibleAt: now + (delay ?? s.delaySeconds) * 1000,
    };
    if (sys.AWSTraceHeader?.StringValue) m.traceHeader = m.systemAttribute = sys.AWSTraceHeader.StringValue;
    else if (traceHeader) m.traceHeader = traceHeader;
    const group = e.MessageGroupId;
    const dedup = e.MessageDeduplicationId;
    if (q.fifo) {
      if (delay !== undefined && delay !== 0) {
        throw SqsErrors.invalidParameterValue(`Value ${delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`);
      }
      if (typeof group !== 'string' || group === '') throw SqsErrors.missingParameter('MessageGroupId');
      if (!/^[\x21-\x7e]{1,128}$/.test(group)) throw SqsErrors.invalidParameterValue(`Value ${group} for parameter MessageGroupId is invalid.`);
      let dedupId: string;
      if (typeof dedup === 'string' && dedup !== '') {
        if (!/^[\x21-\x7e]{1,128}$/.test(dedup)) throw SqsErrors.invalidParameterValue(`Value ${dedup} for parameter MessageDeduplicationId is invalid.`);
        dedupId = dedup;
      } else if (s.contentBasedDeduplication) {
        dedupId = contentDeduplicationId(body);
      } else {
        throw SqsErrors.invalidParameterValue('The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
      }
      m.groupId = group;
      m.dedupId = dedupId;
      m.dedupScope = dedupScopeKey(s.deduplicationScope, group);
    } else {
      if (dedup !== undefined && dedup !== null) {
        throw SqsErrors.invalidParameterValue(`Value ${String(dedup)} for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.`);
      }
      // Standard queues accept a MessageGroupId (fair queues) and report it back.
      if (typeof group === 'string' && group !== '') m.groupId = group;
    }
    return m;
  }

  private async enqueue(q: QueueRecord, msgs: (NewMessage & { dedupId?: string; dedupScope?: string })[]): Promise<SendOutcome[]> {
    const out = q.fifo
      ? await this.store.sendFifo(q.name, msgs as (NewMessage & { dedupId: string; dedupScope: string })[], DEDUP_WINDOW_MS)
      : await this.store.send(q.name, msgs);
    this.changed(q.name);
    return out;
  }

  private sendResult(q: QueueRecord, m: PreparedMessage, r: SendOutcome): Record<string, unknown> {
    const out: Record<string, unknown> = { MessageId: r.id, MD5OfMessageBody: m.md5Body };
    const md5Attrs = md5OfMessageAttributes(m.attrs);
    if (md5Attrs) out.MD5OfMessageAttributes = md5Attrs;
    // The digest of the system attributes the message was sent with (not of a trace from the header).
    if (m.systemAttribute) out.MD5OfMessageSystemAttributes = md5OfMessageAttributes({ AWSTraceHeader: { DataType: 'String', StringValue: m.systemAttribute } });
    if (q.fifo) out.SequenceNumber = formatSequenceNumber(r.seq);
    return out;
  }

  async sendMessage(i: Input, traceHeader?: string): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const m = this.prepare(q, queueSettings(q.attributes), i, this.now(), traceHeader);
    const [r] = await this.enqueue(q, [m]);
    return this.sendResult(q, m, r!);
  }

  async sendMessageBatch(i: Input, traceHeader?: string): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const entries = validateBatchEntries(i.Entries, 'SendMessageBatch');
    const total = entries.reduce((n, e) => n + messageBytes(e), 0);
    if (total > MAX_BATCH_BYTES) throw SqsErrors.batchTooLong(total, MAX_BATCH_BYTES);
    const s = queueSettings(q.attributes);
    const now = this.now();
    const failed: Record<string, unknown>[] = [];
    const ok: { id: string; m: PreparedMessage }[] = [];
    for (const e of entries) {
      try {
        ok.push({ id: e.Id as string, m: this.prepare(q, s, e, now, traceHeader) });
      } catch (err) {
        failed.push(batchError(e.Id as string, err));
      }
    }
    const results = ok.length ? await this.enqueue(q, ok.map((x) => x.m)) : [];
    return {
      Successful: ok.map((x, n) => ({ Id: x.id, ...this.sendResult(q, x.m, results[n]!) })),
      Failed: failed,
    };
  }

  /** In-process send (delivery targets). */
  async sendTo(queueName: string, input: SendInput): Promise<{ messageId: string; sequenceNumber?: string }> {
    const q = await this.getQueue(queueName);
    if (!q) throw SqsErrors.queueDoesNotExist();
    const e: Input = { MessageBody: input.body };
    if (input.attributes && Object.keys(input.attributes).length) e.MessageAttributes = attributesToWire(input.attributes);
    if (input.delaySeconds !== undefined) e.DelaySeconds = input.delaySeconds;
    if (input.groupId !== undefined) e.MessageGroupId = input.groupId;
    if (input.dedupId !== undefined) e.MessageDeduplicationId = input.dedupId;
    if (input.traceHeader) e.MessageSystemAttributes = { AWSTraceHeader: { DataType: 'String', StringValue: input.traceHeader } };
    const m = this.prepare(q, queueSettings(q.attributes), e, this.now());
    const [r] = await this.enqueue(q, [m]);
    const out: { messageId: string; sequenceNumber?: string } = { messageId: r!.id };
    if (q.fifo) out.sequenceNumber = formatSequenceNumber(r!.seq);
    return out;
  }

  /** The 'sqs' delivery target: DLQs, destinations and rule targets name a queue by ARN. */
  async deliver(arn: string, msg: TargetMessage): Promise<void> {
    const q = await this.queueByArn(arn);
    if (!q) throw Errors.resourceNotFound(`Queue ${arn} does not exist`);
    const attributes: Record<string, SqsAttributeValue> = {};
    for (const [k, v] of Object.entries(msg.attributes ?? {})) {
      if (v === undefined || v === null || v === '') continue;
      attributes[k] = { DataType: msg.attributeDataTypes?.[k] ?? 'String', StringValue: String(v) };
    }
    const input: SendInput = { body: msg.body, attributes };
    if (q.fifo) {
      // Only a sender that names a message group (an EventBridge target's SqsParameters) can use
      // a FIFO queue: Lambda's destinations and dead-letter queues, and EventBridge's, are
      // standard queues, and a delivery to a FIFO one fails there.
      if (msg.messageGroupId === undefined) throw Errors.invalidParameter(`${arn} is a FIFO queue: only standard queues take these deliveries.`);
      input.groupId = msg.messageGroupId;
      if (!queueSettings(q.attributes).contentBasedDeduplication) input.dedupId = randomUUID();
    }
    await this.sendTo(q.name, input);
  }

  // ---- receive ----

  async receiveMessage(i: Input, signal?: AbortSignal): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const s = queueSettings(q.attributes);
    const max = intParam(i, 'MaxNumberOfMessages', 1, 10) ?? 1;
    const vis = intParam(i, 'VisibilityTimeout', 0, 43200, 'VisibilityTimeout must be an integer between 0 and 43200') ?? s.visibilityTimeout;
    const wait = intParam(i, 'WaitTimeSeconds', 0, 20, 'WaitTimeSeconds must be >= 0 and <= 20, if provided.') ?? s.receiveWaitSeconds;
    const system = requestedSystemAttributes(i.AttributeNames, i.MessageSystemAttributeNames);
    const attrNames = i.MessageAttributeNames;
    if (attrNames !== undefined && attrNames !== null && !Array.isArray(attrNames)) throw SqsErrors.invalidParameterValue('MessageAttributeNames must be a list');
    const attemptId = i.ReceiveRequestAttemptId;
    if (attemptId !== undefined && attemptId !== null && (typeof attemptId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(attemptId))) {
      throw SqsErrors.invalidParameterValue('Value for parameter ReceiveRequestAttemptId is invalid. Reason: It can be at most 128 characters long and contain only alphanumeric characters and punctuation.');
    }
    const receiveWire = async (): Promise<unknown> => {
      const received = await this.receive(q, { max, visibilityTimeout: vis, waitSeconds: wait, signal });
      if (received.length === 0) return {};
      return {
        Messages: received.map((m) => {
          const w: Record<string, unknown> = { MessageId: m.messageId, ReceiptHandle: m.receiptHandle, MD5OfBody: m.md5OfBody, Body: m.body };
          const attrs: Record<string, string> = {};
          for (const n of system) if (m.attributes[n] !== undefined) attrs[n] = m.attributes[n]!;
          if (Object.keys(attrs).length) w.Attributes = attrs;
          const selected = selectMessageAttributes(m.messageAttributes, attrNames as string[] | undefined);
          if (Object.keys(selected).length) {
            w.MessageAttributes = attributesToWire(selected);
            w.MD5OfMessageAttributes = md5OfMessageAttributes(selected);
          }
          return w;
        }),
      };
    };
    const attemptKey = q.fifo && typeof attemptId === 'string' ? `${q.name}\0${attemptId}` : null;
    if (!attemptKey) return receiveWire();
    const now = this.now();
    for (const [k, a] of this.attempts) if (a.until <= now) this.forgetAttempt(k);
    const again = this.attempts.get(attemptKey);
    if (again) return again.answer;
    // Kept from the start: a retry arriving while this receive still waits gets its answer too.
    const entry = { answer: receiveWire(), until: Infinity, handles: [] as string[] };
    this.attempts.set(attemptKey, entry);
    while (this.attempts.size > MAX_ATTEMPTS) this.forgetAttempt(this.attempts.keys().next().value!);
    entry.answer.then((answer) => {
      const handles = ((answer as { Messages?: Array<{ ReceiptHandle: string }> }).Messages ?? []).map((m) => m.ReceiptHandle);
      if (handles.length === 0 || this.attempts.get(attemptKey) !== entry) { this.forgetAttempt(attemptKey, entry); return; }
      entry.handles = handles;
      entry.until = this.now() + Math.min(vis, 300) * 1000;
      for (const h of handles) this.attemptOfHandle.set(h, attemptKey);
    }, () => this.forgetAttempt(attemptKey, entry));
    return entry.answer;
  }

  /** Ends the repeat of a receive attempt (expired, answered nothing, or one of its messages changed). */
  private forgetAttempt(key: string, only?: { handles: string[] }): void {
    const a = this.attempts.get(key);
    if (!a || (only && a !== only)) return;
    this.attempts.delete(key);
    for (const h of a.handles) this.attemptOfHandle.delete(h);
  }

  /** A message of a repeatable receive was deleted or its visibility changed: the receive is not repeated. */
  private messageChanged(handle: unknown): void {
    if (typeof handle !== 'string') return;
    const key = this.attemptOfHandle.get(handle);
    if (key) this.forgetAttempt(key);
  }

  /**
   * Receives up to `max` messages, long-polling up to `waitSeconds`: returns as soon as some
   * arrive (woken in process by sends and visibility changes), empty at the deadline or abort.
   */
  async receive(
    q: QueueRecord,
    o: { max: number; visibilityTimeout?: number; waitSeconds: number; signal?: AbortSignal },
  ): Promise<ReceivedMessage[]> {
    const s = queueSettings(q.attributes);
    const vis = o.visibilityTimeout ?? s.visibilityTimeout;
    const deadline = this.now() + o.waitSeconds * 1000;
    let redrive: { dlq: string; maxReceiveCount: number; sourceArn: string } | undefined;
    const dlq = await this.deadLetterQueueOf(s);
    if (dlq && s.redrive) redrive = { dlq: dlq.name, maxReceiveCount: s.redrive.maxReceiveCount, sourceArn: this.queueArn(q.name) };
    for (;;) {
      const seen = this.signals.version(q.name);
      const now = this.now();
      const nonce = randomBytes(12).toString('base64url');
      const r = await this.store.receive(q.name, q.fifo, {
        max: o.max, now, visibleAt: now + vis * 1000, nonce, minSentAt: now - s.retentionSeconds * 1000,
        ...(redrive ? { redrive } : {}),
      });
      if (r.moved > 0 && redrive) this.changed(redrive.dlq);
      if (r.messages.length > 0) return r.messages.map((m) => this.toReceived(q, m));
      if (o.signal?.aborted || this.signals.isClosed || this.now() >= deadline) return [];
      const next = await this.store.nextVisibleAt(q.name, now);
      let until = Math.min(deadline, next ?? deadline);
      if (this.deps.recheckMs) until = Math.min(until, this.now() + this.deps.recheckMs);
      await this.signals.wait(q.name, seen, until, o.signal);
      if (o.signal?.aborted || this.signals.isClosed) return [];
      // The queue may have been deleted while waiting.
      if (!(await this.store.getQueue(q.name))) return [];
    }
  }

  /** In-process receive by queue name (event source mappings). */
  async receiveFrom(queueName: string, o: { max: number; waitSeconds: number; visibilityTimeout?: number; signal?: AbortSignal }): Promise<ReceivedMessage[]> {
    const q = await this.getQueue(queueName);
    if (!q) throw SqsErrors.queueDoesNotExist();
    return this.receive(q, o);
  }

  private toReceived(q: QueueRecord, m: StoredMessage): ReceivedMessage {
    const attributes: Record<string, string> = {
      SenderId: m.sender,
      SentTimestamp: String(m.sentAt),
      ApproximateReceiveCount: String(m.receiveCount),
      ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt ?? m.sentAt),
    };
    if (q.fifo) {
      attributes.SequenceNumber = formatSequenceNumber(m.seq);
      if (m.dedupId !== undefined) attributes.MessageDeduplicationId = m.dedupId;
    }
    if (m.groupId !== undefined) attributes.MessageGroupId = m.groupId;
    if (m.traceHeader) attributes.AWSTraceHeader = m.traceHeader;
    if (m.dlqSource) attributes.DeadLetterQueueSourceArn = m.dlqSource;
    const out: ReceivedMessage = {
      messageId: m.id,
      receiptHandle: encodeReceiptHandle(q.name, m.id, m.receipt!),
      body: m.body,
      md5OfBody: m.md5Body,
      attributes,
      messageAttributes: m.attrs,
      queue: q.name,
    };
    if (m.groupId !== undefined) out.groupId = m.groupId;
    return out;
  }

  // ---- delete / visibility ----

  private handle(q: QueueRecord, handle: unknown): { messageId: string; nonce: string } {
    if (handle === undefined || handle === null || handle === '') throw SqsErrors.missingParameter('ReceiptHandle');
    const h = decodeReceiptHandle(handle);
    if (!h || h.queue !== q.name) throw SqsErrors.receiptHandleInvalid(String(handle));
    return h;
  }

  async deleteMessage(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const h = this.handle(q, i.ReceiptHandle);
    if (q.fifo) {
      // FIFO queues refuse a handle whose visibility timeout has ended; the message stays. A
      // standard queue ignores a stale handle (the delete succeeds and deletes nothing).
      const expired = await this.store.deleteInFlight(q.name, [{ id: h.messageId, nonce: h.nonce }], this.now());
      this.messageChanged(i.ReceiptHandle);
      if (expired.length) throw SqsErrors.receiptHandleExpired(String(i.ReceiptHandle));
      this.changed(q.name);
      return {};
    }
    await this.store.deleteMessage(q.name, h.messageId, h.nonce);
    this.messageChanged(i.ReceiptHandle);
    return {};
  }

  async deleteMessageBatch(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const entries = validateBatchEntries(i.Entries, 'DeleteMessageBatch');
    const failed: Record<string, unknown>[] = [];
    const ok: { id: string; handle: string; ref: { id: string; nonce: string } }[] = [];
    for (const e of entries) {
      try {
        const h = this.handle(q, e.ReceiptHandle);
        ok.push({ id: e.Id as string, handle: String(e.ReceiptHandle), ref: { id: h.messageId, nonce: h.nonce } });
      } catch (err) {
        failed.push(batchError(e.Id as string, err));
      }
    }
    let deleted = ok;
    if (q.fifo) {
      // As DeleteMessage: an expired handle is a failed entry, its message stays.
      const expired = new Set(await this.store.deleteInFlight(q.name, ok.map((x) => x.ref), this.now()));
      deleted = ok.filter((x) => !expired.has(x.ref.id));
      for (const x of ok) if (expired.has(x.ref.id)) failed.push(batchError(x.id, SqsErrors.receiptHandleExpired(x.handle)));
    } else if (ok.length) {
      await this.store.deleteMessages(q.name, ok.map((x) => x.ref));
    }
    for (const e of entries) this.messageChanged(e.ReceiptHandle);
    if (q.fifo) this.changed(q.name);
    return { Successful: deleted.map((x) => ({ Id: x.id })), Failed: failed };
  }

  /** In-process delete by receipt handles (event source mappings, after success). */
  async deleteReceived(queueName: string, handles: string[]): Promise<void> {
    const refs = handles.map((h) => decodeReceiptHandle(h)).filter((h): h is NonNullable<typeof h> => !!h && h.queue === queueName);
    if (refs.length === 0) return;
    await this.store.deleteMessages(queueName, refs.map((r) => ({ id: r.messageId, nonce: r.nonce })));
    const q = await this.getQueue(queueName);
    if (q?.fifo) this.changed(queueName);
  }

  /** In-process visibility change (a poller releasing messages it will not process now). */
  async setVisibility(queueName: string, handles: string[], seconds: number): Promise<void> {
    const now = this.now();
    for (const h of handles) {
      const r = decodeReceiptHandle(h);
      if (r && r.queue === queueName) await this.store.changeVisibility(queueName, r.messageId, r.nonce, now + seconds * 1000, now);
    }
    this.changed(queueName);
  }

  private async changeOne(q: QueueRecord, handle: unknown, timeout: unknown): Promise<void> {
    const h = this.handle(q, handle);
    if (timeout === undefined || timeout === null) throw SqsErrors.missingParameter('VisibilityTimeout');
    const t = intParam({ VisibilityTimeout: timeout }, 'VisibilityTimeout', 0, 43200, 'VisibilityTimeout must be an integer between 0 and 43200')!;
    const now = this.now();
    const r = await this.store.changeVisibility(q.name, h.messageId, h.nonce, now + t * 1000, now);
    this.messageChanged(handle);
    if (r === 'not-inflight') throw SqsErrors.messageNotInflight();
    if (r === 'missing') {
      throw SqsErrors.invalidParameterValue(`Value ${String(handle)} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`);
    }
    if (t === 0 || q.fifo) this.changed(q.name);
  }

  async changeMessageVisibility(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    await this.changeOne(q, i.ReceiptHandle, i.VisibilityTimeout);
    return {};
  }

  async changeMessageVisibilityBatch(i: Input): Promise<unknown> {
    const q = await this.queueFromUrl(i.QueueUrl);
    const entries = validateBatchEntries(i.Entries, 'ChangeMessageVisibilityBatch');
    const ok: { Id: string }[] = [];
    const failed: Record<string, unknown>[] = [];
    for (const e of entries) {
      try {
        await this.changeOne(q, e.ReceiptHandle, e.VisibilityTimeout);
        ok.push({ Id: e.Id as string });
      } catch (err) {
        failed.push(batchError(e.Id as string, err));
      }
    }
    return { Successful: ok, Failed: failed };
  }

  /** Deletes expired messages and deduplication ids (the module runs this periodically). */
  sweep(): Promise<number> {
    return this.store.sweep(this.now());
  }
}

/** The queue name a NextToken (ListQueues, ListDeadLetterSourceQueues) continues after; undefined when none is given. */
function pageAfter(token: unknown): string | undefined {
  if (token === undefined || token === null || token === '') return undefined;
  let after: unknown;
  try {
    after = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')).after;
  } catch {
    throw SqsErrors.invalidParameterValue('Invalid NextToken value.');
  }
  if (typeof after !== 'string') throw SqsErrors.invalidParameterValue('Invalid NextToken value.');
  return after;
}

function nextToken(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64');
}

/**
 * A batch entry's bytes as the single send counts them against MaximumMessageSize (body and
 * message attributes), for the batch's 1 MiB total. Attributes that do not parse count nothing:
 * that entry fails on its own.
 */
function messageBytes(e: Input): number {
  let attrs = 0;
  try {
    attrs = parseMessageAttributes(e.MessageAttributes).size;
  } catch {
    /* reported as the entry's failure */
  }
  return (typeof e.MessageBody === 'string' ? Buffer.byteLength(e.MessageBody) : 0) + attrs;
}

function batchError(id: string, err: unknown): Record<string, unknown> {
  const e: StratusError = isStratusError(err) ? err : new StratusError('InternalError', 500, (err as Error)?.message ?? String(err));
  return { Id: id, SenderFault: e.status < 500, Code: e.code, Message: e.message };
}

function validateTags(input: unknown): Record<string, string> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw SqsErrors.invalidParameterValue('Tags must be a map');
  const out: Record<string, string> = {};
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > MAX_TAGS) throw SqsErrors.invalidParameterValue('Too many tags.');
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 128) throw SqsErrors.invalidParameterValue(`Tag key ${k} is invalid.`);
    if (typeof v !== 'string' || v.length > 256) throw SqsErrors.invalidParameterValue(`Tag value for ${k} is invalid.`);
    out[k] = v;
  }
  return out;
}
