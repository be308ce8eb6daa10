import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateEventSourceMappingCommand, CreateFunctionCommand, InvokeCommand, LambdaClient, PutFunctionRecursionConfigCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { countInChain, lineageKey } from '../../src/core/recursion.js';
import { traceFor } from '../../src/invoke/invoker.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const QUEUE_ARN = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;
const FN_ARN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/**
 * Takes n from its message and sends n + 1 back to the queue it is mapped from (until STOP_AT),
 * and n to SEEN, as a function using an AWS SDK does: the SDK sends the function's trace header
 * (_X_AMZN_TRACE_ID) with every call.
 */
const LOOPER = `
const send = (queue, body) => fetch(process.env.AWS_ENDPOINT_URL_SQS, {
  method: 'POST',
  headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage', 'x-amzn-trace-id': process.env._X_AMZN_TRACE_ID },
  body: JSON.stringify({ QueueUrl: queue, MessageBody: body }),
}).then((r) => { if (!r.ok) throw new Error('send: ' + r.status); });
exports.handler = async (event) => {
  for (const r of event.Records) {
    const n = Number(r.body);
    await send(process.env.SEEN, String(n));
    if (n < Number(process.env.STOP_AT)) await send(process.env.LOOP, String(n + 1));
  }
};
`;

describe('recursive loop detection', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let sqs: SQSClient;
  before(async () => {
    server = await startServer({ asyncTimeScale: 0.001 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    sqs = new SQSClient(clientConfig(server.endpoint));
  });
  after(async () => {
    sqs?.destroy();
    await server?.stop();
  });

  /** Every body SEEN gets, from the first (within 60 s) until it has been quiet for `quietMs`. */
  async function drain(url: string, quietMs = 3000): Promise<number[]> {
    const seen: number[] = [];
    const firstBy = Date.now() + 60_000;
    let last = 0;
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) seen.push(Number(m.Body));
      if (r.Messages?.length) last = Date.now();
      if (seen.length === 0 ? Date.now() > firstBy : Date.now() - last >= quietMs) break;
    }
    return seen.sort((a, b) => a - b);
  }

  /** A LOOPER function `name` mapped from queue `name`-loop, reporting to `name`-seen. */
  async function looper(name: string, stopAt: number, batchSize: number, recursiveLoop?: 'Allow' | 'Terminate') {
    const loopUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-loop` }))).QueueUrl!;
    const seenUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-seen` }))).QueueUrl!;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': LOOPER }) },
      Environment: { Variables: { LOOP: loopUrl, SEEN: seenUrl, STOP_AT: String(stopAt) } },
    }));
    if (recursiveLoop) await lambda.send(new PutFunctionRecursionConfigCommand({ FunctionName: name, RecursiveLoop: recursiveLoop }));
    return { loopUrl, seenUrl, map: () => lambda.send(new CreateEventSourceMappingCommand({ FunctionName: name, EventSourceArn: QUEUE_ARN(`${name}-loop`), BatchSize: batchSize })) };
  }

  async function loop(name: string, stopAt: number, recursiveLoop?: 'Allow' | 'Terminate'): Promise<{ seen: number[]; left: number }> {
    const { loopUrl, seenUrl, map } = await looper(name, stopAt, 1, recursiveLoop);
    await map();
    await sqs.send(new SendMessageCommand({ QueueUrl: loopUrl, MessageBody: '1' }));
    const seen = await drain(seenUrl);
    const left = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: loopUrl, MaxNumberOfMessages: 10 }))).Messages?.length ?? 0;
    return { seen, left };
  }

  test('a function -> queue -> function loop is stopped after 16 invocations, its next message dropped', async () => {
    const { seen, left } = await loop('looper', 100);
    assert.deepEqual(seen, Array.from({ length: 16 }, (_, i) => i + 1));
    assert.equal(left, 0, 'the message the 16th sent is dropped (the queue has no dead-letter queue)');
  });

  test('one message\'s chain decides for that message only: a batch holding one past the limit and one that is not', async () => {
    const { loopUrl, seenUrl, map } = await looper('mixed', 0, 10);
    const trace = (n: number) => `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=${lineageKey(FN_ARN('mixed'))}:${n}`;
    await sqs.send(new SendMessageBatchCommand({
      QueueUrl: loopUrl, Entries: [
        { Id: 'looping', MessageBody: '17', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace(16) } } },
        { Id: 'other', MessageBody: '5', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace(2) } } },
        { Id: 'plain', MessageBody: '7' },
      ],
    }));
    await map();
    assert.deepEqual(await drain(seenUrl), [5, 7], 'the others are processed; the looping one is not');
    assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: loopUrl, MaxNumberOfMessages: 10 }))).Messages?.length ?? 0, 0, 'it is dropped');
  });

  test('a trace\'s fields from a caller or a queue are kept only as fields: no line breaks, no replacement patterns, bounded', () => {
    const t = traceFor('PassThrough', 'Root=1-5759e988-bd862e3fe1be46a994272793;X=a\r\nLambda-Runtime-Aws-Request-Id: evil;Ok=1;Lineage=$&:3');
    assert.doesNotMatch(t, /[\r\n]/);
    assert.match(t, /;Ok=1;Lineage=\$&:3$/);
    assert.equal(countInChain(t, 'abcd1234').trace.split(';').pop(), 'Lineage=abcd1234:1', 'an entry that is not one is dropped, and $& is text');
    assert.ok(traceFor('PassThrough', `Root=1-5759e988-bd862e3fe1be46a994272793;${'F=xxxxxxxx;'.repeat(200)}`).length < 700);
  });

  test('with RecursiveLoop Allow it goes on', async () => {
    const { seen } = await loop('allowed', 20, 'Allow');
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
  });

  test('the Invoke API: the 17th invocation in a chain is RecursiveInvocationException; an asynchronous one goes to failure handling', async () => {
    const code = await makeZip({ 'index.js': 'exports.handler = async () => process.env._X_AMZN_TRACE_ID;' });
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'chained', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: code } }));
    const key = lineageKey(FN_ARN('chained'));
    const header = (n: number) => `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=${key}:${n}`;
    const invoke = (n: number, type?: string) => fetch(`${server.endpoint}/2015-03-31/functions/chained/invocations`, {
      method: 'POST', body: '{}', headers: { 'X-Amzn-Trace-Id': header(n), ...(type ? { 'X-Amz-Invocation-Type': type } : {}) },
    });
    const fifteenth = await invoke(15);
    assert.equal(fifteenth.status, 200);
    assert.match(await fifteenth.json() as string, new RegExp(`;Lineage=${key}:16$`), 'the 16th runs, and carries its count on');
    const seventeenth = await invoke(16);
    assert.equal(seventeenth.status, 400);
    assert.equal(seventeenth.headers.get('x-amzn-errortype'), 'RecursiveInvocationException');
    const body = await seventeenth.json() as Record<string, string>;
    assert.equal(body.Type, 'User');
    assert.match(body.message ?? body.Message, /recursive loop/);

    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'chained-dlq' }))).QueueUrl!;
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'chained', DeadLetterConfig: { TargetArn: QUEUE_ARN('chained-dlq') } }));
    const queued = await invoke(16, 'Event');
    assert.equal(queued.status, 202, 'an asynchronous invocation is taken, and stopped when it runs');
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 10, MessageAttributeNames: ['All'] }));
    assert.equal(got.Messages?.length, 1);
    assert.equal(got.Messages![0]!.MessageAttributes?.ErrorCode?.StringValue, '400');
    assert.equal(got.Messages![0]!.MessageAttributes?.RequestID?.StringValue, queued.headers.get('x-amzn-requestid'));

    // Allowed: it runs, whatever the count.
    await lambda.send(new PutFunctionRecursionConfigCommand({ FunctionName: 'chained', RecursiveLoop: 'Allow' }));
    const allowed = await invoke(40);
    assert.equal(allowed.status, 200);
    assert.match(await allowed.json() as string, new RegExp(`;Lineage=${key}:41$`));
    // A direct SDK call from outside Lambda starts a chain of its own.
    const direct = await lambda.send(new InvokeCommand({ FunctionName: 'chained' }));
    assert.match(JSON.parse(Buffer.from(direct.Payload!).toString()), new RegExp(`;Lineage=${key}:1$`));
  });
});
