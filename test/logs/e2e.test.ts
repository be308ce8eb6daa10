import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CloudWatchLogsClient, DescribeLogStreamsCommand, FilterLogEventsCommand, GetLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

/** The whole server: a function's own lines reach CloudWatch Logs readers through the log service. */
let server: TestServer;
let lambda: LambdaClient;
let logs: CloudWatchLogsClient;

before(async () => {
  server = await startServer();
  lambda = new LambdaClient(clientConfig(server.endpoint));
  logs = new CloudWatchLogsClient(clientConfig(server.endpoint));
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'talker', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/test',
    Code: {
      ZipFile: await makeZip({
        'index.js': "exports.handler = async (e) => { console.log('said ' + e.word); console.error('to stderr ' + e.word); return 'ok'; };",
      }),
    },
  }));
});
after(async () => {
  lambda?.destroy();
  logs?.destroy();
  await server?.stop();
});

test('what a function logged before its invoke returned is readable right after', async () => {
  for (const word of ['alpha', 'beta']) {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'talker', Payload: Buffer.from(JSON.stringify({ word })) }));
    assert.equal(out.FunctionError, undefined);
    // No waiting: the read flushes the log buffer first.
    const found = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/talker', filterPattern: `"said ${word}"` }));
    assert.equal(found.events!.length, 1, `the line of invoke ${word}`);
    assert.match(found.events![0]!.message!, new RegExp(`said ${word}\\n$`));
  }
  const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/aws/lambda/talker', orderBy: 'LastEventTime', descending: true }));
  const stream = streams.logStreams![0]!.logStreamName!;
  assert.match(stream, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
  const events = await logs.send(new GetLogEventsCommand({ logGroupName: '/aws/lambda/talker', logStreamName: stream, startFromHead: true }));
  const text = events.events!.map((e) => e.message).join('');
  assert.match(text, /START RequestId: [0-9a-f-]+ Version: \$LATEST\n/);
  assert.match(text, /said alpha\n/);
  assert.match(text, /to stderr beta\n/);
  assert.match(text, /END RequestId: /);
  assert.match(text, /REPORT RequestId: [0-9a-f-]+\tDuration: /);
  for (const e of events.events!) assert.ok(e.message!.endsWith('\n'), 'one event per line, newline kept');
});
