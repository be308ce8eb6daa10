import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteFunctionCommand, DeleteFunctionEventInvokeConfigCommand, GetFunctionEventInvokeConfigCommand,
  InvokeCommand, LambdaClient, ListFunctionEventInvokeConfigsCommand, PublishVersionCommand, PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand, UpdateFunctionConfigurationCommand, UpdateFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { clientConfig, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';
import { HANG_FIRST, RECORDER, sharedDir, startAsyncServer, waitFor } from './server.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const ARN = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;

interface Line { id: string; at: number; fn: string; version: string; event: any }

describe('asynchronous invocation (time scale 0.001)', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let events: EventBridgeClient;
  let sqs: SQSClient;
  const shared = sharedDir();
  const out = (fn: string) => shared.file(`${fn}.jsonl`);
  const lines = (fn: string): Line[] => shared.lines(`${fn}.jsonl`).map((l) => JSON.parse(l));
  const runsOf = (fn: string, id: string) => lines(fn).filter((l) => l.id === id);

  async function create(name: string) {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) },
      Environment: { Variables: { OUT: out(name) } },
    }));
  }
  async function invokeAsync(name: string, event: unknown, qualifier?: string): Promise<string> {
    const res = await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(event)), Qualifier: qualifier }));
    assert.equal(res.StatusCode, 202);
    const id = res.$metadata.requestId!;
    assert.ok(id);
    return id;
  }
  async function status(id: string): Promise<any> {
    const r = await fetch(`${server.endpoint}/_stratus/async/events/${id}`);
    return r.status === 200 ? r.json() : undefined;
  }
  const finished = (id: string) => waitFor(`event ${id} to finish`, async () => {
    const s = await status(id);
    return s && (s.state === 'succeeded' || s.state === 'failed') ? s : undefined;
  });
  const recordFor = (collector: string, id: string) =>
    waitFor(`destination record for ${id}`, () => lines(collector).find((l) => l.event?.requestContext?.requestId === id || l.event?.detail?.requestContext?.requestId === id));

  before(async () => {
    server = await startAsyncServer({ asyncTimeScale: 0.001, accountConcurrency: 20, unreservedConcurrencyMin: 1 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    events = new EventBridgeClient(clientConfig(server.endpoint));
    sqs = new SQSClient(clientConfig(server.endpoint));
    for (const fn of ['work', 'flaky', 'collector', 'busy', 'zero', 'aged', 'deadly', 'queued', 'slow']) await create(fn);
  });
  after(async () => {
    sqs?.destroy();
    await server?.stop();
    shared.cleanup();
  });

  test('202 then exactly one run with the same request id; state is followable', async () => {
    const id = await invokeAsync('work', { tag: 'one' });
    const s = await finished(id);
    assert.equal(s.state, 'succeeded');
    assert.equal(s.attempts, 1);
    assert.equal(s.functionName, 'work');
    const runs = runsOf('work', id);
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0]!.event, { tag: 'one' });
    const list = await (await fetch(`${server.endpoint}/_stratus/async/events?function=work`)).json() as any;
    assert.ok(list.events.some((e: any) => e.requestId === id && e.state === 'succeeded'));
    assert.ok(list.counts.succeeded >= 1);
  });

  /** Receives from a queue until `pick` finds the message (long polls of 1 s). */
  async function receiveFrom(queueUrl: string, pick: (m: Message) => boolean): Promise<Message> {
    return waitFor('a message on the queue', async () => {
      const r = await sqs.send(new ReceiveMessageCommand({
        QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10, VisibilityTimeout: 0, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'],
      }));
      return r.Messages?.find(pick);
    });
  }
  const QUEUE_ARN = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

  test('payloads up to 1 MB are accepted; over 1 MB they are refused with RequestEntityTooLargeException and the Event message', async () => {
    const exact = JSON.stringify({ tag: 'big', pad: '' });
    const payload = Buffer.from(exact.replace('"pad":""', `"pad":"${'p'.repeat(1024 * 1024 - Buffer.byteLength(exact))}"`));
    assert.equal(payload.length, 1024 * 1024);
    const res = await lambda.send(new InvokeCommand({ FunctionName: 'work', InvocationType: 'Event', Payload: payload }));
    assert.equal(res.StatusCode, 202);
    assert.equal((await finished(res.$metadata.requestId!)).state, 'succeeded');
    await assert.rejects(
      lambda.send(new InvokeCommand({ FunctionName: 'work', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ x: 'a'.repeat(1024 * 1024) })) })),
      (e: any) => e.name === 'RequestEntityTooLargeException' && e.$metadata.httpStatusCode === 413 &&
        /^1048584 byte payload is too large for the Event invocation type \(limit 1048576 bytes\)$/.test(e.message),
    );
  });

  test('ClientContext reaches synchronous invocations only (as Lambda\'s Invoke reference says); a malformed one is refused for both', async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'ctx', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': `
const fs = require('node:fs');
exports.handler = async (event, context) => {
  fs.appendFileSync(process.env.OUT, JSON.stringify({ id: context.awsRequestId, clientContext: context.clientContext ?? null }) + '\\n');
  return context.clientContext ?? null;
};` }) },
      Environment: { Variables: { OUT: out('ctx') } },
    }));
    const ClientContext = Buffer.from(JSON.stringify({ custom: { k: 'v' }, env: { platform: 'test' } })).toString('base64');
    const sync = await lambda.send(new InvokeCommand({ FunctionName: 'ctx', ClientContext }));
    assert.deepEqual(JSON.parse(Buffer.from(sync.Payload!).toString()).custom, { k: 'v' }, 'a synchronous invocation gets it');
    const res = await lambda.send(new InvokeCommand({ FunctionName: 'ctx', InvocationType: 'Event', ClientContext, Payload: Buffer.from('{}') }));
    assert.equal(res.StatusCode, 202);
    const id = res.$metadata.requestId!;
    assert.equal((await finished(id)).state, 'succeeded');
    const runs = lines('ctx').filter((l: any) => l.id === id) as any[];
    assert.equal(runs.length, 1);
    assert.equal(runs[0].clientContext, null, 'an asynchronous invocation does not');
    // Not JSON, or JSON that is not an object.
    for (const InvocationType of ['RequestResponse', 'Event'] as const) {
      for (const bad of ['not json', '[1,2]', '"text"', 'null']) {
        await assert.rejects(
          lambda.send(new InvokeCommand({ FunctionName: 'ctx', InvocationType, ClientContext: Buffer.from(bad).toString('base64') })),
          (e: any) => e.name === 'InvalidRequestContentException' && e.$metadata.httpStatusCode === 400 &&
            e.message === 'Client context must be a valid Base64-encoded JSON object.',
          `${InvocationType} ${bad}`,
        );
      }
    }
  });

  test('function errors: 2 retries after ~1 and ~2 minutes (scaled), same request id, then OnFailure record', async () => {
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'flaky', DestinationConfig: { OnFailure: { Destination: ARN('collector') } },
    }));
    const id = await invokeAsync('flaky', { fail: 'boom' });
    const rec = await recordFor('collector', id);
    const runs = runsOf('flaky', id);
    assert.equal(runs.length, 3, 'one attempt and two retries');
    assert.ok(runs[1]!.at - runs[0]!.at >= 60, `first retry waits >= 60 ms (1 min scaled), got ${runs[1]!.at - runs[0]!.at}`);
    assert.ok(runs[2]!.at - runs[1]!.at >= 120, `second retry waits >= 120 ms (2 min scaled), got ${runs[2]!.at - runs[1]!.at}`);
    const r = rec.event;
    assert.equal(r.version, '1.0');
    assert.ok(!Number.isNaN(Date.parse(r.timestamp)));
    assert.deepEqual(r.requestContext, { requestId: id, functionArn: ARN('flaky', '$LATEST'), condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    assert.deepEqual(r.requestPayload, { fail: 'boom' });
    assert.deepEqual(r.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    assert.equal(r.responsePayload.errorMessage, 'boom');
    assert.equal(r.responsePayload.errorType, 'Error');
    const s = await finished(id);
    assert.equal(s.state, 'failed');
    assert.equal(s.attempts, 3);
    assert.equal(s.condition, 'RetriesExhausted');
  });

  test('MaximumRetryAttempts 0: one attempt only', async () => {
    await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'flaky', MaximumRetryAttempts: 0 }));
    const id = await invokeAsync('flaky', { fail: 'once' });
    const rec = await recordFor('collector', id);
    assert.equal(rec.event.requestContext.approximateInvokeCount, 1);
    assert.equal(runsOf('flaky', id).length, 1);
  });

  test('OnSuccess record to a function, with the response payload', async () => {
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'work', Qualifier: '$LATEST', DestinationConfig: { OnSuccess: { Destination: ARN('collector') } },
    }));
    const id = await invokeAsync('work', { tag: 'yay' });
    const rec = await recordFor('collector', id);
    assert.deepEqual(rec.event.requestContext, { requestId: id, functionArn: ARN('work', '$LATEST'), condition: 'Success', approximateInvokeCount: 1 });
    assert.deepEqual(rec.event.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
    assert.deepEqual(rec.event.responsePayload, { ok: true, echo: 'yay' });
    assert.deepEqual(rec.event.requestPayload, { tag: 'yay' });
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'work' }));
  });

  test('an event running when its function is deleted finishes: one attempt that succeeds, and its OnSuccess record is sent', async () => {
    const gate = shared.file('doomed.go');
    fs.rmSync(gate);
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'doomed', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': `${RECORDER.replace('exports.handler', 'const recorder')}
exports.handler = async (event, context) => {
  const r = await recorder(event, context);
  while (!fs.existsSync(process.env.GATE)) await new Promise((r) => setTimeout(r, 50));
  return r;
};` }) },
      Environment: { Variables: { OUT: out('doomed'), GATE: gate } },
    }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'doomed', DestinationConfig: { OnSuccess: { Destination: ARN('collector') } } }));
    const id = await invokeAsync('doomed', { tag: 'last' });
    await waitFor('the event to run', () => runsOf('doomed', id)[0]);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
    fs.writeFileSync(gate, '');
    const s = await finished(id);
    assert.equal(s.state, 'succeeded', JSON.stringify(s));
    assert.equal(s.attempts, 1);
    assert.equal(runsOf('doomed', id).length, 1);
    const rec = await recordFor('collector', id);
    assert.equal(rec.event.requestContext.condition, 'Success');
    assert.deepEqual(rec.event.responsePayload, { ok: true, echo: 'last' });
  });

  test('maximum event age: a retry past the age ends as EventAgeExceeded', async () => {
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'aged', MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: ARN('collector') } },
    }));
    const id = await invokeAsync('aged', { fail: 'slowly' });
    const rec = await recordFor('collector', id);
    assert.equal(rec.event.requestContext.condition, 'EventAgeExceeded');
    assert.equal(rec.event.requestContext.approximateInvokeCount, 1);
    // What the last attempt answered, as Lambda's record carries it (they were left out).
    assert.equal(rec.event.responseContext.functionError, 'Unhandled', JSON.stringify(rec.event));
    assert.equal(rec.event.responseContext.statusCode, 200);
    assert.equal(typeof rec.event.responsePayload?.errorMessage, 'string', JSON.stringify(rec.event));
    assert.equal(runsOf('aged', id).length, 1, 'the 1-minute retry falls after the 60 s age (both scaled)');
  });

  test('reserved concurrency 0 sends new events straight to the failure destination', async () => {
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'zero', DestinationConfig: { OnFailure: { Destination: ARN('collector') } } }));
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'zero', ReservedConcurrentExecutions: 0 }));
    const id = await invokeAsync('zero', { tag: 'never' });
    const rec = await recordFor('collector', id);
    assert.equal(rec.event.requestContext.condition, 'RetriesExhausted');
    assert.equal(rec.event.requestContext.approximateInvokeCount, 0);
    assert.equal(rec.event.responseContext.statusCode, 429);
    assert.equal(runsOf('zero', id).length, 0);
  });

  test('throttles are retried with backoff without using attempts', async () => {
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'busy', ReservedConcurrentExecutions: 1 }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'busy', MaximumRetryAttempts: 0 }));
    const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => invokeAsync('busy', { sleepMs: 150, tag: i })));
    for (const id of ids) {
      const s = await finished(id);
      assert.equal(s.state, 'succeeded', JSON.stringify(s));
      assert.equal(s.attempts, 1);
      assert.equal(runsOf('busy', id).length, 1);
    }
  });

  test('an event invoke config goes with its alias', async () => {
    await lambda.send(new PublishVersionCommand({ FunctionName: 'queued' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'queued', Name: 'short', FunctionVersion: '1' }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'queued', Qualifier: 'short', MaximumRetryAttempts: 0 }));
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'queued', Name: 'short' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'queued', Name: 'short', FunctionVersion: '1' }));
    await waitFor('the config to go', async () => {
      try {
        await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'queued', Qualifier: 'short' }));
        return undefined;
      } catch (e: any) {
        return e.name === 'ResourceNotFoundException' || undefined;
      }
    }, 5000);
  });

  test('OnFailure to an event bus: a rule routes the record as "Lambda Function Invocation Result - Failure"', async () => {
    await events.send(new PutRuleCommand({ Name: 'lambda-failures', EventPattern: JSON.stringify({ source: ['lambda'], 'detail-type': [{ suffix: 'Failure' }] }) }));
    await events.send(new PutTargetsCommand({ Rule: 'lambda-failures', Targets: [{ Id: 'c', Arn: ARN('collector') }] }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'flaky', MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' } },
    }));
    const id = await invokeAsync('flaky', { fail: 'bus' });
    const rec = await recordFor('collector', id);
    assert.equal(rec.event['detail-type'], 'Lambda Function Invocation Result - Failure');
    assert.equal(rec.event.source, 'lambda');
    assert.equal(rec.event.detail.requestContext.condition, 'RetriesExhausted');
    assert.deepEqual(rec.event.detail.requestPayload, { fail: 'bus' });
    // The bus first, then the function, as Lambda names them.
    assert.deepEqual(rec.event.resources, ['arn:aws:events:us-east-1:000000000000:event-bus/default', 'arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST']);
  });

  test('DeadLetterConfig: an SQS dead-letter queue gets the original payload with RequestID, ErrorCode and ErrorMessage', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'async-dlq' }));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'deadly', DeadLetterConfig: { TargetArn: QUEUE_ARN('async-dlq') } }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'deadly', MaximumRetryAttempts: 1 }));
    const payload = JSON.stringify({ fail: 'dead on arrival', n: 1 });
    const res = await lambda.send(new InvokeCommand({ FunctionName: 'deadly', InvocationType: 'Event', Payload: Buffer.from(payload) }));
    const id = res.$metadata.requestId!;
    const m = await receiveFrom(QueueUrl!, (x) => x.MessageAttributes?.RequestID?.StringValue === id);
    assert.equal(m.Body, payload, 'the event itself, not an invocation record');
    assert.deepEqual(m.MessageAttributes, {
      RequestID: { DataType: 'String', StringValue: id },
      ErrorCode: { DataType: 'Number', StringValue: '200' },
      ErrorMessage: { DataType: 'String', StringValue: 'dead on arrival' },
    });
    assert.equal(runsOf('deadly', id).length, 2, 'one attempt and MaximumRetryAttempts 1 retry before the DLQ');
    const s = await finished(id);
    assert.equal(s.state, 'failed');
    assert.equal(s.condition, 'RetriesExhausted');
  });

  test('OnSuccess and OnFailure to an SQS queue: the message body is the invocation record', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'async-results' }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'queued', MaximumRetryAttempts: 0,
      DestinationConfig: { OnSuccess: { Destination: QUEUE_ARN('async-results') }, OnFailure: { Destination: QUEUE_ARN('async-results') } },
    }));
    const good = await invokeAsync('queued', { tag: 'fine' });
    const bad = await invokeAsync('queued', { fail: 'not fine' });
    const recordOf = async (id: string) => JSON.parse((await receiveFrom(QueueUrl!, (x) => JSON.parse(x.Body!).requestContext?.requestId === id)).Body!);
    const ok = await recordOf(good);
    assert.deepEqual(Object.keys(ok), ['version', 'timestamp', 'requestContext', 'requestPayload', 'responseContext', 'responsePayload']);
    assert.deepEqual(ok.requestContext, { requestId: good, functionArn: ARN('queued', '$LATEST'), condition: 'Success', approximateInvokeCount: 1 });
    assert.deepEqual(ok.requestPayload, { tag: 'fine' });
    assert.deepEqual(ok.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
    assert.deepEqual(ok.responsePayload, { ok: true, echo: 'fine' });
    const ko = await recordOf(bad);
    assert.deepEqual(ko.requestContext, { requestId: bad, functionArn: ARN('queued', '$LATEST'), condition: 'RetriesExhausted', approximateInvokeCount: 1 });
    assert.deepEqual(ko.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    assert.equal(ko.responsePayload.errorMessage, 'not fine');
  });

  test('a FIFO queue is no destination: the delivery fails, as Lambda\'s does', async () => {
    await sqs.send(new CreateQueueCommand({ QueueName: 'async-results.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'work', MaximumRetryAttempts: 0, DestinationConfig: { OnSuccess: { Destination: QUEUE_ARN('async-results.fifo') } },
    }));
    const id = await invokeAsync('work', { tag: 'to-fifo' });
    const s = await waitFor('the destination failure', async () => {
      const v = await status(id);
      return v?.state === 'succeeded' && v.destinationError ? v : undefined;
    });
    assert.match(s.destinationError, /FIFO queue/);
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'work' }));
  });

  test('a timeout is a function error: retried with the same request id, then RetriesExhausted', async () => {
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'slow', Timeout: 1 }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'slow', MaximumRetryAttempts: 1, DestinationConfig: { OnFailure: { Destination: ARN('collector') } },
    }));
    const id = await invokeAsync('slow', { sleepMs: 3000 });
    const rec = await recordFor('collector', id);
    assert.equal(rec.event.requestContext.condition, 'RetriesExhausted');
    assert.equal(rec.event.requestContext.approximateInvokeCount, 2);
    assert.equal(rec.event.responseContext.functionError, 'Unhandled');
    assert.match(JSON.stringify(rec.event.responsePayload), /timed out/i);
    assert.equal(runsOf('slow', id).length, 2);
  });

  test('an alias gets its own config and the record names the alias', async () => {
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'work' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'work', Name: 'live', FunctionVersion: v.Version! }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'work', Qualifier: 'live', DestinationConfig: { OnSuccess: { Destination: ARN('collector') } },
    }));
    const id = await invokeAsync('work', { tag: 'alias' }, 'live');
    const rec = await recordFor('collector', id);
    assert.equal(rec.event.requestContext.functionArn, ARN('work', 'live'));
    assert.equal(rec.event.responseContext.executedVersion, v.Version);
  });
});

describe('event invoke config API', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startAsyncServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'cfg', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;' }) },
    }));
  });
  after(async () => server?.stop());

  test('put, get, update, list, delete', async () => {
    // Update changes a config that exists: none yet, Lambda's ResourceNotFound (it made one before).
    await assert.rejects(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', MaximumRetryAttempts: 1 })), (e: Error) => {
      assert.equal(e.name, 'ResourceNotFoundException');
      assert.equal(e.message, `The function ${ARN('cfg', '$LATEST')} doesn't have an EventInvokeConfig`);
      return true;
    });
    const put = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 3600 }));
    assert.equal(put.FunctionArn, ARN('cfg', '$LATEST'));
    assert.equal(put.MaximumRetryAttempts, 1);
    assert.equal(put.MaximumEventAgeInSeconds, 3600);
    assert.ok(put.LastModified instanceof Date);
    assert.deepEqual(put.DestinationConfig, { OnSuccess: {}, OnFailure: {} });

    const upd = await lambda.send(new UpdateFunctionEventInvokeConfigCommand({
      FunctionName: 'cfg', DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:dlq' } },
    }));
    assert.equal(upd.MaximumRetryAttempts, 1, 'update keeps what it does not name');
    assert.equal(upd.DestinationConfig?.OnFailure?.Destination, 'arn:aws:sqs:us-east-1:000000000000:dlq');

    const again = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', MaximumRetryAttempts: 2 }));
    assert.equal(again.MaximumEventAgeInSeconds, undefined, 'put replaces everything');
    assert.deepEqual(again.DestinationConfig, { OnSuccess: {}, OnFailure: {} });

    const got = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: ARN('cfg') }));
    assert.equal(got.MaximumRetryAttempts, 2);

    await lambda.send(new PublishVersionCommand({ FunctionName: 'cfg' }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', Qualifier: '1', MaximumRetryAttempts: 0 }));
    const list = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'cfg' }));
    assert.deepEqual(list.FunctionEventInvokeConfigs?.map((c) => c.FunctionArn).sort(), [ARN('cfg', '$LATEST'), ARN('cfg', '1')].sort());
    const page = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'cfg', MaxItems: 1 }));
    assert.equal(page.FunctionEventInvokeConfigs?.length, 1);
    assert.ok(page.NextMarker);
    const page2 = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'cfg', MaxItems: 1, Marker: page.NextMarker }));
    assert.equal(page2.FunctionEventInvokeConfigs?.length, 1);
    assert.notEqual(page2.FunctionEventInvokeConfigs![0]!.FunctionArn, page.FunctionEventInvokeConfigs![0]!.FunctionArn);

    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'cfg:1' }));
    await assert.rejects(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', Qualifier: '1' })), (e: any) =>
      e.name === 'ResourceNotFoundException' && /doesn't have an EventInvokeConfig/.test(e.message));
    await assert.rejects(lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', Qualifier: '1' })), { name: 'ResourceNotFoundException' });
  });

  // Model constraints (MaximumRetryAttempts 0-2, MaximumEventAgeInSeconds 60-21600, DestinationArn's
  // pattern) are ValidationException as for Lambda's other operations; a well-formed ARN of a service
  // that cannot be a destination is Lambda's own InvalidParameterValueException.
  const invalid: Array<[string, Record<string, unknown>, string, string?]> = [
    ['retry attempts above 2', { MaximumRetryAttempts: 3 }, 'ValidationException',
      "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"],
    ['negative retry attempts', { MaximumRetryAttempts: -1 }, 'ValidationException',
      "1 validation error detected: Value '-1' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"],
    ['event age below 60', { MaximumEventAgeInSeconds: 59 }, 'ValidationException',
      "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"],
    ['event age above 21600', { MaximumEventAgeInSeconds: 21601 }, 'ValidationException',
      "1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"],
    ['retry attempts and event age both out of range', { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 1 }, 'ValidationException',
      "2 validation errors detected: Value '5' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2; "
      + "Value '1' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"],
    ['destination not an ARN', { DestinationConfig: { OnFailure: { Destination: 'my-queue' } } }, 'ValidationException'],
    ['S3 on success', { DestinationConfig: { OnSuccess: { Destination: 'arn:aws:s3:::bucket' } } }, 'InvalidParameterValueException'],
  ];
  for (const [name, input, code, message] of invalid) {
    test(`refuses ${name}`, async () => {
      for (const send of [
        () => lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', ...input } as any)),
        () => lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', ...input } as any)),
      ]) {
        await assert.rejects(send(), (e: any) => {
          assert.equal(e.name, code);
          assert.equal(e.$metadata.httpStatusCode, 400);
          if (message) assert.equal(e.message, message);
          if (name === 'destination not an ARN') {
            assert.match(e.message, /^1 validation error detected: Value 'my-queue' at 'destinationConfig\.onFailure\.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: /);
          }
          return true;
        });
      }
    });
  }

  // Lambda's answers (recorded against AWS in LocalStack's aws-validated snapshot of
  // test_lambda_eventinvokeconfig_exceptions): a function is no destination of its own (one async
  // event would run it for ever, each record being a new event), and a function destination must exist.
  test('a function is refused as its own destination, under any qualifier; a missing function destination is invalid', async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'peer', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;' }) },
    }));
    const refused = (message: string) => (e: any) => {
      assert.equal(e.name, 'InvalidParameterValueException');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, message);
      return true;
    };
    const itself = "You can't specify the function as a destination for itself.";
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', MaximumRetryAttempts: 1 }));
    for (const self of [ARN('cfg'), ARN('cfg', '$LATEST'), ARN('cfg', '1'), ARN('cfg', 'live')]) {
      await assert.rejects(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', DestinationConfig: { OnSuccess: { Destination: self } } })), refused(itself));
      await assert.rejects(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', DestinationConfig: { OnFailure: { Destination: self } } })), refused(itself));
    }
    await assert.rejects(lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: ARN('cfg', '$LATEST'), DestinationConfig: { OnFailure: { Destination: ARN('cfg') } },
    })), refused(itself));
    const missing = ARN('nope');
    await assert.rejects(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', DestinationConfig: { OnSuccess: { Destination: missing } } })),
      refused(`The destination ARN ${missing} is invalid.`));
    await assert.rejects(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', DestinationConfig: { OnFailure: { Destination: missing } } })),
      refused(`The destination ARN ${missing} is invalid.`));
    // Nothing refused was kept; another function is a destination.
    const kept = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'cfg' }));
    assert.deepEqual(kept.DestinationConfig, { OnSuccess: {}, OnFailure: {} });
    const other = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', DestinationConfig: { OnSuccess: { Destination: ARN('peer') } } }));
    assert.equal(other.DestinationConfig?.OnSuccess?.Destination, ARN('peer'));
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'cfg' }));
  });

  test('a Put or Update that sets nothing is refused, before the function is looked up', async () => {
    const nothing = (e: any) => {
      assert.equal(e.name, 'InvalidParameterValueException');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, 'You must specify at least one of error handling or destination setting.');
      return true;
    };
    for (const FunctionName of ['cfg', 'nope']) {
      await assert.rejects(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName })), nothing);
      await assert.rejects(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName })), nothing);
    }
    await assert.rejects(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'cfg' })), { name: 'ResourceNotFoundException' });
    // A DestinationConfig is a setting, even one naming no destination (Lambda accepts it).
    const empty = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', DestinationConfig: { OnSuccess: {} } }));
    assert.deepEqual(empty.DestinationConfig, { OnSuccess: {}, OnFailure: {} });
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'cfg' }));
  });

  test('unknown function or qualifier: ResourceNotFoundException', async () => {
    await assert.rejects(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'nope', MaximumRetryAttempts: 1 })), { name: 'ResourceNotFoundException' });
    await assert.rejects(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'cfg', Qualifier: '9', MaximumRetryAttempts: 1 })), { name: 'ResourceNotFoundException' });
    await assert.rejects(lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'nope' })), { name: 'ResourceNotFoundException' });
  });
});

describe('asynchronous invocation across a graceful restart', () => {
  const shared = sharedDir();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-async-restart-'));
  let server: TestServer | undefined;
  after(async () => {
    await server?.stop();
    shared.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('events cut off by a graceful stop run after the restart, each once more, with the cut-off attempt not counted', async () => {
    server = await startAsyncServer({ dataDir });
    let lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'cutoff', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 900,
      Code: { ZipFile: await makeZip({ 'index.js': HANG_FIRST }) },
      Environment: { Variables: { DIR: shared.dir } },
    }));
    shared.file('done');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await lambda.send(new InvokeCommand({ FunctionName: 'cutoff', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ i })) }));
      assert.equal(r.StatusCode, 202);
      ids.push(r.$metadata.requestId!);
    }
    await waitFor('every event running', () => ids.every((id) => fs.existsSync(path.join(shared.dir, id))));
    await server.stop({ keepData: true });
    assert.deepEqual(shared.lines('done'), [], 'cut off: none finished');

    server = await startAsyncServer({ dataDir });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await waitFor('every event run after the restart', () => shared.lines('done').length >= ids.length);
    assert.deepEqual(shared.lines('done').sort(), [...ids].sort(), 'each once');
    for (const id of ids) {
      const s = await waitFor(`event ${id} to finish`, async () => {
        const r = await fetch(`${server!.endpoint}/_stratus/async/events/${id}`);
        const v = r.status === 200 ? await r.json() as any : undefined;
        return v?.state === 'succeeded' ? v : undefined;
      });
      assert.equal(s.attempts, 1, 'the attempt cut off by the stop is not counted, as after a crash');
    }
  });
});
