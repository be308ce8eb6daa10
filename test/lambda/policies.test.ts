import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteFunctionCommand, GetAliasCommand,
  GetFunctionConfigurationCommand, GetPolicyCommand, InvokeCommand, LambdaClient, PublishVersionCommand, RemovePermissionCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { rejects } from '../helpers/errors.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function';

describe('resource-based policies: AddPermission, GetPolicy, RemovePermission', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'pol', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;\n' }) },
    }));
  });
  after(async () => server?.stop());

  test('statements as Lambda writes them, in order; GetPolicy returns the document and its revision', async () => {
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    // AWS-recorded (test_permission_exceptions): no policy to remove from, a version or alias that is not there.
    await rejects(lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'x' })), 'ResourceNotFoundException', 'No policy is associated with the given resource.', 404);
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: '42' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: 'nosuch' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    const s3 = await lambda.send(new AddPermissionCommand({
      FunctionName: 'pol', StatementId: 's3-invoke', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com',
      SourceArn: 'arn:aws:s3:::my-bucket', SourceAccount: '123456789012',
    }));
    assert.equal(s3.$metadata.httpStatusCode, 201);
    assert.deepEqual(JSON.parse(s3.Statement!), {
      Sid: 's3-invoke', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'lambda:InvokeFunction', Resource: `${ARN}:pol`,
      Condition: { StringEquals: { 'AWS:SourceAccount': '123456789012' }, ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::my-bucket' } },
    });
    const account = await lambda.send(new AddPermissionCommand({ FunctionName: `${ARN}:pol`, StatementId: 'acct', Action: 'lambda:GetFunction', Principal: '111122223333' }));
    assert.deepEqual(JSON.parse(account.Statement!).Principal, { AWS: 'arn:aws:iam::111122223333:root' });
    await lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'url', Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }));
    const got = await lambda.send(new GetPolicyCommand({ FunctionName: 'pol' }));
    const doc = JSON.parse(got.Policy!);
    assert.equal(doc.Version, '2012-10-17');
    assert.equal(doc.Id, 'default');
    assert.deepEqual(doc.Statement.map((s: { Sid: string }) => s.Sid), ['s3-invoke', 'acct', 'url']);
    assert.deepEqual(doc.Statement[2], { Sid: 'url', Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunctionUrl', Resource: `${ARN}:pol`, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } } });
    assert.match(got.RevisionId!, /^[0-9a-f-]{36}$/);

    // A statement id is used once; a stale RevisionId is refused; removing needs an existing id.
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'acct', Action: 'lambda:InvokeFunction', Principal: '*' })),
      'ResourceConflictException', 'The statement id (acct) provided already exists. Please provide a new statement id, or remove the existing statement.', 409);
    await rejects(lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'acct', RevisionId: 'stale' })),
      'PreconditionFailedException', /does not match the latest Revision Id/, 412);
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'acct', RevisionId: got.RevisionId }));
    await rejects(lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'acct' })), 'ResourceNotFoundException', 'Statement acct is not found in resource policy.', 404);
    const after = await lambda.send(new GetPolicyCommand({ FunctionName: 'pol' }));
    assert.notEqual(after.RevisionId, got.RevisionId);
    assert.deepEqual(JSON.parse(after.Policy!).Statement.map((s: { Sid: string }) => s.Sid), ['s3-invoke', 'url']);
    // The last statement gone, the policy is gone.
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 's3-invoke' }));
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'url' }));
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
  });

  test('a version or alias has a policy of its own, which goes with it', async () => {
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'pol' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'pol', Name: 'live', FunctionVersion: v.Version! }));
    const onAlias = await lambda.send(new AddPermissionCommand({ FunctionName: 'pol', Qualifier: 'live', StatementId: 'gw', Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com' }));
    assert.equal(JSON.parse(onAlias.Statement!).Resource, `${ARN}:pol:live`);
    await lambda.send(new AddPermissionCommand({ FunctionName: `pol:${v.Version}`, StatementId: 'ev', Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' }));
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    assert.deepEqual(JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: 'live' }))).Policy!).Statement.map((s: { Sid: string }) => s.Sid), ['gw']);
    assert.equal(JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: v.Version }))).Policy!).Statement[0].Resource, `${ARN}:pol:${v.Version}`);
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'pol', Qualifier: 'nosuch', StatementId: 'x', Action: 'lambda:InvokeFunction', Principal: '*' })),
      'ResourceNotFoundException', `Function not found: ${ARN}:pol:nosuch`, 404);
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'pol', Name: 'live' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'pol', Name: 'live', FunctionVersion: v.Version! }));
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: 'live' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
  });

  test('bad input: the model\'s constraints, and a function that does not exist', async () => {
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'bad id', Action: 'lambda:InvokeFunction', Principal: '*' })),
      'ValidationException', "1 validation error detected: Value 'bad id' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)", 400);
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'a', Action: 'invoke', Principal: '*', SourceAccount: '12' })),
      'ValidationException', /^2 validation errors detected: Value 'invoke' at 'action' .*; Value '12' at 'sourceAccount' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d\{12\}$/, 400);
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'nosuch', StatementId: 'a', Action: 'lambda:InvokeFunction', Principal: '*' })),
      'ResourceNotFoundException', `Function not found: ${ARN}:nosuch`, 404);
    // A principal that is none of '*', an account, an IAM ARN or a service (AWS-recorded: test_permission_exceptions).
    for (const Principal of ['a', 'example.com', 'arn:aws:iam::123:root']) {
      await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'who', Action: 'lambda:InvokeFunction', Principal })),
        'InvalidParameterValueException', 'The provided principal was invalid. Please check the principal and try again.', 400);
    }
    for (const Principal of ['*', '123456789012', 'arn:aws:iam::123456789012:role/x', 'arn:aws:sts::123456789012:assumed-role/r/s', 'edgelambda.amazonaws.com',
      'events.amazonaws.com.cn', 'lambda.aws.internal', 'alexa-appkit.amazon.com']) {
      await lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'who', Action: 'lambda:InvokeFunction', Principal }));
      await lambda.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'who' }));
    }
    // $LATEST has no policy of its own (AWS-recorded: test_permission_exceptions).
    for (const target of [{ FunctionName: 'pol', Qualifier: '$LATEST' }, { FunctionName: 'pol:$LATEST' }, { FunctionName: `${ARN}:pol:$LATEST` }]) {
      await rejects(lambda.send(new AddPermissionCommand({ ...target, StatementId: 'latest', Action: 'lambda:InvokeFunction', Principal: '*' })),
        'InvalidParameterValueException', 'We currently do not support adding policies for $LATEST.', 400);
    }
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'nosuch' })), 'ResourceNotFoundException', `Function not found: ${ARN}:nosuch`, 404);
  });

  test('the policy\'s RevisionId is its function\'s, version\'s or alias\'s, and each permission change renews it', async () => {
    // AWS-recorded (LocalStack's test_function_revisions_permissions): AddPermission takes
    // GetFunction's RevisionId, the function's RevisionId moves with each change, and GetPolicy's
    // is the function's.
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'rev', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': 'const id = Math.random();\nexports.handler = async () => id;\n' }) },
    }));
    const revOf = async (Qualifier?: string) => (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rev', Qualifier }))).RevisionId!;
    const mismatch = 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id';
    const invoked = async () => JSON.parse(Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: 'rev' }))).Payload!).toString());
    const warm = await invoked();
    const r1 = await revOf();
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'rev', StatementId: 's3', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', RevisionId: 'wrong' })),
      'PreconditionFailedException', mismatch, 412);
    await lambda.send(new AddPermissionCommand({ FunctionName: 'rev', StatementId: 's3', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', RevisionId: r1 }));
    const r2 = await revOf();
    assert.notEqual(r2, r1);
    assert.equal((await lambda.send(new GetPolicyCommand({ FunctionName: 'rev' }))).RevisionId, r2);
    // The function moved on: a write at the old revision is refused.
    await rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'rev', Description: 'x', RevisionId: r1 })), 'PreconditionFailedException', mismatch, 412);
    await rejects(lambda.send(new RemovePermissionCommand({ FunctionName: 'rev', StatementId: 's3', RevisionId: r1 })), 'PreconditionFailedException', mismatch, 412);
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'rev', StatementId: 's3', RevisionId: r2 }));
    const r3 = await revOf();
    assert.notEqual(r3, r2);
    // What runs did not change: the warm environment serves on.
    assert.equal(await invoked(), warm);

    // A version's and an alias's policies are theirs, and so are their revisions.
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'rev' }));
    const alias = await lambda.send(new CreateAliasCommand({ FunctionName: 'rev', Name: 'live', FunctionVersion: v.Version! }));
    await lambda.send(new AddPermissionCommand({ FunctionName: 'rev', Qualifier: v.Version, StatementId: 'v', Action: 'lambda:InvokeFunction', Principal: '*', RevisionId: v.RevisionId }));
    const v2 = await revOf(v.Version);
    assert.notEqual(v2, v.RevisionId);
    assert.equal((await lambda.send(new GetPolicyCommand({ FunctionName: 'rev', Qualifier: v.Version }))).RevisionId, v2);
    assert.equal(await revOf(), r3, 'the function\'s is its own');
    await rejects(lambda.send(new AddPermissionCommand({ FunctionName: 'rev', Qualifier: 'live', StatementId: 'a', Action: 'lambda:InvokeFunction', Principal: '*', RevisionId: r3 })),
      'PreconditionFailedException', mismatch, 412);
    await lambda.send(new AddPermissionCommand({ FunctionName: 'rev', Qualifier: 'live', StatementId: 'a', Action: 'lambda:InvokeFunction', Principal: '*', RevisionId: alias.RevisionId }));
    const a2 = (await lambda.send(new GetAliasCommand({ FunctionName: 'rev', Name: 'live' }))).RevisionId;
    assert.notEqual(a2, alias.RevisionId);
    assert.equal((await lambda.send(new GetPolicyCommand({ FunctionName: 'rev', Qualifier: 'live' }))).RevisionId, a2);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'rev' }));
  });

  test('a policy is at most 20480 bytes: PolicyLengthExceededException says how big it would be', async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'big', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;\n' }) },
    }));
    let refused: (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      await lambda.send(new AddPermissionCommand({
        FunctionName: 'big', StatementId: `s${String(i).padStart(3, '0')}${'x'.repeat(90)}`, Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com',
        SourceArn: `arn:aws:s3:::${'b'.repeat(60)}`,
      })).catch((e: Error) => { refused = e; });
    }
    assert.equal(refused?.name, 'PolicyLengthExceededException');
    assert.equal(refused?.$metadata?.httpStatusCode, 400);
    const size = /^The final policy size \((\d+)\) is bigger than the limit \(20480\)\.$/.exec(refused!.message);
    assert.ok(size, refused!.message);
    const kept = Buffer.byteLength((await lambda.send(new GetPolicyCommand({ FunctionName: 'big' }))).Policy!);
    assert.ok(Number(size[1]) > 20480 && kept <= 20480 && Number(size[1]) > kept, `${size[1]} vs ${kept}`);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'big' }));
  });

  test('a policy goes with its function: a new function of the same name has none', async () => {
    await lambda.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'keep', Action: 'lambda:InvokeFunction', Principal: '*' }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'pol' }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'pol', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;\n' }) },
    }));
    await rejects(lambda.send(new GetPolicyCommand({ FunctionName: 'pol' })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
  });
});
