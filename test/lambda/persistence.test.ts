import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, GetAliasCommand, GetFunctionCommand, InvokeCommand, LambdaClient,
  ListVersionsByFunctionCommand, PublishVersionCommand, PutFunctionConcurrencyCommand, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { clientConfig, startServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');

test('a restart on the same data dir keeps every function, version, alias, reservation and log', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-persist-'));
  try {
    let server = await startServer({ dataDir });
    let lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'kept', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Tags: { a: 'b' },
      Code: { ZipFile: await makeZip({ 'index.js': "exports.handler = async () => { console.log('ran v1'); return 'v1'; };" }) },
    }));
    await lambda.send(new PublishVersionCommand({ FunctionName: 'kept' }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'kept', ZipFile: await makeZip({ 'index.js': "exports.handler = async () => 'v2';" }) }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'kept', Name: 'stable', FunctionVersion: '1' }));
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'kept', ReservedConcurrentExecutions: 3 }));
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'kept:stable' }))).Payload)), 'v1');
    const before = await lambda.send(new GetFunctionCommand({ FunctionName: 'kept' }));
    await server.stop({ keepData: true });

    server = await startServer({ dataDir });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    const after = await lambda.send(new GetFunctionCommand({ FunctionName: 'kept' }));
    assert.deepEqual(after.Configuration, before.Configuration);
    assert.deepEqual(after.Tags, { a: 'b' });
    assert.deepEqual(after.Concurrency, { ReservedConcurrentExecutions: 3 });
    const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'kept' }));
    assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST', '1']);
    assert.equal((await lambda.send(new GetAliasCommand({ FunctionName: 'kept', Name: 'stable' }))).FunctionVersion, '1');
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'kept', Qualifier: 'stable' }))).Payload)), 'v1');
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'kept' }))).Payload)), 'v2');
    const logs = new CloudWatchLogsClient(clientConfig(server.endpoint));
    const found = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/kept', filterPattern: '"ran v1"' }));
    assert.ok(found.events!.length >= 1, 'the log written before the restart is still there');
    await server.stop({ keepData: true });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
