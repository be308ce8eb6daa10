import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteFunctionCommand, DeleteFunctionConcurrencyCommand, GetAliasCommand,
  GetFunctionCommand, GetFunctionConcurrencyCommand, InvokeCommand, LambdaClient, ListAliasesCommand, ListVersionsByFunctionCommand,
  PublishVersionCommand, PutFunctionConcurrencyCommand, TagResourceCommand, UpdateAliasCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { serviceMissing } from '../helpers/services.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MODEL_AUDIT = path.join(REPO, 'test/lambda/fixtures/model_audit.py');
const haveBoto3 = spawnSync('python3', ['-c', 'import boto3'], { encoding: 'utf8' }).status === 0;

const ROLE = 'arn:aws:iam::000000000000:role/test';
const ARN = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;
const REVISION_MISMATCH = 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id';

async function fails(p: Promise<unknown>, name: string, status: number, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: any) => {
    assert.equal(e.name, name, `${e.name}: ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

describe('Lambda API fidelity (botocore model and Lambda wording)', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let zip: Buffer;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    zip = await makeZip({ 'index.js': 'exports.handler = async () => 1;' });
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'fid', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, Publish: true }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'fid', Name: 'live', FunctionVersion: '1' }));
  });
  after(async () => server?.stop());

  test('error bodies carry the model member: Message for ResourceNotFoundException, message for the rest', async () => {
    const missing = await fetch(`${server.endpoint}/2015-03-31/functions/nope`);
    const body = await missing.json();
    assert.equal(body.Message, `Function not found: ${ARN('nope')}`);
    assert.equal(body.message, body.Message, 'the lowercase spelling stays for clients that read it');
    const zipRes = await fetch(`${server.endpoint}/2015-03-31/functions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ FunctionName: 'zipbad', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: Buffer.from('not a zip').toString('base64') } }),
    });
    // Lambda refuses an upload that is not a zip as an invalid parameter (the model's
    // InvalidZipFileException is a 502 at invoke time).
    assert.equal(zipRes.headers.get('x-amzn-errortype'), 'InvalidParameterValueException');
    assert.equal(zipRes.status, 400);
    assert.equal((await zipRes.json()).message, 'Could not unzip uploaded file. Please check your file, then try to upload again.');
    const conflict = await fetch(`${server.endpoint}/2015-03-31/functions/fid?Qualifier=1`, { method: 'DELETE' });
    const cbody = await conflict.json();
    assert.equal(conflict.headers.get('x-amzn-errortype'), 'ResourceConflictException');
    assert.equal(typeof cbody.message, 'string');
    assert.equal(cbody.Message, undefined, 'ResourceConflictException models `message` only');
  });

  test('x-amzn-RequestId on every response: unknown routes, JSON-protocol errors and successes', async () => {
    const unknown = await fetch(`${server.endpoint}/2015-03-31/nothing-here`);
    assert.equal(unknown.status, 404);
    assert.ok(unknown.headers.get('x-amzn-requestid'), 'unknown REST route');
    const badTarget = await fetch(`${server.endpoint}/`, { method: 'POST', headers: { 'x-amz-target': 'Logs_20140328.NoSuchOperation', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    assert.ok(badTarget.status >= 400);
    assert.ok(badTarget.headers.get('x-amzn-requestid'), 'JSON-protocol error');
    const ok = await fetch(`${server.endpoint}/`, { method: 'POST', headers: { 'x-amz-target': 'Logs_20140328.DescribeLogGroups', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    assert.equal(ok.status, 200);
    assert.ok(ok.headers.get('x-amzn-requestid'), 'JSON-protocol success');
  });

  test('PreconditionFailedException uses Lambda\'s one wording on every operation that takes RevisionId', async () => {
    const stale = '00000000-0000-0000-0000-000000000000';
    await fails(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'fid', Timeout: 9, RevisionId: stale })), 'PreconditionFailedException', 412, REVISION_MISMATCH);
    await fails(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'fid', ZipFile: zip, RevisionId: stale })), 'PreconditionFailedException', 412, REVISION_MISMATCH);
    await fails(lambda.send(new PublishVersionCommand({ FunctionName: 'fid', RevisionId: stale })), 'PreconditionFailedException', 412, REVISION_MISMATCH);
    await fails(lambda.send(new UpdateAliasCommand({ FunctionName: 'fid', Name: 'live', RevisionId: stale })), 'PreconditionFailedException', 412, REVISION_MISMATCH);
  });

  test('a qualified FunctionName is accepted where the model allows it: reads and aliases act on the function, changes are refused', async () => {
    for (const FunctionName of ['fid:live', ARN('fid', '1'), '000000000000:function:fid:1']) {
      const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName }));
      assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST', '1']);
      const aliases = await lambda.send(new ListAliasesCommand({ FunctionName }));
      assert.deepEqual(aliases.Aliases?.map((a) => a.Name), ['live']);
      assert.equal((await lambda.send(new GetAliasCommand({ FunctionName, Name: 'live' }))).FunctionVersion, '1');
    }
    // Code, configuration and publishing are of $LATEST: Lambda refuses another qualifier.
    const latestOnly = 'Current operation does not support versions other than $LATEST. Please set the version to $LATEST or do not set a version in your request.';
    await fails(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'fid:live', Description: 'via alias ARN' })), 'InvalidParameterValueException', 400, latestOnly);
    await fails(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: ARN('fid', '1'), ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 2;' }) })), 'InvalidParameterValueException', 400, latestOnly);
    await fails(lambda.send(new PublishVersionCommand({ FunctionName: ARN('fid', 'live') })), 'InvalidParameterValueException', 400, latestOnly);
    const cfg = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: ARN('fid', '$LATEST'), Description: 'via $LATEST' }));
    assert.equal(cfg.Version, '$LATEST');
    const published = await lambda.send(new PublishVersionCommand({ FunctionName: 'fid' }));
    assert.equal(published.Version, '2');
    const created = await lambda.send(new CreateAliasCommand({ FunctionName: 'fid:1', Name: 'next', FunctionVersion: '2' }));
    assert.equal(created.AliasArn, ARN('fid', 'next'));
  });

  test('reserved concurrency refuses a version or alias with Lambda\'s message', async () => {
    const msg = 'This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.';
    await fails(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'fid:live', ReservedConcurrentExecutions: 1 })), 'InvalidParameterValueException', 400, msg);
    await fails(lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: ARN('fid', '1') })), 'InvalidParameterValueException', 400, msg);
    await fails(lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: ARN('fid', '1') })), 'InvalidParameterValueException', 400, msg);
    assert.deepEqual((await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: ARN('fid'), ReservedConcurrentExecutions: 1 }))).ReservedConcurrentExecutions, 1);
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'fid' }));
  });

  test('DeleteFunction on an alias, tags on a version: Lambda\'s refusals', async () => {
    await fails(lambda.send(new DeleteFunctionCommand({ FunctionName: 'fid', Qualifier: 'live' })), 'InvalidParameterValueException', 400, 'Deletion of aliases is not supported.');
    await fails(lambda.send(new DeleteFunctionCommand({ FunctionName: 'fid:live' })), 'InvalidParameterValueException', 400, 'Deletion of aliases is not supported.');
    await fails(lambda.send(new TagResourceCommand({ Resource: ARN('fid', '1'), Tags: { a: 'b' } })), 'InvalidParameterValueException', 400,
      'Tags on function aliases and versions are not supported. Please specify a function ARN.');
  });

  test('an ARN of another region is not found, with Lambda\'s message', async () => {
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:eu-west-1:000000000000:function:fid' })), 'ResourceNotFoundException', 404,
      "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:eu-west-1:000000000000:function:fid' })), 'ResourceNotFoundException', 404);
  });

  test('environment variable keys: Lambda\'s exact constraint message (keys of one character are refused)', async () => {
    await fails(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'fid', Environment: { Variables: { A: 'x' } } })), 'ValidationException', 400,
      "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]");
  });

  test('PublishVersion: a description changed in $LATEST is a change; an unchanged $LATEST publishes nothing, even after an overriding Description', async () => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'pubdesc', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }));
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'pubdesc', Description: 'release one' }));
    assert.equal(v1.Version, '1');
    assert.equal(v1.Description, 'release one');
    assert.equal((await lambda.send(new PublishVersionCommand({ FunctionName: 'pubdesc' }))).Version, '1', 'nothing changed since version 1');
    await new Promise((r) => setTimeout(r, 5)); // LastModified has millisecond resolution
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'pubdesc', Description: 'now described' }));
    const v2 = await lambda.send(new PublishVersionCommand({ FunctionName: 'pubdesc' }));
    assert.equal(v2.Version, '2', 'a description update is a configuration change');
    assert.equal(v2.Description, 'now described');
    assert.equal((await lambda.send(new PublishVersionCommand({ FunctionName: 'pubdesc' }))).Version, '2');
  });

  test('every operation through boto3, each parsed response checked against botocore\'s lambda model', async (t) => {
    if (!haveBoto3) return serviceMissing(t, 'python3 with boto3', 'import boto3 failed');
    const { stdout } = await run('python3', [MODEL_AUDIT, server.endpoint], { timeout: 120_000, env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { problems: string[]; calls: number };
    assert.deepEqual(report.problems, []);
    assert.ok(report.calls >= 40, `${report.calls} calls`);
  });
});
