import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, GetLogEventsCommand, DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');

describe('Invoke on the wire', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let logs: CloudWatchLogsClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    logs = new CloudWatchLogsClient(clientConfig(server.endpoint));
    const code = `exports.handler = async (e, ctx) => {
      if (e.lines) for (let i = 0; i < e.lines; i++) console.log('line ' + i + ' ' + 'x'.repeat(100));
      if (e.long) console.log((e.char ?? 'x').repeat(e.long) + 'MARKER');
      if (e.sleep) await new Promise((r) => setTimeout(r, e.sleep));
      return { requestId: ctx.awsRequestId, arn: ctx.invokedFunctionArn, version: ctx.functionVersion };
    };`;
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'wire', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': code }) }, Timeout: 1 }));
    await lambda.send(new PublishVersionCommand({ FunctionName: 'wire' }));
  });
  after(async () => server?.stop());

  test('RequestResponse: 200, payload, executed version, request id reaching the function', async () => {
    const res = await fetch(`${server.endpoint}/2015-03-31/functions/wire/invocations?Qualifier=1`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-amz-executed-version'), '1');
    assert.equal(res.headers.get('x-amz-function-error'), null);
    const body = await res.json();
    assert.equal(body.requestId, res.headers.get('x-amzn-requestid'));
    assert.equal(body.arn, 'arn:aws:lambda:us-east-1:000000000000:function:wire:1');
    assert.equal(body.version, '1');
    const unq = await lambda.send(new InvokeCommand({ FunctionName: 'wire' }));
    assert.equal(JSON.parse(decode(unq.Payload)).arn, 'arn:aws:lambda:us-east-1:000000000000:function:wire');
    assert.equal(unq.ExecutedVersion, '$LATEST');
  });

  test('Tail returns at most the last 4 KB of this invocation\'s log, base64', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'wire', LogType: 'Tail', Payload: Buffer.from(JSON.stringify({ lines: 200 })) }));
    const log = Buffer.from(r.LogResult!, 'base64');
    assert.ok(log.length <= 4096, `${log.length}`);
    const text = log.toString('utf8');
    assert.match(text, /line 199 /);
    assert.doesNotMatch(text, /line 0 /);
    assert.match(text, /REPORT RequestId: /);
    const plain = await lambda.send(new InvokeCommand({ FunctionName: 'wire' }));
    assert.equal(plain.LogResult, undefined);
    // One line longer than the tail (an event logged whole, say): its end is the tail's start.
    for (const long of [3000, 9000, 100_000]) {
      const t = Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: 'wire', LogType: 'Tail', Payload: Buffer.from(JSON.stringify({ long })) }))).LogResult!, 'base64');
      assert.equal(t.length, long > 3000 ? 4096 : t.length, `${long}: ${t.length}`);
      assert.match(t.toString(), /x+MARKER\nEND RequestId: [^\n]+\nREPORT RequestId: /, `${long}`);
    }
    // Cut between characters: it starts with a whole one, never a replacement character.
    for (const char of ['é', '😀']) {
      const t = Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: 'wire', LogType: 'Tail', Payload: Buffer.from(JSON.stringify({ long: 5000, char })) }))).LogResult!, 'base64');
      assert.ok(t.length <= 4096 && t.length > 4090, `${char}: ${t.length}`);
      assert.ok(t.toString().startsWith(char), `${char}: ${t.subarray(0, 8).toString('hex')}`);
    }
  });

  test('TracingConfig Active: the function\'s trace is sampled and REPORT carries its XRAY line; PassThrough and a caller\'s Sampled=0 are not', async () => {
    const code = await makeZip({ 'index.js': 'exports.handler = async () => process.env._X_AMZN_TRACE_ID;' });
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'traced', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: code }, TracingConfig: { Mode: 'Active' } }));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'untraced', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: code } }));
    const run = async (FunctionName: string) => {
      const r = await lambda.send(new InvokeCommand({ FunctionName, LogType: 'Tail' }));
      return { trace: JSON.parse(decode(r.Payload)) as string, log: Buffer.from(r.LogResult!, 'base64').toString() };
    };
    const t = await run('traced');
    // Lineage: the chain of requests it is part of, counted for recursive loop detection (its first invocation in it).
    const m = /^Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1;Lineage=[0-9a-f]{8}:1$/.exec(t.trace);
    assert.ok(m, t.trace);
    assert.match(t.log, new RegExp(`\\nREPORT RequestId: [^\\n]+\\t\\nXRAY TraceId: ${m[1]}\\tSegmentId: ${m[2]}\\tSampled: true\\t\\n$`));
    const u = await run('untraced');
    assert.match(u.trace, /;Sampled=0;Lineage=[0-9a-f]{8}:1$/);
    assert.doesNotMatch(u.log, /XRAY/);
    // The caller's trace and decision stand; the Parent is the invocation's own (the caller's is
    // its own segment), and the caller's other fields go on.
    const traced = async (header: string) => {
      const res = await fetch(`${server.endpoint}/2015-03-31/functions/traced/invocations`, {
        method: 'POST', body: '{}', headers: { 'X-Amzn-Trace-Id': header, 'X-Amz-Log-Type': 'Tail' },
      });
      return { trace: await res.json() as string, log: Buffer.from(res.headers.get('x-amz-log-result')!, 'base64').toString() };
    };
    const caller = await traced('Root=1-00000001-000000000000000000000001;Parent=0000000000000001;Sampled=0;Lineage=1:8f2b1a3c:0');
    assert.match(caller.trace, /^Root=1-00000001-000000000000000000000001;Parent=(?!0000000000000001)[0-9a-f]{16};Sampled=0;Lineage=1:8f2b1a3c:0\|[0-9a-f]{8}:1$/);
    assert.doesNotMatch(caller.log, /XRAY/);
    // No Parent or decision given: this function's (Active: sampled).
    assert.match((await traced('Root=1-00000001-000000000000000000000001')).trace, /^Root=1-00000001-000000000000000000000001;Parent=[0-9a-f]{16};Sampled=1;Lineage=[0-9a-f]{8}:1$/);
    // Not a trace header: a new trace.
    assert.match((await traced('garbage')).trace, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1;Lineage=[0-9a-f]{8}:1$/);
  });

  test('timeout is an Unhandled function error with Lambda\'s message', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'wire', Payload: Buffer.from('{"sleep": 3000}') }));
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, 'Unhandled');
    const err = JSON.parse(decode(r.Payload));
    assert.match(err.errorMessage, /Task timed out after 1\.\d\d seconds/);
  });

  test('Event answers 202 with a request id; DryRun 204; bad InvocationType is refused', async () => {
    const ev = await fetch(`${server.endpoint}/2015-03-31/functions/wire/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: '{}' });
    assert.equal(ev.status, 202);
    assert.match(ev.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await ev.text(), '');
    const dry = await fetch(`${server.endpoint}/2015-03-31/functions/wire/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'DryRun' } });
    assert.equal(dry.status, 204);
    const bad = await fetch(`${server.endpoint}/2015-03-31/functions/wire/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'Sometimes' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('x-amzn-errortype'), 'ValidationException');
    const legacy = await fetch(`${server.endpoint}/2014-11-13/functions/wire/invoke-async/`, { method: 'POST', body: '{}' });
    assert.equal(legacy.status, 202);
    assert.deepEqual(await legacy.json(), { Status: 202 });
    // InvokeAsync keeps its 256 KB limit ("For larger payloads, for up to 1MB, use Invoke").
    const body = JSON.stringify({ pad: 'p'.repeat(256 * 1024) });
    const tooBig = await fetch(`${server.endpoint}/2014-11-13/functions/wire/invoke-async/`, { method: 'POST', body });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.headers.get('x-amzn-errortype'), 'RequestEntityTooLargeException');
    assert.match((await tooBig.json()).message, new RegExp(`^${Buffer.byteLength(body)} byte payload is too large for the Event invocation type \\(limit 262144 bytes\\)$`));
  });

  test('every invocation lands in the function\'s log group, one stream per environment', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'wire', Payload: Buffer.from('{"lines": 1}') }));
    assert.equal(r.FunctionError, undefined);
    const requestId = r.$metadata.requestId!;
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/aws/lambda/wire' }));
    assert.ok(streams.logStreams!.length >= 1);
    for (const s of streams.logStreams!) assert.match(s.logStreamName!, /^\d{4}\/\d\d\/\d\d\/\[(\$LATEST|\d+)\][0-9a-f]{32}$/);
    const messages: string[] = [];
    for (const s of streams.logStreams!) {
      const ev = await logs.send(new GetLogEventsCommand({ logGroupName: '/aws/lambda/wire', logStreamName: s.logStreamName!, startFromHead: true }));
      messages.push(...ev.events!.map((e) => e.message!));
    }
    assert.ok(messages.some((m) => m.startsWith(`START RequestId: ${requestId} Version: $LATEST`)), `START line of ${requestId} in ${JSON.stringify(messages.filter((m) => /START|END/.test(m)))}`);
    assert.ok(messages.some((m) => m.startsWith(`END RequestId: ${requestId}`)), 'END line');
    assert.ok(messages.some((m) => m.startsWith(`REPORT RequestId: ${requestId}\tDuration: `)), 'REPORT line');
    assert.ok(messages.some((m) => /\tINFO\tline 0 x+/.test(m) && m.includes(requestId)), 'the function\'s console.log in Lambda\'s format');
  });
});
