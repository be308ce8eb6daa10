import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import {
  CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient,
} from '@aws-sdk/client-sqs';
import { Errors } from '../../src/core/errors.js';
import type { InvokeRequest, InvokeResult, Invoker } from '../../src/invoke/types.js';
import { DEFAULT_MAPPING_CONCURRENCY, MappingPoller } from '../../src/triggers/mappings/poller.js';
import type { MappingConfig, MappingRecord } from '../../src/triggers/mappings/store.js';
import { sdkConfig, startSqsServer, type SqsServer } from '../sqs/harness.js';

/**
 * The mapping poller against the real queue service (SQLite file, SDK-fed queues), with an
 * in-process Invoker whose "function" is a JS handler: checks the poller's contract (Records
 * shape, deletes only after success, partial batch responses, filters, FIFO order, redrive)
 * independently of execution environments. The full path through Lambda functions is in
 * mappings-e2e.test.ts.
 */
class ScriptedInvoker implements Invoker {
  readonly calls: { records: any[]; req: InvokeRequest }[] = [];
  constructor(public handler: (records: any[]) => { error?: boolean; response?: unknown }) {}
  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    const records = JSON.parse(req.payload.toString()).Records;
    this.calls.push({ records, req });
    const r = this.handler(records);
    const result: InvokeResult = {
      statusCode: 200, requestId: `r${this.calls.length}`, executedVersion: '$LATEST',
      payload: Buffer.from(r.response === undefined ? 'null' : JSON.stringify(r.response)),
    };
    if (r.error) {
      result.functionError = 'Unhandled';
      result.errorType = 'Error';
      result.payload = Buffer.from('{"errorType":"Error","errorMessage":"boom"}');
    }
    return result;
  }
}

let server: SqsServer;
let sqs: SQSClient;
const pollers: MappingPoller[] = [];

before(async () => {
  server = await startSqsServer();
  sqs = new SQSClient(sdkConfig(server.endpoint));
});
after(async () => {
  for (const p of pollers) await p.stop();
  sqs?.destroy();
  await server?.stop();
});

const arn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

function poll(queue: string, invoker: Invoker, config: Partial<MappingConfig> = {}): MappingPoller {
  const mapping: MappingRecord = {
    uuid: `m-${queue}`, functionName: 'fn', eventSourceArn: arn(queue), enabled: true, state: 'Enabled', stateReason: 'USER_INITIATED',
    config: { BatchSize: 10, MaximumBatchingWindowInSeconds: 0, FunctionResponseTypes: [], ...config }, createdAt: 0, lastModified: 0,
  };
  const p = new MappingPoller(mapping, { sqs: server.module.service!, invoker, region: 'us-east-1' });
  pollers.push(p);
  p.start();
  return p;
}

async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function counts(url: string): Promise<{ visible: number; inFlight: number }> {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes!;
  return { visible: Number(a.ApproximateNumberOfMessages), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible) };
}

describe('mapping poller', () => {
  test('delivers the exact SQS Records shape and deletes after success', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'shape' }))).QueueUrl!;
    const inv = new ScriptedInvoker(() => ({}));
    const sent = await sqs.send(new SendMessageCommand({
      QueueUrl: url, MessageBody: '{"hello":"world"}',
      MessageAttributes: { s: { DataType: 'String', StringValue: 'v' }, b: { DataType: 'Binary', BinaryValue: Buffer.from('hi') } },
    }));
    const p = poll('shape', inv);
    const call = await waitFor('an invocation', () => inv.calls[0]);
    const r = call.records[0];
    // With message attributes, their digest too (as SQS computed it for the sender).
    assert.deepEqual(Object.keys(r), ['messageId', 'receiptHandle', 'body', 'attributes', 'messageAttributes', 'md5OfBody', 'md5OfMessageAttributes', 'eventSource', 'eventSourceARN', 'awsRegion']);
    assert.equal(r.md5OfMessageAttributes, sent.MD5OfMessageAttributes);
    assert.equal(r.messageId, sent.MessageId);
    assert.equal(r.body, '{"hello":"world"}');
    assert.deepEqual(Object.keys(r.attributes), ['ApproximateReceiveCount', 'SentTimestamp', 'SenderId', 'ApproximateFirstReceiveTimestamp']);
    assert.equal(r.attributes.ApproximateReceiveCount, '1');
    assert.deepEqual(r.messageAttributes, {
      s: { stringValue: 'v', stringListValues: [], binaryListValues: [], dataType: 'String' },
      b: { binaryValue: Buffer.from('hi').toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
    });
    assert.equal(r.md5OfBody, sent.MD5OfMessageBody);
    assert.equal(r.eventSource, 'aws:sqs');
    assert.equal(r.eventSourceARN, arn('shape'));
    assert.equal(r.awsRegion, 'us-east-1');
    assert.equal(call.req.source, 'sqs');
    assert.equal(call.req.invocationType, 'RequestResponse');
    assert.equal(call.req.functionName, 'fn');
    await waitFor('the message deleted', async () => {
      const c = await counts(url);
      return c.visible === 0 && c.inFlight === 0;
    });
    await p.stop();
    assert.equal(p.current, 'stopped');
  });

  test('a failed invocation leaves the batch; redrive moves it to the DLQ', async () => {
    await sqs.send(new CreateQueueCommand({ QueueName: 'fail-dlq' }));
    const url = (await sqs.send(new CreateQueueCommand({
      QueueName: 'fail', Attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn('fail-dlq'), maxReceiveCount: 2 }) },
    }))).QueueUrl!;
    const inv = new ScriptedInvoker(() => ({ error: true }));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    const p = poll('fail', inv);
    const dlqUrl = url.replace(/fail$/, 'fail-dlq');
    const dead = await waitFor('the message in the DLQ', async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }))).Messages?.[0]);
    assert.equal(dead.Body, 'poison');
    assert.equal(inv.calls.length, 2, 'invoked maxReceiveCount times');
    assert.deepEqual(inv.calls.map((c) => c.records[0].attributes.ApproximateReceiveCount), ['1', '2']);
    await p.stop();
  });

  test('partial batch response deletes only the successes', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'partial', Attributes: { VisibilityTimeout: '300' } }))).QueueUrl!;
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: ['ok1', 'bad', 'ok2'].map((b) => ({ Id: b, MessageBody: b })) }));
    const inv = new ScriptedInvoker((records) => ({
      response: { batchItemFailures: records.filter((r) => r.body === 'bad').map((r) => ({ itemIdentifier: r.messageId })) },
    }));
    // A batching window lets the three messages arrive as one batch.
    const p = poll('partial', inv, { FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 3 });
    await waitFor('one left in flight', async () => {
      const c = await counts(url);
      return c.visible === 0 && c.inFlight === 1 && inv.calls.length > 0;
    });
    await p.stop();
    const seen = inv.calls.flatMap((c) => c.records.map((r: any) => r.body)).sort();
    assert.deepEqual(seen, ['bad', 'ok1', 'ok2']);
  });

  test('filter criteria: non-matching messages are deleted without invoking', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'filtered' }))).QueueUrl!;
    const inv = new ScriptedInvoker(() => ({}));
    await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [
        { Id: 'a', MessageBody: '{"type":"order","n":1}' },
        { Id: 'b', MessageBody: '{"type":"refund","n":2}' },
        { Id: 'c', MessageBody: 'plain text' },
      ],
    }));
    const p = poll('filtered', inv, { FilterCriteria: { Filters: [{ Pattern: '{"body":{"type":["order"]}}' }] } });
    await waitFor('queue drained', async () => {
      const c = await counts(url);
      return c.visible === 0 && c.inFlight === 0;
    });
    await p.stop();
    const bodies = inv.calls.flatMap((c) => c.records.map((r: any) => r.body));
    assert.deepEqual(bodies, ['{"type":"order","n":1}']);
  });

  test('FIFO: order per group is kept, failures hold the group', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'ordered.fifo', Attributes: { FifoQueue: 'true', VisibilityTimeout: '1' } }))).QueueUrl!;
    for (let i = 1; i <= 6; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `A${i}`, MessageGroupId: 'A', MessageDeduplicationId: `A${i}` }));
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `B${i}`, MessageGroupId: 'B', MessageDeduplicationId: `B${i}` }));
    }
    let failedOnce = false;
    const done: string[] = [];
    const inv = new ScriptedInvoker((records) => {
      // A3 fails the first time: A3..A6 of that batch must not be processed before it.
      const idx = records.findIndex((r) => r.body === 'A3');
      if (idx >= 0 && !failedOnce) {
        failedOnce = true;
        for (const r of records.slice(0, records.length)) if (r.attributes.MessageGroupId !== 'A' || records.indexOf(r) < idx) done.push(r.body);
        return {
          response: { batchItemFailures: records.filter((r, i) => r.attributes.MessageGroupId === 'A' && i >= idx).map((r) => ({ itemIdentifier: r.messageId })) },
        };
      }
      for (const r of records) done.push(r.body);
      return {};
    });
    const p = poll('ordered.fifo', inv, { FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 4, ScalingConfig: { MaximumConcurrency: 4 } });
    await waitFor('all twelve processed', () => done.length >= 12 && done, 60_000);
    await p.stop();
    const a = done.filter((b) => b.startsWith('A'));
    const b = done.filter((b) => b.startsWith('B'));
    assert.deepEqual(a, ['A1', 'A2', 'A3', 'A4', 'A5', 'A6']);
    assert.deepEqual(b, ['B1', 'B2', 'B3', 'B4', 'B5', 'B6']);
    assert.equal(failedOnce, true);
    const r0 = inv.calls[0]!.records[0];
    assert.deepEqual(Object.keys(r0.attributes), [
      'ApproximateReceiveCount', 'SentTimestamp', 'SequenceNumber', 'MessageGroupId', 'SenderId', 'MessageDeduplicationId', 'ApproximateFirstReceiveTimestamp',
    ]);
  });

  test('a message whose visibility runs out during the batching window is in the batch once, with its newest receipt handle', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'short-vis', Attributes: { VisibilityTimeout: '1' } }))).QueueUrl!;
    const inv = new ScriptedInvoker(() => ({}));
    const p = poll('short-vis', inv, { BatchSize: 50, MaximumBatchingWindowInSeconds: 3 });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'early' }));
    await new Promise((r) => setTimeout(r, 1500)); // 'early' becomes visible again and is received again
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late' }));
    await waitFor('the batch', () => inv.calls.length > 0, 20_000);
    assert.deepEqual(inv.calls[0]!.records.map((r: any) => r.body).sort(), ['early', 'late']);
    await waitFor('the queue drained by the deletes', async () => {
      const c = await counts(url);
      return c.visible === 0 && c.inFlight === 0;
    });
    await p.stop();
    assert.equal(inv.calls.length, 1);
  });

  test('stopping: no further deliveries', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'stopper' }))).QueueUrl!;
    const inv = new ScriptedInvoker(() => ({}));
    const p = poll('stopper', inv);
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'first' }));
    await waitFor('first delivered', () => inv.calls.length === 1);
    await p.stop();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'second' }));
    // A fresh receive proves the message is there and was not taken by the stopped poller.
    const got = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 2 }))).Messages!;
    assert.equal(got[0]!.Body, 'second');
    assert.equal(inv.calls.length, 1);
  });

  test('throttled batches do not pile up abort listeners on the poller', async () => {
    // Reserved concurrency 0 as the invoker reports it: every batch throttled, backed off, and
    // back after the visibility timeout, for as long as the mapping lives.
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'throttled', Attributes: { VisibilityTimeout: '1' } }))).QueueUrl!;
    for (let i = 0; i < 5; i++) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 10 }, (_, n) => ({ Id: `m${n}`, MessageBody: `${i}-${n}` })) }));
    }
    let calls = 0;
    const throttled: Invoker = {
      async invoke() {
        calls++;
        throw Errors.tooManyRequests('Rate Exceeded.', 'ReservedFunctionConcurrentInvocationLimitExceeded');
      },
    };
    const p = poll('throttled', throttled);
    const signal = (p as unknown as { abort: AbortController }).abort.signal;
    await waitFor('twenty throttled batches', () => calls >= 20);
    // At most one back-off per in-flight batch, plus the receiver's long poll.
    const listeners = getEventListeners(signal, 'abort').length;
    assert.ok(listeners <= DEFAULT_MAPPING_CONCURRENCY + 1, `${listeners} abort listeners after ${calls} throttled batches`);
    await p.stop();
  });
});
