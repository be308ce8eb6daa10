import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, GetAliasCommand, GetFunctionCommand, GetFunctionEventInvokeConfigCommand, GetPolicyCommand, InvokeAsyncCommand, InvokeCommand,
  InvokeWithResponseStreamCommand, LambdaClient, ListEventSourceMappingsCommand, ListFunctionsCommand, ListVersionsByFunctionCommand,
  PublishVersionCommand, PutFunctionConcurrencyCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, type CreateFunctionCommandInput,
} from '@aws-sdk/client-lambda';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
/** The Runtime enum of botocore's lambda model, in its order. */
const RUNTIME_ENUM = 'nodejs, nodejs4.3, nodejs6.10, nodejs8.10, nodejs10.x, nodejs12.x, nodejs14.x, nodejs16.x, java8, java8.al2, java11, python2.7, '
  + 'python3.6, python3.7, python3.8, python3.9, dotnetcore1.0, dotnetcore2.0, dotnetcore2.1, dotnetcore3.1, dotnet6, dotnet8, nodejs4.3-edge, go1.x, '
  + 'ruby2.5, ruby2.7, provided, provided.al2, nodejs18.x, python3.10, java17, ruby3.2, ruby3.3, ruby3.4, python3.11, nodejs20.x, provided.al2023, '
  + 'python3.12, java21, python3.13, nodejs22.x, nodejs24.x, python3.14, java25, dotnet10, ruby4.0';
/** botocore's lambda model: NamespacedFunctionName (Invoke, GetFunction, ...) and FunctionName (CreateFunction, aliases, ...). */
const NAMESPACED_FUNCTION_NAME = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?';
const FUNCTION_NAME = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?';
/** A RegExp matching exactly `text`. */
const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Asserts the AWS error name, HTTP status and (optionally) a message pattern. */
async function fails(p: Promise<unknown>, name: string, status: number, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: any) => {
    assert.equal(e.name, name, `${e.name}: ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('Lambda API: errors in AWS shape', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let zip: Buffer;
  const base = (over: Partial<CreateFunctionCommandInput> = {}): CreateFunctionCommandInput => ({
    FunctionName: 'bad', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, ...over,
  });
  before(async () => {
    server = await startServer({ codeStorageLimitBytes: 64 * 1024 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    zip = await makeZip({ 'index.js': 'exports.handler = async () => 1;' });
    await lambda.send(new CreateFunctionCommand(base({ FunctionName: 'exists' })));
  });
  after(async () => server?.stop());

  test('the raw wire: x-amzn-ErrorType header and {Type, message} body', async () => {
    const res = await fetch(`${server.endpoint}/2015-03-31/functions/nope`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-amzn-errortype'), 'ResourceNotFoundException');
    assert.ok(res.headers.get('x-amzn-requestid'));
    const body = await res.json();
    assert.equal(body.Type, 'User');
    assert.equal(body.message, 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope');
  });

  test('ResourceConflictException: a name that exists', async () => {
    await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'exists' }))), 'ResourceConflictException', 409, /^Function already exist: exists$/);
  });

  test('ValidationException: model constraints, every violation listed', async () => {
    await fails(lambda.send(new CreateFunctionCommand(base({ MemorySize: 64 }))), 'ValidationException', 400,
      /^1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128$/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Timeout: 901 }))), 'ValidationException', 400, /at 'timeout' .*less than or equal to 900/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Timeout: 0 }))), 'ValidationException', 400, /at 'timeout' .*greater than or equal to 1/);
    await fails(lambda.send(new CreateFunctionCommand(base({ EphemeralStorage: { Size: 100 } }))), 'ValidationException', 400, /ephemeralStorage.size/);
    await fails(lambda.send(new CreateFunctionCommand(base({ EphemeralStorage: { Size: 10241 } }))), 'ValidationException', 400, /ephemeralStorage.size/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Role: 'not-a-role' }))), 'ValidationException', 400, /at 'role'/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Role: undefined }))), 'ValidationException', 400, /Value null at 'role'.*must not be null/);
    await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'has space' }))), 'ValidationException', 400, /at 'functionName'/);
    await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'x'.repeat(65) }))), 'ValidationException', 400, /length less than or equal to 64/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Description: 'd'.repeat(257) }))), 'ValidationException', 400, /at 'description'/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Environment: { Variables: { '1bad': 'x' } } }))), 'ValidationException', 400, /environment.variables/);
    await fails(lambda.send(new CreateFunctionCommand(base({ MemorySize: 64, Timeout: 0 }))), 'ValidationException', 400, /^2 validation errors detected: /);
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', Qualifier: 'bad!q' })), 'ValidationException', 400,
      /^1 validation error detected: Value 'bad!q' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \\\$\(LATEST\(\\\.PUBLISHED\)\?\)\|\[a-zA-Z0-9-_\$\]\+$/);
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'exists', Qualifier: 'bad!q' })), 'ValidationException', 400, /at 'qualifier'/);
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', Qualifier: 'q'.repeat(129) })), 'ValidationException', 400, /at 'qualifier'.*length less than or equal to 128/);
    // $LATEST.PUBLISHED fits the pattern: a function without a published $LATEST is not found.
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', Qualifier: '$LATEST.PUBLISHED' })), 'ResourceNotFoundException', 404,
      /^Function not found: arn:aws:lambda:[^:]+:\d+:function:exists:\$LATEST\.PUBLISHED$/);
  });

  test('FunctionName: each operation\'s model pattern (NamespacedFunctionName takes dots, $LATEST.PUBLISHED and -iso regions; FunctionName no dots)', async () => {
    const arn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
    // NamespacedFunctionName: what fits it is looked for, and not found.
    const namespaced = (FunctionName: string) => [
      () => lambda.send(new InvokeCommand({ FunctionName })),
      () => lambda.send(new InvokeCommand({ FunctionName, InvocationType: 'Event' })),
      () => lambda.send(new InvokeWithResponseStreamCommand({ FunctionName })),
      () => lambda.send(new InvokeAsyncCommand({ FunctionName, InvokeArgs: Buffer.from('{}') })),
      () => lambda.send(new GetFunctionCommand({ FunctionName })),
      () => lambda.send(new ListVersionsByFunctionCommand({ FunctionName })),
      () => lambda.send(new GetPolicyCommand({ FunctionName })),
      () => lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName })),
    ];
    for (const [name, message] of [
      ['f.1', exactly(`Function not found: ${arn('f.1')}`)],
      ['arn:aws:lambda:us-east-1:000000000000:function:my.fn', exactly(`Function not found: ${arn('my.fn')}`)],
      // Named with the qualifier, or without it where the operation names the missing function so.
      ['f1:$LATEST.PUBLISHED', /^Function not found: arn:aws:lambda:us-east-1:000000000000:function:f1(:\$LATEST\.PUBLISHED)?$/],
      ['arn:aws-iso-b:lambda:us-isob-east-1:000000000000:function:f1', exactly("Functions from 'us-isob-east-1' are not reachable in this region ('us-east-1')")],
    ] as const) {
      for (const call of namespaced(name)) await fails(call(), 'ResourceNotFoundException', 404, message);
    }
    assert.deepEqual((await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'f.1' }))).EventSourceMappings, []);
    // Outside it: the model's pattern, quoted.
    for (const call of namespaced('has space')) {
      await fails(call(), 'ValidationException', 400,
        exactly(`1 validation error detected: Value 'has space' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${NAMESPACED_FUNCTION_NAME}`));
    }
    // FunctionName (creating or changing a function): no dots, no $LATEST.PUBLISHED; -iso regions fit.
    const plain = (FunctionName: string) => exactly(
      `1 validation error detected: Value '${FunctionName}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME}`);
    await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'f.1' }))), 'ValidationException', 400, plain('f.1'));
    await fails(lambda.send(new PublishVersionCommand({ FunctionName: 'f.1' })), 'ValidationException', 400, plain('f.1'));
    await fails(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'f.1', ReservedConcurrentExecutions: 1 })), 'ValidationException', 400, plain('f.1'));
    await fails(lambda.send(new GetAliasCommand({ FunctionName: 'f1:$LATEST.PUBLISHED', Name: 'live' })), 'ValidationException', 400, plain('f1:$LATEST.PUBLISHED'));
    await fails(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'arn:aws-iso-b:lambda:us-isob-east-1:000000000000:function:exists', ZipFile: zip })),
      'ResourceNotFoundException', 404, /^Functions from 'us-isob-east-1' are not reachable/);
  });

  test('InvalidParameterValueException: Lambda\'s semantic refusals', async () => {
    await fails(lambda.send(new CreateFunctionCommand(base({ MemorySize: 10241 }))), 'InvalidParameterValueException', 400,
      /'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Environment: { Variables: { AWS_REGION: 'x' } } }))), 'InvalidParameterValueException', 400,
      /reserved keys.*AWS_REGION/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Environment: { Variables: { BIG: 'x'.repeat(4100) } } }))), 'InvalidParameterValueException', 400,
      /exceeded the 4KB limit/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Runtime: 'nodejs12.x' }))), 'InvalidParameterValueException', 400, /no longer supported/);
    // A runtime Lambda does not know (AWS-recorded wording: the value unquoted, no "1 validation
    // error detected:"), listing the model's Runtime enum in its order.
    const unknownRuntime = (r: string) => exactly(`Value ${r} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${RUNTIME_ENUM}] or be a valid ARN`);
    await fails(lambda.send(new CreateFunctionCommand(base({ Runtime: 'nodejs99' as any }))), 'InvalidParameterValueException', 400, unknownRuntime('nodejs99'));
    await fails(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'exists', Runtime: 'cobol85' as any })), 'InvalidParameterValueException', 400, unknownRuntime('cobol85'));
    await fails(lambda.send(new CreateFunctionCommand(base({ Runtime: 'java21' }))), 'InvalidParameterValueException', 400, /Stratus cannot run/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Handler: undefined }))), 'InvalidParameterValueException', 400, /Handler/);
    await fails(lambda.send(new CreateFunctionCommand(base({ Code: { S3Bucket: 'b', S3Key: 'k' } }))), 'InvalidParameterValueException', 400, /S3/);
    await fails(lambda.send(new CreateFunctionCommand(base({ DeadLetterConfig: { TargetArn: 'arn:aws:s3:::bucket' } }))), 'InvalidParameterValueException', 400, /DeadLetterConfig/);
    // Not an ARN at all: the model's pattern, before what Lambda can deliver to.
    await fails(lambda.send(new CreateFunctionCommand(base({ DeadLetterConfig: { TargetArn: 'garbage' } }))), 'ValidationException', 400,
      /Value 'garbage' at 'deadLetterConfig.targetArn' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    await fails(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'exists', Environment: { Variables: { AWS_LAMBDA_FUNCTION_NAME: 'x' } } })), 'InvalidParameterValueException', 400, /AWS_LAMBDA_FUNCTION_NAME/);
    await fails(lambda.send(new PublishVersionCommand({ FunctionName: 'exists', CodeSha256: 'nope' })), 'InvalidParameterValueException', 400, /CodeSHA256 \(nope\) is different/);
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists:1', Qualifier: '2' })), 'InvalidParameterValueException', 400, /qualifier/);
    await fails(lambda.send(new ListFunctionsCommand({ MaxItems: 0 })), 'ValidationException', 400, /maxItems/);
    // Nothing was left behind by the refused requests.
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'bad' })), 'ResourceNotFoundException', 404);
  });

  test('a handler without a function part is accepted, and fails at init as Runtime.MalformedHandlerName', async () => {
    await lambda.send(new CreateFunctionCommand(base({ FunctionName: 'nodot', Handler: 'index' })));
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'nodot', Payload: Buffer.from('{}') }));
    assert.equal(r.FunctionError, 'Unhandled');
    assert.deepEqual(JSON.parse(Buffer.from(r.Payload!).toString()).errorType, 'Runtime.MalformedHandlerName');
  });

  test('a malformed zip is an invalid parameter (Lambda\'s message), and nothing is left behind', async () => {
    // AWS-recorded: an upload that is not a zip is InvalidParameterValueException; the model's
    // InvalidZipFileException (502) is an invoke-time failure.
    const message = /^Could not unzip uploaded file\. Please check your file, then try to upload again\.$/;
    await fails(lambda.send(new CreateFunctionCommand(base({ Code: { ZipFile: Buffer.from('this is not a zip') } }))), 'InvalidParameterValueException', 400, message);
    await fails(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'exists', ZipFile: Buffer.from('PK\x03\x04garbage') })), 'InvalidParameterValueException', 400, message);
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'bad' })), 'ResourceNotFoundException', 404);
    const after = await lambda.send(new GetFunctionCommand({ FunctionName: 'exists' }));
    assert.equal(after.Configuration?.CodeSize, zip.length, 'the refused update did not touch the code');
  });

  test('InvalidParameterValueException for a package over 250 MB unzipped (Lambda\'s message), on create and on update', async () => {
    const bomb = await makeZip({ 'index.js': 'exports.handler = async () => 1;', 'zeros.bin': Buffer.alloc(251 * 1024 * 1024) });
    assert.ok(bomb.length < 1024 * 1024);
    const message = /^Unzipped size must be smaller than 262144000 bytes$/;
    await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'unzipped', Code: { ZipFile: bomb } }))), 'InvalidParameterValueException', 400, message);
    await fails(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'exists', ZipFile: bomb })), 'InvalidParameterValueException', 400, message);
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'unzipped' })), 'ResourceNotFoundException', 404);
  });

  test('durable functions and Managed Instances settings are refused, not dropped', async () => {
    const cases: [Partial<CreateFunctionCommandInput>, RegExp][] = [
      [{ DurableConfig: { ExecutionTimeout: 100, RetentionPeriodInDays: 7 } }, /DurableConfig/],
      [{ CapacityProviderConfig: { LambdaManagedInstancesCapacityProviderConfig: { CapacityProviderArn: 'arn:aws:lambda:us-east-1:000000000000:capacity-provider:x' } } }, /CapacityProviderConfig/],
      [{ PublishTo: 'LATEST_PUBLISHED' }, /PublishTo/],
    ];
    for (const [over, message] of cases) {
      await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'managed', ...over }))), 'InvalidParameterValueException', 400, message);
      await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'managed' })), 'ResourceNotFoundException', 404);
    }
    const before = await lambda.send(new GetFunctionCommand({ FunctionName: 'exists' }));
    await fails(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'exists', DurableConfig: { ExecutionTimeout: 100 } })), 'InvalidParameterValueException', 400, /DurableConfig/);
    await fails(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'exists', ZipFile: zip, PublishTo: 'LATEST_PUBLISHED' })), 'InvalidParameterValueException', 400, /PublishTo/);
    await fails(lambda.send(new PublishVersionCommand({ FunctionName: 'exists', PublishTo: 'LATEST_PUBLISHED' })), 'InvalidParameterValueException', 400, /PublishTo/);
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'exists', Qualifier: '1' })), 'ResourceNotFoundException', 404);
    const after = await lambda.send(new GetFunctionCommand({ FunctionName: 'exists' }));
    assert.equal(after.Configuration?.RevisionId, before.Configuration?.RevisionId, 'nothing changed');
  });

  test('RequestEntityTooLargeException past the upload limits: UpdateFunctionCode\'s is the base64 of 50 MB, CreateFunction\'s 256 KB more', async () => {
    const body = Buffer.alloc(69_905_067 + 100, 0x20);
    const update = await fetch(`${server.endpoint}/2015-03-31/functions/exists/code`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    assert.equal(update.status, 413);
    assert.equal((await update.json()).message, 'Request must be smaller than 69905067 bytes for the UpdateFunctionCode operation');
    const create = await fetch(`${server.endpoint}/2015-03-31/functions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(70_167_211 + 100, 0x20) });
    assert.equal(create.status, 413);
    assert.equal((await create.json()).message, 'Request must be smaller than 70167211 bytes for the CreateFunction operation');
  });

  test('CodeStorageExceededException past the code storage limit', async () => {
    const big = await makeZip({ 'index.js': 'exports.handler = async () => 1;', 'noise.bin': Buffer.from(Array.from({ length: 100_000 }, () => Math.floor(Math.random() * 256))) });
    await fails(lambda.send(new CreateFunctionCommand(base({ FunctionName: 'big', Code: { ZipFile: big } }))), 'CodeStorageExceededException', 400);
    await fails(lambda.send(new GetFunctionCommand({ FunctionName: 'big' })), 'ResourceNotFoundException', 404);
  });

  test('RequestEntityTooLargeException over 6 MB; InvalidRequestContentException for non-JSON', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024 + 10, 0x20);
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', Payload: big })), 'RequestEntityTooLargeException', 413,
      /Request must be smaller than 6291456 bytes for the InvokeFunction operation/);
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', Payload: Buffer.from('{"unterminated') })), 'InvalidRequestContentException', 400,
      /^Could not parse request body into json: Could not parse payload into json: /);
    const res = await fetch(`${server.endpoint}/2015-03-31/functions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype'), 'InvalidRequestContentException');
  });

  test('InvalidRequestContentException for a payload that is not UTF-8, in Lambda\'s (Jackson\'s) words, on Invoke (every type), InvokeWithResponseStream and InvokeAsync', async () => {
    const prefix = 'Could not parse request body into json: Could not parse payload into json: ';
    const cases: [Buffer, string][] = [
      [Buffer.from('"\xff\xfe"', 'latin1'), 'Invalid UTF-8 start byte 0xff'],
      [Buffer.from('{"a":"\x80"}', 'latin1'), 'Invalid UTF-8 start byte 0x80'],
      [Buffer.from('"\xe2\x28\xa1"', 'latin1'), 'Invalid UTF-8 middle byte 0x28'],
      [Buffer.from('"\xc3"', 'latin1'), 'Invalid UTF-8 middle byte 0x22'],
      [Buffer.from('"\xed\xa0\x80"', 'latin1'), 'Invalid UTF-8 middle byte 0xa0'],
    ];
    for (const [Payload, detail] of cases) {
      const message = exactly(prefix + detail);
      for (const InvocationType of ['RequestResponse', 'Event', 'DryRun'] as const) {
        await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', InvocationType, Payload })), 'InvalidRequestContentException', 400, message);
      }
      await fails(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'exists', Payload })), 'InvalidRequestContentException', 400, message);
      await fails(lambda.send(new InvokeAsyncCommand({ FunctionName: 'exists', InvokeArgs: Payload })), 'InvalidRequestContentException', 400, message);
    }
    // Any character as UTF-8 passes.
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'exists', Payload: Buffer.from(JSON.stringify('€100 日本 😀 é')) }));
    assert.equal(ok.StatusCode, 200);
    assert.equal(ok.FunctionError, undefined);
  });

  test('InvalidRequestContentException for a ClientContext over Lambda\'s 3,583 bytes of base64, on Invoke (RequestResponse, Event) and InvokeWithResponseStream', async () => {
    // A JSON object whose base64 text is exactly `length` characters (unpadded where it must be).
    const context = (length: number) => {
      const bytes = Math.floor(length / 4) * 3 + [0, 0, 1, 2][length % 4]!;
      const text = JSON.stringify({ custom: { pad: 'p'.repeat(bytes - 21) } });
      assert.equal(text.length, bytes);
      const b64 = Buffer.from(text).toString('base64').replace(/=+$/, '');
      assert.equal(b64.length, length);
      return b64;
    };
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'exists', ClientContext: context(3583) }));
    assert.equal(ok.StatusCode, 200);
    const message = exactly('Client context must be at most 3583 bytes of base64-encoded data.');
    for (const InvocationType of ['RequestResponse', 'Event'] as const) {
      await fails(lambda.send(new InvokeCommand({ FunctionName: 'exists', InvocationType, ClientContext: context(3584) })), 'InvalidRequestContentException', 400, message);
    }
    await fails(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'exists', ClientContext: context(3584) })), 'InvalidRequestContentException', 400, message);
    // Past the server's header limit (node's 16 KB): still an AWS error, not a bare 431.
    const res = await fetch(`${server.endpoint}/2015-03-31/functions/exists/invocations`, {
      method: 'POST', headers: { 'x-amz-client-context': context(20_000) }, body: '{}',
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype'), 'InvalidRequestContentException');
    assert.ok(res.headers.get('x-amzn-requestid'));
    assert.deepEqual(await res.json(), { Type: 'User', message: 'Request headers must be at most 16384 bytes in all.' });
  });

  test('InvalidRequestContentException for a ClientContext that is not strictly base64, on Invoke (RequestResponse, Event, DryRun) and InvokeWithResponseStream', async () => {
    await lambda.send(new CreateFunctionCommand(base({
      FunctionName: 'ctx-echo', Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async (e, c) => c.clientContext ?? null;' }) },
    })));
    const message = exactly('Client context must be a valid Base64-encoded JSON object.');
    // Each reads as a JSON object to a lenient decoder (node's: '{}' for all but the last), which
    // skips or reads past a character outside the alphabet, whitespace, text after the padding,
    // padding to more than four characters, or takes the URL-safe alphabet's '-' and '_'.
    const bad = ['e3$0=', '!!e30=', 'e 3 0', 'e30=.', 'e30==', 'e30===', 'e30=e30=', 'e30=A', 'eyJhIjoiPj4-PyJ9'];
    for (const ClientContext of bad) {
      for (const InvocationType of ['RequestResponse', 'Event', 'DryRun'] as const) {
        await fails(lambda.send(new InvokeCommand({ FunctionName: 'ctx-echo', InvocationType, ClientContext })), 'InvalidRequestContentException', 400, message);
      }
      await fails(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'ctx-echo', ClientContext })), 'InvalidRequestContentException', 400, message);
    }
    // DryRun checks the rest of the context as the others do: its size and its JSON.
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'ctx-echo', InvocationType: 'DryRun', ClientContext: Buffer.from('[1]').toString('base64') })),
      'InvalidRequestContentException', 400, message);
    await fails(lambda.send(new InvokeCommand({ FunctionName: 'ctx-echo', InvocationType: 'DryRun', ClientContext: 'e30='.repeat(896) })),
      'InvalidRequestContentException', 400, exactly('Client context must be at most 3583 bytes of base64-encoded data.'));
    // The raw header, as any client may send it.
    const raw = await fetch(`${server.endpoint}/2015-03-31/functions/ctx-echo/invocations`, { method: 'POST', headers: { 'x-amz-client-context': '!!e30=' }, body: '{}' });
    assert.equal(raw.status, 400);
    assert.equal(raw.headers.get('x-amzn-errortype'), 'InvalidRequestContentException');
    // Base64 as the SDKs' users write it (padded), and without its padding, passes and reaches the function.
    const context = { custom: { k: 'v>>>?' }, env: { platform: 'test' } };
    const padded = Buffer.from(JSON.stringify(context)).toString('base64');
    assert.match(padded, /\+.*\/.*=$/, 'the test context uses every kind of character');
    for (const ClientContext of [padded, padded.replace(/=+$/, '')]) {
      const r = await lambda.send(new InvokeCommand({ FunctionName: 'ctx-echo', ClientContext }));
      assert.equal(r.FunctionError, undefined);
      assert.deepEqual(JSON.parse(Buffer.from(r.Payload!).toString()).custom, context.custom);
      assert.equal((await lambda.send(new InvokeCommand({ FunctionName: 'ctx-echo', InvocationType: 'DryRun', ClientContext }))).StatusCode, 204);
    }
  });

  test('UnsupportedMediaTypeException for a body that is declared as something other than JSON', async () => {
    const res = await fetch(`${server.endpoint}/2015-03-31/functions`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
    assert.equal(res.status, 415);
    assert.equal(res.headers.get('x-amzn-errortype'), 'UnsupportedMediaTypeException');
  });

  test('unknown routes answer in the same shape', async () => {
    const res = await fetch(`${server.endpoint}/2015-03-31/nothing-here`);
    assert.equal(res.status, 404);
    assert.ok(res.headers.get('x-amzn-errortype'));
  });
});
