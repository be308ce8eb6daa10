import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteFunctionCommand, GetAliasCommand, GetFunctionCommand,
  InvokeCommand, LambdaClient, ListAliasesCommand, ListVersionsByFunctionCommand, PublishVersionCommand,
  UpdateAliasCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const ARN = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;
/** What ListFunctions and ListVersionsByFunction leave out (Lambda: "To get the additional fields ... use GetFunction"). */
const NOT_LISTED = ['State', 'StateReason', 'StateReasonCode', 'LastUpdateStatus', 'LastUpdateStatusReason', 'LastUpdateStatusReasonCode', 'RuntimeVersionConfig'];
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');
const code = (v: string) => makeZip({ 'index.js': `exports.handler = async () => '${v}';` });

describe('Lambda API: versions and aliases', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'ver', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await code('a') } }));
  });
  after(async () => server?.stop());

  test('PublishVersion freezes $LATEST; versions are immutable', async () => {
    const latest = await lambda.send(new GetFunctionCommand({ FunctionName: 'ver' }));
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'ver', Description: 'first', CodeSha256: latest.Configuration!.CodeSha256, RevisionId: latest.Configuration!.RevisionId }));
    assert.equal(v1.$metadata.httpStatusCode, 201);
    assert.equal(v1.Version, '1');
    assert.equal(v1.FunctionArn, ARN('ver', '1'));
    assert.equal(v1.Description, 'first');
    assert.notEqual(v1.RevisionId, latest.Configuration!.RevisionId);
    // Unchanged since version 1: nothing new is published.
    const again = await lambda.send(new PublishVersionCommand({ FunctionName: 'ver' }));
    assert.equal(again.Version, '1');
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'ver', ZipFile: await code('b') }));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver', MemorySize: 512 }));
    const v2 = await lambda.send(new PublishVersionCommand({ FunctionName: 'ver' }));
    assert.equal(v2.Version, '2');
    assert.equal(v2.MemorySize, 512);
    const frozen = await lambda.send(new GetFunctionCommand({ FunctionName: 'ver', Qualifier: '1' }));
    assert.equal(frozen.Configuration?.MemorySize, 128, 'version 1 kept its configuration');
    assert.equal(frozen.Configuration?.Version, '1');
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'ver:1' }))).Payload)), 'a');
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'ver:2' }))).Payload)), 'b');
  });

  test('PublishVersion preconditions: stale RevisionId is PreconditionFailedException', async () => {
    await assert.rejects(lambda.send(new PublishVersionCommand({ FunctionName: 'ver', RevisionId: 'stale' })), (e: any) =>
      e.name === 'PreconditionFailedException' && e.$metadata.httpStatusCode === 412 && /Revision Id/.test(e.message));
  });

  test('ListVersionsByFunction pages: $LATEST first, then ascending', async () => {
    for (const v of ['c', 'd', 'e']) {
      await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'ver', ZipFile: await code(v), Publish: true }));
    }
    const seen: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'ver', MaxItems: 2, Marker }));
      seen.push(...page.Versions!.map((v) => v.Version!));
      // Lambda lists a subset of each configuration: states and the runtime version are GetFunction's.
      for (const v of page.Versions!) assert.deepEqual(Object.keys(v).filter((k) => NOT_LISTED.includes(k)), [], `version ${v.Version}`);
      Marker = page.NextMarker;
    } while (Marker);
    assert.deepEqual(seen, ['$LATEST', '1', '2', '3', '4', '5']);
  });

  test('aliases: create, get, update with RevisionId, list with filter, delete', async () => {
    const a = await lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'live', FunctionVersion: '1', Description: 'prod' }));
    assert.equal(a.$metadata.httpStatusCode, 201);
    assert.equal(a.AliasArn, ARN('ver', 'live'));
    assert.equal(a.FunctionVersion, '1');
    assert.equal(a.RoutingConfig, undefined);
    await assert.rejects(lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'live', FunctionVersion: '1' })), (e: any) =>
      e.name === 'ResourceConflictException' && e.message === `Alias already exists: ${ARN('ver', 'live')}`);
    const got = await lambda.send(new GetAliasCommand({ FunctionName: 'ver', Name: 'live' }));
    assert.equal(got.RevisionId, a.RevisionId);
    await assert.rejects(lambda.send(new UpdateAliasCommand({ FunctionName: 'ver', Name: 'live', FunctionVersion: '2', RevisionId: 'stale' })), { name: 'PreconditionFailedException' });
    const up = await lambda.send(new UpdateAliasCommand({ FunctionName: 'ver', Name: 'live', FunctionVersion: '2', RevisionId: a.RevisionId, RoutingConfig: { AdditionalVersionWeights: { '3': 0.25 } } }));
    assert.equal(up.FunctionVersion, '2');
    assert.deepEqual(up.RoutingConfig?.AdditionalVersionWeights, { '3': 0.25 });
    assert.equal(up.Description, 'prod', 'fields not given are kept');
    await lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'canary', FunctionVersion: '4' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'edge', FunctionVersion: '$LATEST' }));
    const all = await lambda.send(new ListAliasesCommand({ FunctionName: 'ver' }));
    assert.deepEqual(all.Aliases?.map((x) => x.Name), ['canary', 'edge', 'live']);
    const paged = await lambda.send(new ListAliasesCommand({ FunctionName: 'ver', MaxItems: 2 }));
    assert.equal(paged.Aliases?.length, 2);
    const rest = await lambda.send(new ListAliasesCommand({ FunctionName: 'ver', Marker: paged.NextMarker }));
    assert.deepEqual(rest.Aliases?.map((x) => x.Name), ['live']);
    const to3 = await lambda.send(new ListAliasesCommand({ FunctionName: 'ver', FunctionVersion: '3' }));
    assert.deepEqual(to3.Aliases?.map((x) => x.Name), ['live'], 'an alias routing a weight to version 3 counts');
    // GetFunction through an alias reports the alias ARN and the version it points at.
    const viaAlias = await lambda.send(new GetFunctionCommand({ FunctionName: 'ver', Qualifier: 'canary' }));
    assert.equal(viaAlias.Configuration?.Version, '4');
    assert.equal(viaAlias.Configuration?.FunctionArn, ARN('ver', 'canary'));
    // A version an alias references cannot be deleted.
    await assert.rejects(lambda.send(new DeleteFunctionCommand({ FunctionName: 'ver', Qualifier: '3' })), (e: any) =>
      e.name === 'ResourceConflictException' && /live/.test(e.message));
    await assert.rejects(lambda.send(new DeleteFunctionCommand({ FunctionName: 'ver', Qualifier: '$LATEST' })), { name: 'InvalidParameterValueException' });
    // Deleting a version that is not there is done already (AWS-recorded: 204); on a function that
    // is not there, the message names the function, not the version.
    const gone = await lambda.send(new DeleteFunctionCommand({ FunctionName: 'ver', Qualifier: '42' }));
    assert.equal(gone.$metadata.httpStatusCode, 204);
    await assert.rejects(lambda.send(new DeleteFunctionCommand({ FunctionName: 'nosuch', Qualifier: '1' })), (e: any) =>
      e.name === 'ResourceNotFoundException' && e.message === `Function not found: ${ARN('nosuch')}`);
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'ver', Name: 'canary' }));
    await assert.rejects(lambda.send(new GetAliasCommand({ FunctionName: 'ver', Name: 'canary' })), (e: any) =>
      e.name === 'ResourceNotFoundException' && e.message === `Cannot find alias arn: ${ARN('ver', 'canary')}`);
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'ver', Qualifier: 'canary' })), { name: 'ResourceNotFoundException' });
  });

  test('alias validation: missing version, routing to the primary, $LATEST with weights, weight range, two weights', async () => {
    const bad = async (input: any, name: string, re?: RegExp) => assert.rejects(lambda.send(new CreateAliasCommand({ FunctionName: 'ver', ...input })), (e: any) => {
      assert.equal(e.name, name, e.message);
      if (re) assert.match(e.message, re);
      return true;
    });
    await bad({ Name: 'x', FunctionVersion: '99' }, 'ResourceNotFoundException', /ver:99/);
    await bad({ Name: 'x', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }, 'InvalidParameterValueException', /already included/);
    await bad({ Name: 'x', FunctionVersion: '$LATEST', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }, 'InvalidParameterValueException', /\$LATEST/);
    await bad({ Name: 'x', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 1.5 } } }, 'ValidationException');
    await bad({ Name: 'x', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1, '3': 0.1 } } }, 'InvalidParameterValueException');
    await bad({ Name: '123', FunctionVersion: '1' }, 'ValidationException', /at 'name'/);
    await bad({ Name: 'x', FunctionVersion: 'latest' }, 'ValidationException', /functionVersion/);
    await assert.rejects(lambda.send(new CreateAliasCommand({ FunctionName: 'missing-fn', Name: 'x', FunctionVersion: '1' })), { name: 'ResourceNotFoundException' });
  });

  test('code and configuration changes name $LATEST: a version or an alias in the name is refused', async () => {
    const refused = (e: any) => e.name === 'InvalidParameterValueException'
      && e.message === 'Current operation does not support versions other than $LATEST. Please set the version to $LATEST or do not set a version in your request.';
    const before = await lambda.send(new GetFunctionCommand({ FunctionName: 'ver' }));
    await assert.rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver:1', Timeout: 7 })), refused);
    await assert.rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver:live', Timeout: 7 })), refused);
    await assert.rejects(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: ARN('ver', '1'), ZipFile: await code('z') })), refused);
    await assert.rejects(lambda.send(new PublishVersionCommand({ FunctionName: 'ver:1' })), refused);
    const after = await lambda.send(new GetFunctionCommand({ FunctionName: 'ver' }));
    assert.equal(after.Configuration!.RevisionId, before.Configuration!.RevisionId, '$LATEST is unchanged');
    // $LATEST named explicitly is the function itself.
    const up = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver:$LATEST', Description: 'explicit' }));
    assert.equal(up.Version, '$LATEST');
  });

  test('a weighted alias needs both versions to share the execution role and the dead-letter queue', async () => {
    const mixed = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver', Role: 'arn:aws:iam::000000000000:role/other' }));
    const other = await lambda.send(new PublishVersionCommand({ FunctionName: 'ver', CodeSha256: mixed.CodeSha256 }));
    await assert.rejects(lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'rolemix', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { [other.Version!]: 0.5 } } })),
      (e: any) => e.name === 'InvalidParameterValueException' && /execution role/.test(e.message));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver', Role: ROLE, DeadLetterConfig: { TargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq' } }));
    const dlq = await lambda.send(new PublishVersionCommand({ FunctionName: 'ver' }));
    await assert.rejects(lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'dlqmix', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { [dlq.Version!]: 0.5 } } })),
      (e: any) => e.name === 'InvalidParameterValueException' && /dead-letter queue/.test(e.message));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ver', DeadLetterConfig: {} }));
  });

  test('weighted alias: both versions run, in proportion, and report the executed version', async () => {
    await lambda.send(new CreateAliasCommand({ FunctionName: 'ver', Name: 'split', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.3 } } }));
    const counts: Record<string, number> = {};
    const n = 200;
    for (let i = 0; i < n; i++) {
      const r = await lambda.send(new InvokeCommand({ FunctionName: ARN('ver', 'split') }));
      const body = JSON.parse(decode(r.Payload));
      assert.equal(body, r.ExecutedVersion === '1' ? 'a' : 'b');
      counts[r.ExecutedVersion!] = (counts[r.ExecutedVersion!] ?? 0) + 1;
    }
    // Binomial(200, 0.3): mean 60, sd ~6.5; 30..95 is beyond 4.5 sd either way.
    assert.ok((counts['2'] ?? 0) > 30 && (counts['2'] ?? 0) < 95, JSON.stringify(counts));
    assert.equal((counts['1'] ?? 0) + (counts['2'] ?? 0), n);
  });

  test('ListVersionsByFunction returns at most 50 versions a page, whatever MaxItems asks', async () => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'many', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await code('m') } }));
    for (let i = 1; i <= 50; i++) {
      await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'many', Description: `d${i}` }));
      await lambda.send(new PublishVersionCommand({ FunctionName: 'many' }));
    }
    const first = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'many', MaxItems: 1000 }));
    assert.equal(first.Versions!.length, 50);
    assert.equal(first.NextMarker, '49');
    const rest = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'many', MaxItems: 1000, Marker: first.NextMarker }));
    assert.deepEqual(rest.Versions!.map((v) => v.Version), ['50']);
    assert.equal(rest.NextMarker, undefined);
  });
});
