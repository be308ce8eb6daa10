import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, DeleteFunctionCommand, DeleteFunctionConcurrencyCommand, GetAccountSettingsCommand, GetFunctionCommand,
  GetFunctionConcurrencyCommand, GetFunctionRecursionConfigCommand, LambdaClient, ListTagsCommand, PublishVersionCommand, PutFunctionConcurrencyCommand,
  PutFunctionRecursionConfigCommand, TagResourceCommand, UntagResourceCommand, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { rejects } from '../helpers/errors.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const ARN = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;

describe('Lambda API: concurrency, account settings, tags', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let zip: Buffer;
  before(async () => {
    server = await startServer({ accountConcurrency: 50, unreservedConcurrencyMin: 20 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    zip = await makeZip({ 'index.js': 'exports.handler = async () => 1;' });
    for (const n of ['c1', 'c2']) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: n, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, Tags: { owner: 'me' } }));
    }
  });
  // The data dir goes with the last server (one is started again on it, below).
  after(async () => {
    await server?.stop({ keepData: true });
    if (server) fs.rmSync(server.dataDir, { recursive: true, force: true });
  });

  test('reserved concurrency keeps the configured minimum unreserved', async () => {
    assert.deepEqual((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'c1' }))).ReservedConcurrentExecutions, undefined);
    const put = await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'c1', ReservedConcurrentExecutions: 20 }));
    assert.equal(put.ReservedConcurrentExecutions, 20);
    assert.equal((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'c1' }))).ReservedConcurrentExecutions, 20);
    assert.deepEqual((await lambda.send(new GetFunctionCommand({ FunctionName: 'c1' }))).Concurrency, { ReservedConcurrentExecutions: 20 });
    // 50 - 20 - 11 = 19 < 20
    await assert.rejects(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'c2', ReservedConcurrentExecutions: 11 })), (e: any) =>
      e.name === 'InvalidParameterValueException' && /below its minimum value of \[20\]/.test(e.message));
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'c2', ReservedConcurrentExecutions: 10 }));
    // Changing c1's own reservation does not count c1 twice.
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'c1', ReservedConcurrentExecutions: 20 }));
    const s = await lambda.send(new GetAccountSettingsCommand({}));
    assert.equal(s.AccountLimit?.ConcurrentExecutions, 50);
    assert.equal(s.AccountLimit?.UnreservedConcurrentExecutions, 20);
    assert.equal(s.AccountLimit?.CodeSizeZipped, 52428800);
    assert.equal(s.AccountLimit?.CodeSizeUnzipped, 262144000);
    assert.equal(s.AccountUsage?.FunctionCount, 2);
    // Every function's package counts, as Lambda counts code storage (Stratus stores the one zip once).
    assert.equal(s.AccountUsage?.TotalCodeSize, 2 * zip.length, 'each function\'s package counts');
    const del = await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'c2' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    assert.equal((await lambda.send(new GetAccountSettingsCommand({}))).AccountLimit?.UnreservedConcurrentExecutions, 30);
    await assert.rejects(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'c2', ReservedConcurrentExecutions: -1 })), { name: 'ValidationException' });
    await assert.rejects(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'nope', ReservedConcurrentExecutions: 1 })), { name: 'ResourceNotFoundException' });
  });

  test('recursion config: Terminate by default, Allow or Terminate put on the function, kept across a restart; checked as Lambda checks it', async () => {
    const get = async (FunctionName: string) => (await lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName }))).RecursiveLoop;
    assert.equal(await get('c1'), 'Terminate');
    const put = await lambda.send(new PutFunctionRecursionConfigCommand({ FunctionName: ARN('c1'), RecursiveLoop: 'Allow' }));
    assert.equal(put.$metadata.httpStatusCode, 200);
    assert.equal(put.RecursiveLoop, 'Allow');
    assert.equal(await get('c1'), 'Allow');
    assert.equal(await get('c2'), 'Terminate', 'a setting of its own function only');
    // Kept in the store: a server started again on the same data gives it.
    await server.stop({ keepData: true });
    server = await startServer({ accountConcurrency: 50, unreservedConcurrencyMin: 20, dataDir: server.dataDir });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    assert.equal(await get('c1'), 'Allow', 'kept in the store');
    await lambda.send(new PutFunctionRecursionConfigCommand({ FunctionName: 'c1', RecursiveLoop: 'Terminate' }));
    assert.equal(await get('c1'), 'Terminate');
    await rejects(lambda.send(new PutFunctionRecursionConfigCommand({ FunctionName: 'c1', RecursiveLoop: 'Sometimes' as any })), 'ValidationException',
      /Value 'Sometimes' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value set: \[Allow, Terminate\]/);
    await rejects(lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'nope' })), 'ResourceNotFoundException', /Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope/);
    await rejects(lambda.send(new PutFunctionRecursionConfigCommand({ FunctionName: 'c1:1', RecursiveLoop: 'Allow' })), 'InvalidParameterValueException', /permitted on Lambda functions only/);
  });

  test('code no version references any more is deleted: deleting a function frees its storage', async () => {
    const usage = async () => (await lambda.send(new GetAccountSettingsCommand({}))).AccountUsage!.TotalCodeSize!;
    const before = await usage();
    const own = await makeZip({ 'index.js': 'exports.handler = async () => "own code";' });
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'gc', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: own } }));
    assert.equal(await usage(), before + own.length);
    const other = await makeZip({ 'index.js': 'exports.handler = async () => "newer code";' });
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'gc', ZipFile: other }));
    assert.equal(await usage(), before + other.length, 'the replaced zip is gone');
    // A published version is a package of its own.
    await lambda.send(new PublishVersionCommand({ FunctionName: 'gc' }));
    assert.equal(await usage(), before + 2 * other.length, 'a published version counts');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'gc' }));
    assert.equal(await usage(), before);
  });

  test('tags: list, add, remove; versions and aliases are refused; unknown function is not found', async () => {
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: ARN('c1') }))).Tags, { owner: 'me' });
    const tagged = await lambda.send(new TagResourceCommand({ Resource: ARN('c1'), Tags: { env: 'dev', tier: 'x' } }));
    assert.equal(tagged.$metadata.httpStatusCode, 204);
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: ARN('c1') }))).Tags, { owner: 'me', env: 'dev', tier: 'x' });
    await lambda.send(new UntagResourceCommand({ Resource: ARN('c1'), TagKeys: ['owner', 'tier'] }));
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: ARN('c1') }))).Tags, { env: 'dev' });
    assert.deepEqual((await lambda.send(new GetFunctionCommand({ FunctionName: 'c1' }))).Tags, { env: 'dev' });
    await assert.rejects(lambda.send(new TagResourceCommand({ Resource: ARN('c1', '1'), Tags: { a: 'b' } })), (e: any) =>
      e.name === 'InvalidParameterValueException' && /aliases and versions/.test(e.message));
    await assert.rejects(lambda.send(new ListTagsCommand({ Resource: ARN('ghost') })), { name: 'ResourceNotFoundException' });
    await assert.rejects(lambda.send(new TagResourceCommand({ Resource: ARN('c1'), Tags: { 'aws:x': 'y' } })), { name: 'InvalidParameterValueException' });
  });

  test('tags: Lambda\'s refusals of a Resource that is not a function ARN, a version or alias, no tags, too many tags', async () => {
    // The model's TaggableResource pattern, as a ValidationException on every tag operation.
    const pattern = 'arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?'
      + '|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)';
    const invalid = (r: string) => `1 validation error detected: Value '${r}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern}`;
    for (const bad of ['c1', 'arn:aws:lambda:us-east-1:000000000000:layer:l', 'arn:aws:s3:::bucket']) {
      await rejects(lambda.send(new TagResourceCommand({ Resource: bad, Tags: { a: 'b' } })), 'ValidationException', invalid(bad), 400);
      await rejects(lambda.send(new UntagResourceCommand({ Resource: bad, TagKeys: ['a'] })), 'ValidationException', invalid(bad), 400);
      await rejects(lambda.send(new ListTagsCommand({ Resource: bad })), 'ValidationException', invalid(bad), 400);
    }
    // AWS-recorded (LocalStack's test_tag_exceptions): a qualified ARN, an empty map, more than 50 tags.
    const qualified = 'Tags on function aliases and versions are not supported. Please specify a function ARN.';
    await rejects(lambda.send(new TagResourceCommand({ Resource: ARN('c1', 'live'), Tags: { a: 'b' } })), 'InvalidParameterValueException', qualified, 400);
    await rejects(lambda.send(new ListTagsCommand({ Resource: ARN('c1', '$LATEST') })), 'InvalidParameterValueException', qualified, 400);
    await rejects(lambda.send(new TagResourceCommand({ Resource: ARN('c1'), Tags: {} })), 'InvalidParameterValueException', 'An error occurred and the request cannot be processed.', 400);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    await rejects(lambda.send(new TagResourceCommand({ Resource: ARN('c2'), Tags: many })), 'InvalidParameterValueException', 'Number of tags exceeds resource tag limit.', 400);
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: ARN('c2') }))).Tags, { owner: 'me' }, 'nothing was tagged');
  });
});
