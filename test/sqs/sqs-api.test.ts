import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand,
  DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListDeadLetterSourceQueuesCommand, ListQueuesCommand, ListQueueTagsCommand, PurgeQueueCommand,
  ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SetQueueAttributesCommand, SQSClient, TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { md5OfMessageAttributes } from '../../src/core/sqs-md5.js';
import { sdkConfig as clientConfig, startSqsServer, type SqsServer } from './harness.js';

let server: SqsServer;
let sqs: SQSClient;

before(async () => {
  server = await startSqsServer();
  sqs = new SQSClient(clientConfig(server.endpoint));
});
after(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function rejects(p: Promise<unknown>, name: string): Promise<Error & Record<string, any>> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & Record<string, any>;
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${name}`);
}

const create = async (QueueName: string, Attributes?: Record<string, string>) =>
  (await sqs.send(new CreateQueueCommand({ QueueName, ...(Attributes ? { Attributes } : {}) }))).QueueUrl!;

describe('queues', () => {
  test('create (idempotent), get URL, attributes, conflicts', async () => {
    const url = await create('orders', { VisibilityTimeout: '45', DelaySeconds: '0' });
    assert.equal(url, `${server.endpoint}/000000000000/orders`);
    assert.equal(await create('orders', { VisibilityTimeout: '45' }), url);
    const err = await rejects(sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '46' } })), 'QueueNameExists');
    assert.match(err.message, /VisibilityTimeout/);
    assert.equal((await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }))).QueueUrl, url);
    await rejects(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })), 'QueueDoesNotExist');
    const all = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes!;
    assert.equal(all.VisibilityTimeout, '45');
    assert.equal(all.QueueArn, 'arn:aws:sqs:us-east-1:000000000000:orders');
    assert.equal(all.ApproximateNumberOfMessages, '0');
    assert.equal(all.ApproximateNumberOfMessagesNotVisible, '0');
    assert.equal(all.ApproximateNumberOfMessagesDelayed, '0');
    assert.equal(all.MessageRetentionPeriod, '345600');
    assert.equal(all.MaximumMessageSize, '1048576');
    assert.equal(all.ReceiveMessageWaitTimeSeconds, '0');
    assert.equal(all.DelaySeconds, '0');
    assert.match(all.CreatedTimestamp!, /^\d{10}$/);
    assert.match(all.LastModifiedTimestamp!, /^\d{10}$/);
    assert.equal(all.FifoQueue, undefined);
    const named = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'DelaySeconds'] }))).Attributes!;
    assert.deepEqual(Object.keys(named).sort(), ['DelaySeconds', 'QueueArn']);
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '10', ReceiveMessageWaitTimeSeconds: '1' } }));
    const after = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout', 'ReceiveMessageWaitTimeSeconds'] }))).Attributes!;
    assert.deepEqual(after, { VisibilityTimeout: '10', ReceiveMessageWaitTimeSeconds: '1' });
    await rejects(sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '-1' } })), 'InvalidAttributeValue');
    await rejects(sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Bogus: '1' } as any })), 'InvalidAttributeName');
    await rejects(sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Bogus' as any] })), 'InvalidAttributeName');
    await rejects(sqs.send(new CreateQueueCommand({ QueueName: 'bad name!' })), 'InvalidParameterValue');
  });

  test('FifoQueue and the .fifo suffix must agree', async () => {
    const fifoName = 'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.';
    const plainName = 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length';
    const err = async (QueueName: string, Attributes: Record<string, string> | undefined, message: string) => {
      const e = await rejects(sqs.send(new CreateQueueCommand({ QueueName, ...(Attributes ? { Attributes } : {}) })), 'InvalidParameterValue');
      assert.equal(e.message, message);
      assert.equal(e.$metadata.httpStatusCode, 400);
    };
    await err('wants-fifo', { FifoQueue: 'true' }, fifoName);
    await err('bad name!.fifo', { FifoQueue: 'true' }, fifoName);
    await err('suffix-only.fifo', undefined, plainName);
    await err('suffix-only.fifo', { FifoQueue: 'false' }, plainName);
    await create('both.fifo', { FifoQueue: 'true' });
    await create('neither', { FifoQueue: 'false' });
  });

  test('list with prefix and paging; delete', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await create(n);
    const first = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'page-', MaxResults: 2 }));
    assert.equal(first.QueueUrls!.length, 2);
    assert.ok(first.NextToken);
    const second = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'page-', MaxResults: 2, NextToken: first.NextToken! }));
    assert.deepEqual(second.QueueUrls!.map((u) => u.split('/').pop()), ['page-c']);
    assert.equal(second.NextToken, undefined);
    const everything = await sqs.send(new ListQueuesCommand({}));
    assert.ok(everything.QueueUrls!.length >= 4);
    await sqs.send(new DeleteQueueCommand({ QueueUrl: first.QueueUrls![0]! }));
    await rejects(sqs.send(new DeleteQueueCommand({ QueueUrl: first.QueueUrls![0]! })), 'QueueDoesNotExist');
    const left = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'page-' }));
    assert.equal(left.QueueUrls!.length, 2);
  });

  test('dead-letter source queues: all, or by pages of MaxResults', async () => {
    const dlq = await create('sources-dlq');
    const policy = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:sources-dlq', maxReceiveCount: 3 });
    for (const n of ['src-c', 'src-a', 'src-b']) await create(n, { RedrivePolicy: policy });
    await create('src-unrelated');
    const names = (urls?: string[]) => (urls ?? []).map((u) => u.split('/').pop());
    const all = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
    assert.deepEqual(names(all.queueUrls), ['src-a', 'src-b', 'src-c']);
    assert.equal(all.NextToken, undefined);
    const first = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq, MaxResults: 2 }));
    assert.deepEqual(names(first.queueUrls), ['src-a', 'src-b']);
    assert.ok(first.NextToken);
    const second = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq, MaxResults: 2, NextToken: first.NextToken! }));
    assert.deepEqual(names(second.queueUrls), ['src-c']);
    assert.equal(second.NextToken, undefined);
    await rejects(sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq, MaxResults: 0 })), 'InvalidParameterValue');
    await rejects(sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq, MaxResults: 1001 })), 'InvalidParameterValue');
    await rejects(sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq, MaxResults: 2, NextToken: 'garbage' })), 'InvalidParameterValue');
  });

  test('tags', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'tagged', tags: { team: 'a', env: 'dev' } }))).QueueUrl!;
    assert.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { team: 'a', env: 'dev' });
    await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { env: 'prod', x: '1' } }));
    await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ['team'] }));
    assert.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { env: 'prod', x: '1' });
  });

  test('errors carry __type and x-amzn-query-error', async () => {
    const r = await fetch(`${server.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.GetQueueUrl' },
      body: JSON.stringify({ QueueName: 'missing' }),
    });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-amzn-query-error'), 'AWS.SimpleQueueService.NonExistentQueue;Sender');
    assert.match(r.headers.get('content-type') ?? '', /^application\/x-amz-json-1.0/);
    const body = (await r.json()) as Record<string, string>;
    assert.equal(body.__type, 'com.amazonaws.sqs#QueueDoesNotExist');
    assert.equal(body.message, 'The specified queue does not exist.');
  });
});

describe('messages', () => {
  test('send with attributes; receive with system and message attributes (SDK checks MD5s)', async () => {
    const url = await create('msgs');
    const sent = await sqs.send(new SendMessageCommand({
      QueueUrl: url,
      MessageBody: 'hello \u00fc \u{1F600}',
      MessageAttributes: {
        SellerName: { DataType: 'String', StringValue: 'Example Store' },
        'meta.count': { DataType: 'Number', StringValue: '3' },
        'meta.raw': { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
      },
    }));
    assert.ok(sent.MessageId);
    assert.equal(sent.SequenceNumber, undefined);
    assert.equal(sent.MD5OfMessageAttributes, md5OfMessageAttributes({
      SellerName: { DataType: 'String', StringValue: 'Example Store' },
      'meta.count': { DataType: 'Number', StringValue: '3' },
      'meta.raw': { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
    }));
    const got = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: url, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['meta.*'], MaxNumberOfMessages: 10,
    }));
    assert.equal(got.Messages!.length, 1);
    const m = got.Messages![0]!;
    assert.equal(m.MessageId, sent.MessageId);
    assert.equal(m.Body, 'hello \u00fc \u{1F600}');
    assert.equal(m.Attributes!.ApproximateReceiveCount, '1');
    assert.equal(m.Attributes!.SenderId, '000000000000');
    assert.match(m.Attributes!.SentTimestamp!, /^\d{13}$/);
    assert.match(m.Attributes!.ApproximateFirstReceiveTimestamp!, /^\d{13}$/);
    assert.deepEqual(Object.keys(m.MessageAttributes!).sort(), ['meta.count', 'meta.raw']);
    assert.deepEqual(Buffer.from(m.MessageAttributes!['meta.raw']!.BinaryValue!), Buffer.from([0, 1, 2, 255]));
    assert.equal(m.MD5OfMessageAttributes, md5OfMessageAttributes({
      'meta.count': { DataType: 'Number', StringValue: '3' },
      'meta.raw': { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
    }));
    await rejects(sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'garbage' })), 'ReceiptHandleIsInvalid');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes!;
    assert.deepEqual(attrs, { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    await rejects(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x\u0000' })), 'InvalidMessageContents');
    await rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 11 })), 'InvalidParameterValue');
  });

  test('the request\'s X-Amzn-Trace-Id is the AWSTraceHeader of the messages it sends, unless one names its own (as the SDKs in a Lambda function send it)', async () => {
    const url = await create('traced');
    const header = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const own = 'Root=1-5759e988-000000000000000000000001;Parent=0000000000000001;Sampled=0';
    const call = async (target: string, body: unknown) => {
      const res = await fetch(server.endpoint, {
        method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${target}`, 'x-amzn-trace-id': header },
      });
      assert.equal(res.status, 200, await res.clone().text());
      return res.json() as Promise<Record<string, any>>;
    };
    const one = await call('SendMessage', { QueueUrl: url, MessageBody: 'one' });
    assert.equal(one.MD5OfMessageSystemAttributes, undefined, 'no system attribute was sent');
    const batch = await call('SendMessageBatch', {
      QueueUrl: url, Entries: [
        { Id: 'a', MessageBody: 'two' },
        { Id: 'b', MessageBody: 'three', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: own } } },
      ],
    });
    assert.equal(batch.Successful[1].MD5OfMessageSystemAttributes, md5OfMessageAttributes({ AWSTraceHeader: { DataType: 'String', StringValue: own } }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['AWSTraceHeader'], MaxNumberOfMessages: 10 }));
    const traces = Object.fromEntries(got.Messages!.map((m) => [m.Body, m.Attributes?.AWSTraceHeader]));
    assert.deepEqual(traces, { one: header, two: header, three: own });
  });

  test('batches: send, delete and change visibility with per-entry failures', async () => {
    const url = await create('batches');
    const res = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [
        { Id: 'one', MessageBody: 'b1' },
        { Id: 'two', MessageBody: 'b2', DelaySeconds: 600 },
        { Id: 'bad', MessageBody: 'b3', MessageAttributes: { n: { DataType: 'Number', StringValue: 'abc' } } },
      ],
    }));
    assert.deepEqual(res.Successful!.map((s) => s.Id).sort(), ['one', 'two']);
    assert.equal(res.Failed!.length, 1);
    assert.equal(res.Failed![0]!.Id, 'bad');
    assert.equal(res.Failed![0]!.SenderFault, true);
    assert.equal(res.Failed![0]!.Code, 'InvalidParameterValue');
    const counts = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes!;
    assert.equal(counts.ApproximateNumberOfMessages, '1');
    assert.equal(counts.ApproximateNumberOfMessagesDelayed, '1');
    await rejects(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [] })), 'EmptyBatchRequest');
    await rejects(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'a', MessageBody: 'y' }] })), 'BatchEntryIdsNotDistinct');
    await rejects(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' })) })), 'TooManyEntriesInBatchRequest');
    await rejects(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'no spaces', MessageBody: 'x' }] })), 'InvalidBatchEntryId');

    const [m] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 300 }))).Messages!;
    const vis = await sqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: url,
      Entries: [{ Id: 'ok', ReceiptHandle: m!.ReceiptHandle!, VisibilityTimeout: 0 }, { Id: 'bad', ReceiptHandle: 'zzz', VisibilityTimeout: 0 }],
    }));
    assert.deepEqual(vis.Successful!.map((s) => s.Id), ['ok']);
    assert.equal(vis.Failed![0]!.Code, 'ReceiptHandleIsInvalid');
    const again = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages!;
    assert.equal(again[0]!.MessageId, m!.MessageId);
    const del = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: [{ Id: 'ok', ReceiptHandle: again[0]!.ReceiptHandle! }, { Id: 'bad', ReceiptHandle: 'zzz' }],
    }));
    assert.deepEqual(del.Successful!.map((s) => s.Id), ['ok']);
    assert.equal(del.Failed![0]!.Code, 'ReceiptHandleIsInvalid');
  });

  test('the batch size limit counts message attributes as the single send does', async () => {
    const url = await create('batch-size');
    // 10 x (100,000 body + 10,000 attribute value) bytes: the bodies alone fit in 1 MiB, with attributes they do not.
    const entry = (n: number) => ({
      Id: `e${n}`, MessageBody: 'x'.repeat(100_000), MessageAttributes: { a: { DataType: 'String', StringValue: 'y'.repeat(10_000) } },
    });
    const err = await rejects(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 10 }, (_, n) => entry(n)) })), 'BatchRequestTooLong');
    assert.match(err.message, /^Batch requests cannot be longer than 1048576 bytes\. You have sent 11000\d\d bytes\.$/);
    const fits = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 9 }, (_, n) => entry(n)) }));
    assert.equal(fits.Successful!.length, 9);
  });

  test('long polling returns as soon as a message arrives', async () => {
    const url = await create('longpoll');
    const t0 = Date.now();
    const pending = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
    await new Promise((r) => setTimeout(r, 300));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
    const got = await pending;
    assert.equal(got.Messages?.[0]?.Body, 'wake up');
    // Far below the 20 s wait: it was woken, not timed out (generous bound for a busy machine).
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    const empty = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
    assert.equal(empty.Messages, undefined);
  });

  test('visibility timeout: hidden, then visible again with a higher receive count', async () => {
    const url = await create('visibility');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'v' }));
    const first = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 1 }))).Messages!;
    assert.equal(first.length, 1);
    assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined);
    const second = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))).Messages!;
    assert.equal(second[0]!.MessageId, first[0]!.MessageId);
    assert.equal(second[0]!.Attributes!.ApproximateReceiveCount, '2');
    // The first receipt handle is stale: deleting with it does not delete.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first[0]!.ReceiptHandle! }));
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: second[0]!.ReceiptHandle!, VisibilityTimeout: 0 }));
    const third = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages!;
    assert.equal(third[0]!.MessageId, first[0]!.MessageId);
  });

  test('purge, once a minute', async () => {
    const url = await create('purged');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined);
    await rejects(sqs.send(new PurgeQueueCommand({ QueueUrl: url })), 'PurgeQueueInProgress');
  });

  test('redrive: moved to the dead-letter queue after maxReceiveCount', async () => {
    const dlqUrl = await create('dead');
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await rejects(sqs.send(new CreateQueueCommand({
      QueueName: 'live', Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn.replace('dead', 'nothere'), maxReceiveCount: 2 }) },
    })), 'InvalidAttributeValue');
    const url = await create('live', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) });
    const attr = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }))).Attributes!;
    assert.deepEqual(JSON.parse(attr.RedrivePolicy!), { deadLetterTargetArn: dlqArn, maxReceiveCount: 2 });
    const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    const seen: Record<string, string>[] = [];
    for (let i = 0; i < 2; i++) {
      const got = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, MessageSystemAttributeNames: ['All'] }))).Messages!;
      assert.equal(got[0]!.MessageId, MessageId);
      seen.push(got[0]!.Attributes!);
    }
    assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined);
    const dead = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['All'] }))).Messages!;
    assert.equal(dead[0]!.MessageId, MessageId);
    assert.equal(dead[0]!.Body, 'poison');
    assert.equal(dead[0]!.Attributes!.DeadLetterQueueSourceArn, 'arn:aws:sqs:us-east-1:000000000000:live');
    // The receive count and first receive carry over; a standard queue keeps the enqueue timestamp.
    assert.equal(dead[0]!.Attributes!.ApproximateReceiveCount, '3');
    assert.equal(dead[0]!.Attributes!.ApproximateFirstReceiveTimestamp, seen[0]!.ApproximateFirstReceiveTimestamp);
    assert.equal(dead[0]!.Attributes!.SentTimestamp, seen[0]!.SentTimestamp);
  });

  test("redrive: the dead-letter queue's RedriveAllowPolicy decides which sources may name it", async () => {
    const policy = (dlq: string) => JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${dlq}`, maxReceiveCount: 2 });
    const refused = (e: any) => e.name === 'InvalidParameterValue' && /Dead-letter target does not allow this queue as its source/.test(e.message);
    await create('deny-dlq', { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'denyAll' }) });
    await assert.rejects(sqs.send(new CreateQueueCommand({ QueueName: 'deny-src', Attributes: { RedrivePolicy: policy('deny-dlq') } })), refused);
    await create('by-dlq', { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: ['arn:aws:sqs:us-east-1:000000000000:by-allowed'] }) });
    await create('by-allowed', { RedrivePolicy: policy('by-dlq') });
    await assert.rejects(sqs.send(new CreateQueueCommand({ QueueName: 'by-other', Attributes: { RedrivePolicy: policy('by-dlq') } })), refused);
    const other = await create('by-other');
    await assert.rejects(sqs.send(new SetQueueAttributesCommand({ QueueUrl: other, Attributes: { RedrivePolicy: policy('by-dlq') } })), refused);
    await create('all-dlq', { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'allowAll' }) });
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: other, Attributes: { RedrivePolicy: policy('all-dlq') } }));
  });
});

describe('FIFO queues', () => {
  test('ordering per group, group held while in flight, sequence numbers', async () => {
    const url = await create('orders.fifo', { FifoQueue: 'true' });
    await rejects(sqs.send(new CreateQueueCommand({ QueueName: 'nofifo.fifo' })), 'InvalidParameterValue');
    const seqs: string[] = [];
    for (const [g, b] of [['A', 'a1'], ['B', 'b1'], ['A', 'a2'], ['A', 'a3'], ['B', 'b2']]) {
      const r = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: b, MessageGroupId: g, MessageDeduplicationId: b }));
      assert.match(r.SequenceNumber!, /^\d{20}$/);
      seqs.push(r.SequenceNumber!);
    }
    assert.deepEqual([...seqs].sort(), seqs, 'sequence numbers increase');
    await rejects(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageDeduplicationId: 'x' })), 'MissingParameter');
    await rejects(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageGroupId: 'A' })), 'InvalidParameterValue');
    const first = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 2, MessageSystemAttributeNames: ['All'] }))).Messages!;
    assert.deepEqual(first.map((m) => m.Body), ['a1', 'b1']);
    assert.equal(first[0]!.Attributes!.MessageGroupId, 'A');
    assert.equal(first[0]!.Attributes!.MessageDeduplicationId, 'a1');
    assert.equal(first[0]!.Attributes!.SequenceNumber, seqs[0]);
    // Both groups have a message in flight: nothing more is delivered.
    assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }))).Messages, undefined);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first[0]!.ReceiptHandle! }));
    const next = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }))).Messages!;
    assert.deepEqual(next.map((m) => m.Body), ['a2', 'a3']);
    // b1 returns to the queue: it comes before b2.
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: first[1]!.ReceiptHandle!, VisibilityTimeout: 0 }));
    const b = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }))).Messages!;
    assert.deepEqual(b.map((m) => m.Body), ['b1', 'b2']);
  });

  test('a receive retried with the same ReceiveRequestAttemptId gets the same messages and receipt handles', async () => {
    const url = await create('attempt.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    for (let i = 0; i < 4; i++) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `m${i}`, MessageGroupId: `g${i % 2}` }));
    const receive = (ReceiveRequestAttemptId?: string) => sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 2, ReceiveRequestAttemptId }));
    const a = (await receive('att-1')).Messages!;
    assert.deepEqual(a.map((m) => m.Body), ['m0', 'm1']);
    const again = (await receive('att-1')).Messages!;
    assert.deepEqual(again.map((m) => [m.Body, m.ReceiptHandle]), a.map((m) => [m.Body, m.ReceiptHandle]));
    // Another attempt id is another receive: both groups are in flight, nothing comes.
    assert.equal((await receive('att-2')).Messages, undefined);
    await rejects(receive('x'.repeat(129)), 'InvalidParameterValue');
    // Once one of its messages is deleted, the attempt is not repeated: a retry receives anew.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: a[0]!.ReceiptHandle! }));
    const after = (await receive('att-1')).Messages ?? [];
    assert.ok(!after.some((m) => m.ReceiptHandle === a[0]!.ReceiptHandle), 'no dead receipt handle comes back');
    assert.deepEqual(after.map((m) => m.Body), ['m2']);
    // Two receives with one attempt id at the same time get one answer.
    for (const m of [...after, a[1]!]) await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
    const [x, y] = await Promise.all([receive('att-3'), receive('att-3')]);
    assert.deepEqual(x.Messages!.map((m) => m.ReceiptHandle), y.Messages!.map((m) => m.ReceiptHandle));
    assert.deepEqual(x.Messages!.map((m) => m.Body), ['m3']);
  });

  test('a message moved to a FIFO dead-letter queue gets a new enqueue timestamp and sequence number', async () => {
    const dlqUrl = await create('fdead.fifo', { FifoQueue: 'true' });
    const url = await create('flive.fifo', {
      FifoQueue: 'true', ContentBasedDeduplication: 'true',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:fdead.fifo', maxReceiveCount: 1 }),
    });
    const poison = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison', MessageGroupId: 'g' }));
    // Already in the DLQ before the move (sent after the poison message, so with a higher sequence number).
    const earlier = await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'earlier', MessageGroupId: 'g', MessageDeduplicationId: 'e' }));
    const first = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, MessageSystemAttributeNames: ['All'] }))).Messages!;
    assert.equal(first[0]!.MessageId, poison.MessageId);
    await new Promise((r) => setTimeout(r, 20));
    const movedAt = Date.now();
    assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined);
    const dead = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }))).Messages!;
    // The moved message queues behind what the DLQ already held.
    assert.deepEqual(dead.map((m) => m.Body), ['earlier', 'poison']);
    const moved = dead[1]!.Attributes!;
    assert.ok(Number(moved.SentTimestamp) >= movedAt, `SentTimestamp ${moved.SentTimestamp} is from before the move (${movedAt})`);
    assert.ok(BigInt(moved.SequenceNumber!) > BigInt(earlier.SequenceNumber!));
    assert.notEqual(moved.SequenceNumber, poison.SequenceNumber);
    assert.equal(moved.MessageGroupId, 'g');
    assert.equal(moved.ApproximateReceiveCount, '2');
  });

  test('a receipt handle whose visibility timeout has expired no longer deletes (FIFO)', async () => {
    const url = await create('expired.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late', MessageGroupId: 'g' }));
    // Visibility timeout 0: the handle expires at once.
    const [first] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0 }))).Messages!;
    const expired = (handle: string) => (e: any) =>
      e.name === 'InvalidParameterValue' && e.$metadata.httpStatusCode === 400
      && e.message === `Value ${handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`;
    await assert.rejects(sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first!.ReceiptHandle! })), expired(first!.ReceiptHandle!));
    // The message stays and is delivered again; the old handle stays expired once it is received again.
    const [second] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 60 }))).Messages!;
    assert.equal(second!.MessageId, MessageId);
    await assert.rejects(sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first!.ReceiptHandle! })), expired(first!.ReceiptHandle!));
    const batch = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: url, Entries: [{ Id: 'old', ReceiptHandle: first!.ReceiptHandle! }],
    }));
    assert.deepEqual(batch.Successful, []);
    assert.deepEqual(batch.Failed, [{
      Id: 'old', SenderFault: true, Code: 'InvalidParameterValue',
      Message: `Value ${first!.ReceiptHandle!} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`,
    }]);
    const ok = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'new', ReceiptHandle: second!.ReceiptHandle! }] }));
    assert.deepEqual(ok.Successful!.map((x) => x.Id), ['new']);
    const left = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes!;
    assert.deepEqual(left, { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    // Deleting again with the handle of the deleted message is a success, as before.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: second!.ReceiptHandle! }));
  });

  test('deduplication by id and by content', async () => {
    const url = await create('dedup.fifo', { FifoQueue: 'true' });
    const a = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'one', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));
    const b = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'other body', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));
    assert.equal(b.MessageId, a.MessageId);
    assert.equal(b.SequenceNumber, a.SequenceNumber);
    const curl = await create('content.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    const c1 = await sqs.send(new SendMessageCommand({ QueueUrl: curl, MessageBody: 'same', MessageGroupId: 'g' }));
    const c2 = await sqs.send(new SendMessageCommand({ QueueUrl: curl, MessageBody: 'same', MessageGroupId: 'g' }));
    const c3 = await sqs.send(new SendMessageCommand({ QueueUrl: curl, MessageBody: 'different', MessageGroupId: 'g' }));
    assert.equal(c2.MessageId, c1.MessageId);
    assert.notEqual(c3.MessageId, c1.MessageId);
    const got = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: curl, MaxNumberOfMessages: 10 }))).Messages!;
    assert.deepEqual(got.map((m) => m.Body), ['same', 'different']);
    const counts = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'FifoQueue', 'ContentBasedDeduplication'] }))).Attributes!;
    assert.deepEqual(counts, { ApproximateNumberOfMessages: '1', FifoQueue: 'true', ContentBasedDeduplication: 'false' });
  });
});

describe('delivery target and durability', () => {
  test("the 'sqs' target delivers by ARN with String/Number attributes", async () => {
    const url = await create('dlq-target');
    await server.targets.deliver('arn:aws:sqs:us-east-1:000000000000:dlq-target', {
      body: '{"original":true}',
      attributes: { RequestID: 'req-1', ErrorCode: '200', ErrorMessage: 'boom' },
      attributeDataTypes: { ErrorCode: 'Number' },
    });
    const [m] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] }))).Messages!;
    assert.equal(m!.Body, '{"original":true}');
    assert.deepEqual(m!.MessageAttributes, {
      RequestID: { DataType: 'String', StringValue: 'req-1' },
      ErrorCode: { DataType: 'Number', StringValue: '200' },
      ErrorMessage: { DataType: 'String', StringValue: 'boom' },
    });
    await assert.rejects(server.targets.deliver('arn:aws:sqs:us-east-1:000000000000:missing', { body: 'x' }), /ResourceNotFound|does not exist/);
  });

  test('messages survive a restart of the server on the same data dir', async () => {
    const dataDir = (await import('node:fs')).mkdtempSync((await import('node:path')).join((await import('node:os')).tmpdir(), 'stratus-sqs-dur-'));
    let s1: SqsServer | undefined = await startSqsServer({ dataDir });
    let c = new SQSClient(clientConfig(s1.endpoint));
    try {
      const url = (await c.send(new CreateQueueCommand({ QueueName: 'durable' }))).QueueUrl!;
      await c.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'kept' }));
      c.destroy();
      await s1.stop({ keepData: true });
      s1 = await startSqsServer({ dataDir });
      c = new SQSClient(clientConfig(s1.endpoint));
      const url2 = (await c.send(new GetQueueUrlCommand({ QueueName: 'durable' }))).QueueUrl!;
      const got = (await c.send(new ReceiveMessageCommand({ QueueUrl: url2 }))).Messages!;
      assert.equal(got[0]!.Body, 'kept');
    } finally {
      c.destroy();
      await s1?.stop({ keepData: true });
      (await import('node:fs')).rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('the aws CLI sends and receives', async (t) => {
    const which = spawnSync('aws', ['--version'], { encoding: 'utf8' });
    if (which.error) {
      t.skip('aws CLI not on PATH');
      return;
    }
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };
    // The server runs in this process: the CLI must run asynchronously (never spawnSync).
    const run = async (args: string[]) => {
      try {
        const r = await promisify(execFile)('aws', ['--endpoint-url', server.endpoint, '--output', 'json', ...args], { env, timeout: 60_000 });
        return { status: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { status: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    };
    const aws = async (...args: string[]) => {
      const r = await run(['sqs', ...args]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout ? JSON.parse(r.stdout) : {};
    };
    const { QueueUrl } = await aws('create-queue', '--queue-name', 'cli-queue');
    const sent = await aws('send-message', '--queue-url', QueueUrl, '--message-body', 'from the cli', '--message-attributes', '{"k":{"DataType":"String","StringValue":"v"}}');
    assert.ok(sent.MessageId);
    const got = await aws('receive-message', '--queue-url', QueueUrl, '--message-attribute-names', 'All', '--attribute-names', 'All');
    assert.equal(got.Messages[0].Body, 'from the cli');
    assert.equal(got.Messages[0].MessageAttributes.k.StringValue, 'v');
    await aws('delete-message', '--queue-url', QueueUrl, '--receipt-handle', got.Messages[0].ReceiptHandle);
    const r = await run(['sqs', 'get-queue-url', '--queue-name', 'nope']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /QueueDoesNotExist|NonExistentQueue/);
  });
});

describe('shutdown', () => {
  test('a pending long poll ends when the server stops', async () => {
    const s = await startSqsServer();
    const c = new SQSClient(clientConfig(s.endpoint));
    try {
      const url = (await c.send(new CreateQueueCommand({ QueueName: 'shutdown' }))).QueueUrl!;
      const pending = c.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 })).then(() => 'answered', () => 'closed');
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await s.stop();
      assert.ok(['answered', 'closed'].includes(await pending));
      assert.equal(s.module.service!.signals.waiting, 0);
      assert.ok(Date.now() - t0 < 15_000, 'stop did not wait for the 20 s poll');
    } finally {
      c.destroy();
    }
  });
});
