import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateEventBusCommand, DeleteEventBusCommand, DeleteRuleCommand, DescribeEventBusCommand, DescribeRuleCommand, DisableRuleCommand,
  EnableRuleCommand, EventBridgeClient, ListEventBusesCommand, ListRuleNamesByTargetCommand, ListRulesCommand, ListTagsForResourceCommand,
  ListTargetsByRuleCommand, PutEventsCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand, TagResourceCommand,
  TestEventPatternCommand, UntagResourceCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';
import { RECORDER, sharedDir, startAsyncServer, waitFor } from '../async/server.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const FN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const RULE_ARN = (name: string, bus?: string) => `arn:aws:events:us-east-1:000000000000:rule/${bus ? `${bus}/` : ''}${name}`;

describe('EventBridge API', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let eb: EventBridgeClient;
  const shared = sharedDir();
  const seen = () => shared.lines('collector.jsonl').map((l) => JSON.parse(l));

  before(async () => {
    server = await startAsyncServer({ asyncTimeScale: 0.001, scheduleTimeScale: 0.001 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    eb = new EventBridgeClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'collector', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) },
      Environment: { Variables: { OUT: shared.file('collector.jsonl') } },
    }));
  });
  after(async () => {
    await server?.stop();
    shared.cleanup();
  });

  test('buses: default exists, create / describe / list / delete', async () => {
    const d = await eb.send(new DescribeEventBusCommand({}));
    assert.equal(d.Name, 'default');
    assert.equal(d.Arn, 'arn:aws:events:us-east-1:000000000000:event-bus/default');
    const c = await eb.send(new CreateEventBusCommand({ Name: 'orders', Description: 'orders bus' }));
    assert.equal(c.EventBusArn, 'arn:aws:events:us-east-1:000000000000:event-bus/orders');
    await assert.rejects(eb.send(new CreateEventBusCommand({ Name: 'orders' })), { name: 'ResourceAlreadyExistsException' });
    // Only a partner bus's name has a slash (aws.partner/...), and partner buses are not offered.
    await assert.rejects(eb.send(new CreateEventBusCommand({ Name: 'team/orders' })), { name: 'ValidationException', message: "Event bus name must not contain '/'." });
    const byArn = await eb.send(new DescribeEventBusCommand({ Name: c.EventBusArn }));
    assert.equal(byArn.Name, 'orders');
    assert.equal(byArn.Description, 'orders bus');
    const list = await eb.send(new ListEventBusesCommand({}));
    assert.deepEqual(list.EventBuses?.map((b) => b.Name), ['default', 'orders']);
    const pref = await eb.send(new ListEventBusesCommand({ NamePrefix: 'ord' }));
    assert.deepEqual(pref.EventBuses?.map((b) => b.Name), ['orders']);
    await eb.send(new DeleteEventBusCommand({ Name: 'orders' }));
    await assert.rejects(eb.send(new DescribeEventBusCommand({ Name: 'orders' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(eb.send(new DeleteEventBusCommand({ Name: 'default' })), { name: 'ValidationException' });
  });

  test('rules: put, describe, list with prefix and paging, enable/disable, delete refused with targets', async () => {
    const put = await eb.send(new PutRuleCommand({ Name: 'r-a', EventPattern: '{"source":["a"]}', Description: 'first' }));
    assert.equal(put.RuleArn, RULE_ARN('r-a'));
    for (const n of ['r-b', 'r-c', 'other']) await eb.send(new PutRuleCommand({ Name: n, EventPattern: '{"source":["x"]}' }));
    const d = await eb.send(new DescribeRuleCommand({ Name: 'r-a' }));
    assert.deepEqual(
      { Name: d.Name, Arn: d.Arn, EventPattern: d.EventPattern, State: d.State, Description: d.Description, EventBusName: d.EventBusName },
      { Name: 'r-a', Arn: RULE_ARN('r-a'), EventPattern: '{"source":["a"]}', State: 'ENABLED', Description: 'first', EventBusName: 'default' },
    );
    const p1 = await eb.send(new ListRulesCommand({ NamePrefix: 'r-', Limit: 2 }));
    assert.deepEqual(p1.Rules?.map((r) => r.Name), ['r-a', 'r-b']);
    assert.ok(p1.NextToken);
    const p2 = await eb.send(new ListRulesCommand({ NamePrefix: 'r-', Limit: 2, NextToken: p1.NextToken }));
    assert.deepEqual(p2.Rules?.map((r) => r.Name), ['r-c']);
    assert.equal(p2.NextToken, undefined);
    await eb.send(new DisableRuleCommand({ Name: 'r-a' }));
    assert.equal((await eb.send(new DescribeRuleCommand({ Name: 'r-a' }))).State, 'DISABLED');
    await eb.send(new EnableRuleCommand({ Name: 'r-a' }));
    assert.equal((await eb.send(new DescribeRuleCommand({ Name: 'r-a' }))).State, 'ENABLED');

    await eb.send(new PutTargetsCommand({ Rule: 'r-a', Targets: [{ Id: 't1', Arn: FN('collector') }] }));
    await assert.rejects(eb.send(new DeleteRuleCommand({ Name: 'r-a' })), (e: any) => e.name === 'ValidationException' && /has targets/.test(e.message));
    const targets = await eb.send(new ListTargetsByRuleCommand({ Rule: 'r-a' }));
    assert.deepEqual(targets.Targets, [{ Id: 't1', Arn: FN('collector') }]);
    const rm = await eb.send(new RemoveTargetsCommand({ Rule: 'r-a', Ids: ['t1'] }));
    assert.equal(rm.FailedEntryCount, 0);
    for (const n of ['r-a', 'r-b', 'r-c', 'other']) await eb.send(new DeleteRuleCommand({ Name: n }));
    await assert.rejects(eb.send(new DescribeRuleCommand({ Name: 'r-a' })), { name: 'ResourceNotFoundException' });
  });

  test('ListRuleNamesByTarget names each rule once, however many of its targets have the ARN', async () => {
    for (const n of ['by-b', 'by-a']) {
      await eb.send(new PutRuleCommand({ Name: n, EventPattern: '{"source":["by"]}' }));
      await eb.send(new PutTargetsCommand({ Rule: n, Targets: [{ Id: 'one', Arn: FN('collector'), Input: '{"n":1}' }, { Id: 'two', Arn: FN('collector'), Input: '{"n":2}' }] }));
    }
    const got = await eb.send(new ListRuleNamesByTargetCommand({ TargetArn: FN('collector') }));
    assert.deepEqual(got.RuleNames, ['by-a', 'by-b']);
    for (const n of ['by-a', 'by-b']) {
      await eb.send(new RemoveTargetsCommand({ Rule: n, Ids: ['one', 'two'] }));
      await eb.send(new DeleteRuleCommand({ Name: n }));
    }
  });

  test('tags on rules and buses: from PutRule and CreateEventBus, TagResource / UntagResource / ListTagsForResource', async () => {
    const tagsOf = async (ResourceARN: string) => (await eb.send(new ListTagsForResourceCommand({ ResourceARN }))).Tags;
    const bus = await eb.send(new CreateEventBusCommand({ Name: 'tagged', Tags: [{ Key: 'team', Value: 'a' }] }));
    assert.deepEqual(await tagsOf(bus.EventBusArn!), [{ Key: 'team', Value: 'a' }]);
    const onDefault = await eb.send(new PutRuleCommand({ Name: 'tagged', EventPattern: '{"source":["t"]}', Tags: [{ Key: 'k', Value: 'v' }] }));
    const onBus = await eb.send(new PutRuleCommand({ Name: 'tagged', EventBusName: 'tagged', EventPattern: '{"source":["t"]}' }));
    assert.equal(onBus.RuleArn, RULE_ARN('tagged', 'tagged'));
    assert.deepEqual(await tagsOf(onDefault.RuleArn!), [{ Key: 'k', Value: 'v' }]);
    assert.deepEqual(await tagsOf(onBus.RuleArn!), []);

    await eb.send(new TagResourceCommand({ ResourceARN: onBus.RuleArn, Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
    await eb.send(new TagResourceCommand({ ResourceARN: onBus.RuleArn, Tags: [{ Key: 'a', Value: 'one' }] }));
    assert.deepEqual(await tagsOf(onBus.RuleArn!), [{ Key: 'a', Value: 'one' }, { Key: 'b', Value: '2' }]);
    await eb.send(new UntagResourceCommand({ ResourceARN: onBus.RuleArn, TagKeys: ['b', 'absent'] }));
    assert.deepEqual(await tagsOf(onBus.RuleArn!), [{ Key: 'a', Value: 'one' }]);
    assert.deepEqual(await tagsOf(onDefault.RuleArn!), [{ Key: 'k', Value: 'v' }], 'the rule of the same name on another bus is untouched');
    await eb.send(new TagResourceCommand({ ResourceARN: bus.EventBusArn, Tags: [{ Key: 'env', Value: '' }] }));
    assert.deepEqual(await tagsOf(bus.EventBusArn!), [{ Key: 'team', Value: 'a' }, { Key: 'env', Value: '' }]);

    // PutRule on an existing rule ignores its Tags ("use TagResource and UntagResource").
    await eb.send(new PutRuleCommand({ Name: 'tagged', EventPattern: '{"source":["t2"]}', Tags: [{ Key: 'k', Value: 'changed' }, { Key: 'new', Value: 'x' }] }));
    assert.deepEqual(await tagsOf(onDefault.RuleArn!), [{ Key: 'k', Value: 'v' }]);

    // Tags go with their resource.
    await eb.send(new DeleteRuleCommand({ Name: 'tagged' }));
    await eb.send(new PutRuleCommand({ Name: 'tagged', EventPattern: '{"source":["t"]}' }));
    assert.deepEqual(await tagsOf(onDefault.RuleArn!), []);
    await eb.send(new DeleteEventBusCommand({ Name: 'tagged' }));
    await eb.send(new CreateEventBusCommand({ Name: 'tagged' }));
    assert.deepEqual(await tagsOf(bus.EventBusArn!), []);
    await eb.send(new PutRuleCommand({ Name: 'tagged', EventBusName: 'tagged', EventPattern: '{"source":["t"]}' }));
    assert.deepEqual(await tagsOf(onBus.RuleArn!), []);

    await assert.rejects(eb.send(new ListTagsForResourceCommand({ ResourceARN: RULE_ARN('none') })), { name: 'ResourceNotFoundException', message: 'Rule none does not exist on EventBus default.' });
    await assert.rejects(eb.send(new TagResourceCommand({ ResourceARN: RULE_ARN('none', 'tagged'), Tags: [{ Key: 'a', Value: 'b' }] })), { name: 'ResourceNotFoundException', message: 'Rule none does not exist on EventBus tagged.' });
    await assert.rejects(eb.send(new UntagResourceCommand({ ResourceARN: 'arn:aws:events:us-east-1:000000000000:event-bus/none', TagKeys: ['a'] })), { name: 'ResourceNotFoundException', message: 'Event bus none does not exist.' });
    await assert.rejects(eb.send(new ListTagsForResourceCommand({ ResourceARN: 'arn:aws:events:us-east-1:111111111111:event-bus/tagged' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(eb.send(new ListTagsForResourceCommand({ ResourceARN: 'arn:aws:sqs:us-east-1:000000000000:q' })), { name: 'ValidationException' });
    await assert.rejects(eb.send(new TagResourceCommand({ ResourceARN: onBus.RuleArn, Tags: [{ Key: '', Value: 'b' }] })), {
      name: 'ValidationException',
      message: "1 validation error detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
    });
    await eb.send(new DeleteRuleCommand({ Name: 'tagged' }));
    await eb.send(new DeleteEventBusCommand({ Name: 'tagged' }));
  });

  test('rule validation', async () => {
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":"x"}' })), { name: 'InvalidEventPatternException' });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":[{"numeric":[">"]}]}' })), { name: 'InvalidEventPatternException' });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"detail":{"s":[{"anything-but":["a",1]}]}}' })), {
      name: 'InvalidEventPatternException',
      message: 'Event pattern is not valid. Reason: Inside anything but list, either all values are number or string, mixed type is not supported at "detail.s"',
    });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"detail":{"s":[{"anything-but":{"prefix":""}}]}}' })), {
      name: 'InvalidEventPatternException',
      message: 'Event pattern is not valid. Reason: Null prefix/suffix not allowed at "detail.s"',
    });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad' })), { name: 'ValidationException' });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', ScheduleExpression: 'rate(1 minutes)' })), { name: 'ValidationException' });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', ScheduleExpression: 'cron(0 12 * * * *)' })), { name: 'ValidationException' });
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":["a"]}', EventBusName: 'nope' })), { name: 'ResourceNotFoundException' });
    await eb.send(new CreateEventBusCommand({ Name: 'custom' }));
    await assert.rejects(eb.send(new PutRuleCommand({ Name: 'bad', ScheduleExpression: 'rate(5 minutes)', EventBusName: 'custom' })), { name: 'ValidationException' });
    await assert.rejects(eb.send(new PutTargetsCommand({ Rule: 'missing', Targets: [{ Id: 'x', Arn: FN('collector') }] })), { name: 'ResourceNotFoundException' });
    // RetryPolicy within the model's ranges.
    await eb.send(new PutRuleCommand({ Name: 'rp-rule', EventPattern: '{"source":["rp"]}' }));
    for (const [RetryPolicy, message] of [
      [{ MaximumRetryAttempts: 186 }, /Value '186' at 'targets.member.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185/],
      [{ MaximumEventAgeInSeconds: 59 }, /Value '59' at 'targets.member.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60/],
    ] as const) {
      await assert.rejects(eb.send(new PutTargetsCommand({ Rule: 'rp-rule', Targets: [{ Id: 'rp', Arn: FN('collector'), RetryPolicy }] })), (e: any) => e.name === 'ValidationException' && message.test(e.message));
    }
    // A dead-letter queue is an SQS queue: not a function, not a bus (which could send the event round again).
    for (const Arn of [FN('collector'), 'arn:aws:events:us-east-1:000000000000:event-bus/default']) {
      await assert.rejects(eb.send(new PutTargetsCommand({ Rule: 'rp-rule', Targets: [{ Id: 'dl', Arn: FN('collector'), DeadLetterConfig: { Arn } }] })),
        (e: any) => e.name === 'ValidationException' && /DeadLetterConfig\.Arn/.test(e.message));
    }
    await eb.send(new PutRuleCommand({ Name: 'limits', EventPattern: '{"source":["a"]}' }));
    await assert.rejects(
      eb.send(new PutTargetsCommand({ Rule: 'limits', Targets: [{ Id: 'x', Arn: FN('collector'), Input: '{}', InputPath: '$.detail' }] })),
      { name: 'ValidationException' },
    );
    await assert.rejects(
      eb.send(new PutTargetsCommand({ Rule: 'limits', Targets: Array.from({ length: 6 }, (_, i) => ({ Id: `t${i}`, Arn: FN('collector') })) })),
      { name: 'LimitExceededException' },
    );
  });

  test('TestEventPattern', async () => {
    const event = JSON.stringify({ id: '1', account: '000000000000', source: 'shop', time: '2026-01-01T00:00:00Z', region: 'us-east-1', 'detail-type': 'x', resources: [], detail: { n: 5 } });
    assert.equal((await eb.send(new TestEventPatternCommand({ EventPattern: '{"detail":{"n":[{"numeric":[">",4]}]}}', Event: event }))).Result, true);
    assert.equal((await eb.send(new TestEventPatternCommand({ EventPattern: '{"source":["other"]}', Event: event }))).Result, false);
    await assert.rejects(eb.send(new TestEventPatternCommand({ EventPattern: '{"source":"x"}', Event: event })), { name: 'InvalidEventPatternException' });
  });

  test('TestEventPattern: every operator, matching and not', async () => {
    const event = {
      id: '7', account: '000000000000', source: 'com.shop', time: '2026-01-01T00:00:00Z', region: 'us-east-1', 'detail-type': 'Order Placed',
      resources: ['arn:aws:s3:::bucket/img/a.png'],
      detail: { name: 'Alice', country: 'FR', file: 'img/2026/a.PNG', amount: 42, nothing: null, empty: '', ip: '10.0.3.4', tags: ['x', 'y'] },
    };
    const cases: Array<[string, unknown, boolean]> = [
      ['exact', { detail: { name: ['Alice'] } }, true],
      ['exact miss', { detail: { name: ['alice'] } }, false],
      ['number', { detail: { amount: [42] } }, true],
      ['null', { detail: { nothing: [null] } }, true],
      ['empty string', { detail: { empty: [''] } }, true],
      ['empty string is not null', { detail: { nothing: [''] } }, false],
      ['array value', { detail: { tags: ['y'] } }, true],
      ['prefix', { source: [{ prefix: 'com.' }] }, true],
      ['prefix miss', { source: [{ prefix: 'org.' }] }, false],
      ['prefix equals-ignore-case', { detail: { name: [{ prefix: { 'equals-ignore-case': 'ALI' } }] } }, true],
      ['suffix', { detail: { file: [{ suffix: '.PNG' }] } }, true],
      ['suffix equals-ignore-case', { detail: { file: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, true],
      ['suffix case-sensitive miss', { detail: { file: [{ suffix: '.png' }] } }, false],
      ['equals-ignore-case', { detail: { country: [{ 'equals-ignore-case': 'fr' }] } }, true],
      ['anything-but value', { detail: { country: [{ 'anything-but': 'DE' }] } }, true],
      ['anything-but list miss', { detail: { country: [{ 'anything-but': ['FR', 'DE'] }] } }, false],
      ['anything-but number', { detail: { amount: [{ 'anything-but': 41 }] } }, true],
      ['anything-but prefix', { detail: { country: [{ 'anything-but': { prefix: 'D' } }] } }, true],
      ['anything-but suffix miss', { detail: { file: [{ 'anything-but': { suffix: '.PNG' } }] } }, false],
      ['anything-but equals-ignore-case miss', { detail: { country: [{ 'anything-but': { 'equals-ignore-case': ['fr'] } }] } }, false],
      ['anything-but wildcard', { detail: { file: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, true],
      ['numeric range', { detail: { amount: [{ numeric: ['>', 10, '<=', 42] }] } }, true],
      ['numeric =', { detail: { amount: [{ numeric: ['=', 42] }] } }, true],
      ['numeric miss', { detail: { amount: [{ numeric: ['<', 42] }] } }, false],
      ['exists', { detail: { amount: [{ exists: true }] } }, true],
      ['exists false', { detail: { coupon: [{ exists: false }] } }, true],
      ['exists false miss', { detail: { amount: [{ exists: false }] } }, false],
      ['wildcard', { detail: { file: [{ wildcard: 'img/*/a.*' }] } }, true],
      ['wildcard miss', { detail: { file: [{ wildcard: 'doc/*' }] } }, false],
      ['cidr', { detail: { ip: [{ cidr: '10.0.0.0/16' }] } }, true],
      ['cidr miss', { detail: { ip: [{ cidr: '10.1.0.0/16' }] } }, false],
      ['$or', { $or: [{ detail: { country: ['JP'] } }, { detail: { amount: [42] } }] }, true],
      ['$or miss', { $or: [{ detail: { country: ['JP'] } }, { detail: { amount: [1] } }] }, false],
      ['resources', { resources: [{ prefix: 'arn:aws:s3:::bucket/' }] }, true],
      ['several fields must all match', { source: ['com.shop'], 'detail-type': ['Order Shipped'] }, false],
    ];
    for (const [name, pattern, want] of cases) {
      const r = await eb.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: JSON.stringify(event) }));
      assert.equal(r.Result, want, name);
    }
    for (const bad of [{ detail: { amount: [{ numeric: ['>', 'x'] }] } }, { detail: { a: [{ nope: 1 }] } }, { detail: { a: [] } }, { detail: { ip: [{ cidr: 'x' }] } }]) {
      await assert.rejects(eb.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(bad), Event: JSON.stringify(event) })), { name: 'InvalidEventPatternException' });
    }
  });

  test('a Lambda target is invoked asynchronously: a failing one is retried and reaches its OnFailure destination', async () => {
    const { PutFunctionEventInvokeConfigCommand } = await import('@aws-sdk/client-lambda');
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'ruled', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) }, Environment: { Variables: { OUT: shared.file('ruled.jsonl') } },
    }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'ruled', DestinationConfig: { OnFailure: { Destination: FN('collector') } } }));
    await eb.send(new PutRuleCommand({ Name: 'to-ruled', EventPattern: JSON.stringify({ source: ['async.check'] }) }));
    await eb.send(new PutTargetsCommand({ Rule: 'to-ruled', Targets: [{ Id: 'r', Arn: FN('ruled'), InputPath: '$.detail' }] }));
    await eb.send(new PutEventsCommand({ Entries: [{ Source: 'async.check', DetailType: 'x', Detail: JSON.stringify({ fail: 'from a rule', tag: 'ruled-1' }) }] }));
    const rec = await waitFor('the failure record', () => seen().find((l) => l.event?.requestContext && l.event.requestPayload?.tag === 'ruled-1'));
    assert.equal(rec.event.requestContext.condition, 'RetriesExhausted');
    assert.equal(rec.event.requestContext.approximateInvokeCount, 3);
    const runs = shared.lines('ruled.jsonl').map((l) => JSON.parse(l)).filter((l) => l.event?.tag === 'ruled-1');
    assert.equal(runs.length, 3);
    assert.equal(new Set(runs.map((r) => r.id)).size, 1, 'one request id for the event and its retries');
    await eb.send(new RemoveTargetsCommand({ Rule: 'to-ruled', Ids: ['r'] }));
    await eb.send(new DeleteRuleCommand({ Name: 'to-ruled' }));
  });

  test('PutEvents through every pattern operator to a Lambda target', async () => {
    // One rule per operator; each target tells the collector which rule matched which event.
    const patterns: Record<string, unknown> = {
      exact: { source: ['ops'], detail: { kind: ['order'] } },
      prefix: { source: ['ops'], detail: { sku: [{ prefix: 'AB-' }] } },
      suffix: { source: ['ops'], detail: { file: [{ suffix: '.png' }] } },
      'anything-but': { source: ['ops'], detail: { kind: [{ 'anything-but': ['order', 'refund'] }] } },
      'anything-but-prefix': { source: ['ops'], detail: { sku: [{ 'anything-but': { prefix: 'AB-' } }] } },
      numeric: { source: ['ops'], detail: { amount: [{ numeric: ['>', 10, '<=', 100] }] } },
      exists: { source: ['ops'], detail: { coupon: [{ exists: true }] } },
      'not-exists': { source: ['ops'], detail: { coupon: [{ exists: false }] } },
      'ignore-case': { source: ['ops'], detail: { country: [{ 'equals-ignore-case': 'fr' }] } },
      wildcard: { source: ['ops'], detail: { file: [{ wildcard: 'img/*/thumb.*' }] } },
      or: { source: ['ops'], $or: [{ detail: { amount: [5] } }, { detail: { country: ['JP'] } }] },
      'detail-type': { 'detail-type': ['Special'], source: ['ops'] },
    };
    for (const [name, pattern] of Object.entries(patterns)) {
      await eb.send(new PutRuleCommand({ Name: `op-${name}`, EventPattern: JSON.stringify(pattern) }));
      await eb.send(new PutTargetsCommand({
        Rule: `op-${name}`,
        Targets: [{
          Id: 'c', Arn: FN('collector'),
          InputTransformer: { InputPathsMap: { tag: '$.detail.tag' }, InputTemplate: '{"rule": "<aws.events.rule-name>", "tag": <tag>}' },
        }],
      }));
    }
    const cases: Array<[Record<string, unknown>, string, string[]]> = [
      [{ kind: 'order', sku: 'AB-1', amount: 50, country: 'FR' }, 'Order', ['exact', 'prefix', 'numeric', 'not-exists', 'ignore-case']],
      [{ kind: 'promo', sku: 'ZZ-9', file: 'img/2026/thumb.png', coupon: 'X', amount: 5 }, 'Order', ['suffix', 'anything-but', 'anything-but-prefix', 'exists', 'wildcard', 'or']],
      [{ kind: 'refund', sku: 'AB-7', amount: 101, country: 'JP', coupon: null }, 'Special', ['prefix', 'exists', 'or', 'detail-type']],
    ];
    const res = await eb.send(new PutEventsCommand({
      Entries: cases.map(([detail, dt], i) => ({ Source: 'ops', DetailType: dt, Detail: JSON.stringify({ ...detail, tag: `case-${i}` }) })),
    }));
    assert.equal(res.FailedEntryCount, 0);
    assert.equal(res.Entries?.length, 3);
    for (const e of res.Entries!) assert.match(e.EventId!, /^[0-9a-f-]{36}$/);
    const expectedTotal = cases.reduce((n, c) => n + c[2].length, 0);
    await waitFor('all matched deliveries', () => seen().filter((l) => String(l.event?.tag).startsWith('case-')).length >= expectedTotal);
    await new Promise((r) => setTimeout(r, 300)); // nothing extra arrives
    const got = seen().filter((l) => String(l.event?.tag).startsWith('case-'));
    cases.forEach(([, , rules], i) => {
      const matched = got.filter((l) => l.event.tag === `case-${i}`).map((l) => String(l.event.rule).replace(/^op-/, '')).sort();
      assert.deepEqual(matched, [...rules].sort(), `case-${i}`);
    });
    for (const name of Object.keys(patterns)) {
      await eb.send(new RemoveTargetsCommand({ Rule: `op-${name}`, Ids: ['c'] }));
      await eb.send(new DeleteRuleCommand({ Name: `op-${name}` }));
    }
  });

  test('targets get the envelope, Input, or InputPath; disabled rules deliver nothing; custom buses', async () => {
    await eb.send(new CreateEventBusCommand({ Name: 'shop' }));
    await eb.send(new PutRuleCommand({ Name: 'env', EventBusName: 'shop', EventPattern: '{"source":["shop.orders"]}' }));
    await eb.send(new PutTargetsCommand({
      Rule: 'env', EventBusName: 'shop',
      Targets: [
        { Id: 'whole', Arn: FN('collector') },
        { Id: 'const', Arn: FN('collector'), Input: '{"constant":"env-const"}' },
        { Id: 'path', Arn: FN('collector'), InputPath: '$.detail' },
        // EventBridge's predefined variables: the event without its detail, and the whole event.
        { Id: 'vars', Arn: FN('collector'), InputTransformer: { InputTemplate: '{"vars": "env", "event": <aws.events.event>, "json": <aws.events.event.json>}' } },
      ],
    }));
    await eb.send(new PutRuleCommand({ Name: 'off', EventBusName: 'shop', EventPattern: '{"source":["shop.orders"]}', State: 'DISABLED' }));
    await eb.send(new PutTargetsCommand({ Rule: 'off', EventBusName: 'shop', Targets: [{ Id: 'x', Arn: FN('collector'), Input: '{"constant":"disabled"}' }] }));
    const t = new Date('2026-02-03T04:05:06Z');
    const res = await eb.send(new PutEventsCommand({
      Entries: [{ EventBusName: 'shop', Source: 'shop.orders', DetailType: 'Order Placed', Detail: '{"envtag":"E1","n":1}', Resources: ['arn:x'], Time: t }],
    }));
    const eventId = res.Entries![0]!.EventId;
    const whole = await waitFor('the whole event', () => seen().find((l) => l.event?.id === eventId));
    assert.deepEqual(whole.event, {
      version: '0', id: eventId, 'detail-type': 'Order Placed', source: 'shop.orders', account: '000000000000',
      time: '2026-02-03T04:05:06Z', region: 'us-east-1', resources: ['arn:x'], detail: { envtag: 'E1', n: 1 },
    });
    await waitFor('the constant input', () => seen().find((l) => l.event?.constant === 'env-const'));
    await waitFor('the input path', () => seen().find((l) => l.event?.envtag === 'E1' && !l.event.id));
    const vars = await waitFor('the predefined variables', () => seen().find((l) => l.event?.vars === 'env' && l.event.json?.id === eventId));
    const { detail: _, ...envelope } = whole.event;
    assert.deepEqual(vars.event.event, envelope);
    assert.deepEqual(vars.event.json, whole.event);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen().filter((l) => l.event?.constant === 'disabled').length, 0);
  });

  test('wildcard and index JSON paths in InputPath and InputPathsMap', async () => {
    await eb.send(new PutRuleCommand({ Name: 'wild', EventPattern: '{"source":["wild"]}' }));
    await eb.send(new PutTargetsCommand({
      Rule: 'wild',
      Targets: [
        { Id: 'path', Arn: FN('collector'), InputPath: '$.detail.*' },
        {
          Id: 'q2', Arn: FN('collector'),
          InputTransformer: {
            InputPathsMap: { ids: '$.detail.items[*].id', first: '$.detail.items[0].id', tag: '$.detail.tag' },
            InputTemplate: '{"wildtag": <tag>, "ids": <ids>, "first": <first>, "text": "ids <ids>"}',
          },
        },
      ],
    }));
    await eb.send(new PutEventsCommand({ Entries: [{ Source: 'wild', DetailType: 'w', Detail: JSON.stringify({ tag: 'W1', items: [{ id: 'a' }, { id: 'b' }] }) }] }));
    const path = await waitFor('the wildcard InputPath', () => seen().find((l) => Array.isArray(l.event) && l.event[0] === 'W1'));
    assert.deepEqual(path.event, ['W1', [{ id: 'a' }, { id: 'b' }]]);
    const tr = await waitFor('the wildcard InputTransformer', () => seen().find((l) => l.event?.wildtag === 'W1'));
    assert.deepEqual(tr.event, { wildtag: 'W1', ids: ['a', 'b'], first: 'a', text: 'ids [a,b]' });
    await eb.send(new RemoveTargetsCommand({ Rule: 'wild', Ids: ['path', 'q2'] }));
    await eb.send(new DeleteRuleCommand({ Name: 'wild' }));
  });

  test('State ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is kept as set, and the rule matches', async () => {
    const State = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
    await eb.send(new PutRuleCommand({ Name: 'ct', EventPattern: '{"source":["ct-test"]}', State }));
    assert.equal((await eb.send(new DescribeRuleCommand({ Name: 'ct' }))).State, State);
    assert.deepEqual((await eb.send(new ListRulesCommand({ NamePrefix: 'ct' }))).Rules?.map((r) => r.State), [State]);
    // EnableRule on a rule that is already enabled leaves it so.
    await eb.send(new EnableRuleCommand({ Name: 'ct' }));
    assert.equal((await eb.send(new DescribeRuleCommand({ Name: 'ct' }))).State, State);
    await eb.send(new PutTargetsCommand({ Rule: 'ct', Targets: [{ Id: 'c', Arn: FN('collector'), Input: '{"ct":"delivered"}' }] }));
    await eb.send(new PutEventsCommand({ Entries: [{ Source: 'ct-test', DetailType: 'x', Detail: '{}' }] }));
    await waitFor('delivery by the enabled rule', () => seen().find((l) => l.event?.ct === 'delivered'));
    await eb.send(new DisableRuleCommand({ Name: 'ct' }));
    assert.equal((await eb.send(new DescribeRuleCommand({ Name: 'ct' }))).State, 'DISABLED');
    await eb.send(new EnableRuleCommand({ Name: 'ct' }));
    assert.equal((await eb.send(new DescribeRuleCommand({ Name: 'ct' }))).State, 'ENABLED');
    await eb.send(new RemoveTargetsCommand({ Rule: 'ct', Ids: ['c'] }));
    await eb.send(new DeleteRuleCommand({ Name: 'ct' }));
  });

  test('an event its target cannot take goes to the target\'s dead-letter queue, with EventBridge\'s attributes', async () => {
    const sqs = new SQSClient(clientConfig(server.endpoint));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'eb-dlq' }));
    await eb.send(new PutRuleCommand({ Name: 'to-ghost', EventPattern: '{"source":["ghost-test"]}' }));
    await eb.send(new PutTargetsCommand({
      Rule: 'to-ghost',
      Targets: [{ Id: 'ghost', Arn: FN('ghost'), RetryPolicy: { MaximumRetryAttempts: 0 }, DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:000000000000:eb-dlq' } }],
    }));
    const put = await eb.send(new PutEventsCommand({ Entries: [{ Source: 'ghost-test', DetailType: 'x', Detail: '{"a":1}' }] }));
    assert.equal(put.FailedEntryCount, 0);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10, MessageAttributeNames: ['All'] }));
    const m = got.Messages?.[0];
    assert.ok(m, 'a dead letter');
    const ev = JSON.parse(m.Body!);
    assert.deepEqual([ev.id, ev.source, ev.detail], [put.Entries![0]!.EventId, 'ghost-test', { a: 1 }]);
    const attr = (k: string) => m.MessageAttributes?.[k]?.StringValue;
    assert.deepEqual([attr('RULE_ARN'), attr('TARGET_ARN'), attr('ERROR_CODE'), attr('RETRY_ATTEMPTS')], [RULE_ARN('to-ghost'), FN('ghost'), 'RESOURCE_NOT_FOUND', '0']);
    assert.ok(attr('ERROR_MESSAGE'));
    sqs.destroy();
  });

  test('PutEvents reports bad entries without failing the others', async () => {
    const res = await eb.send(new PutEventsCommand({
      Entries: [
        { Source: 'a', DetailType: 'b', Detail: '{}' },
        { Source: 'a', DetailType: 'b', Detail: 'not json' },
        { Source: 'a', DetailType: 'b' },
        { Source: 'a', DetailType: 'b', Detail: '{}', EventBusName: 'missing-bus' },
        // AWS services' sources are theirs alone.
        { Source: 'aws.ec2', DetailType: 'EC2 Instance State-change Notification', Detail: '{}' },
      ],
    }));
    assert.equal(res.FailedEntryCount, 4);
    assert.deepEqual([res.Entries![4]!.ErrorCode, res.Entries![4]!.ErrorMessage], ['NotAuthorizedForSourceException', 'Not authorized for the source.']);
    assert.ok(res.Entries![0]!.EventId);
    assert.equal(res.Entries![1]!.ErrorCode, 'MalformedDetail');
    assert.equal(res.Entries![2]!.ErrorCode, 'InvalidArgument');
    assert.ok(res.Entries![3]!.ErrorCode);
  });

  test('rate() schedule delivers "Scheduled Event" repeatedly (rate periods scaled by 0.001)', async () => {
    await eb.send(new PutRuleCommand({ Name: 'tick', ScheduleExpression: 'rate(1 minute)' }));
    await eb.send(new PutTargetsCommand({ Rule: 'tick', Targets: [{ Id: 'c', Arn: FN('collector') }] }));
    const fires = await waitFor('two scheduled events', () => {
      const f = seen().filter((l) => l.event?.['detail-type'] === 'Scheduled Event' && l.event.resources?.[0] === RULE_ARN('tick'));
      return f.length >= 2 ? f : undefined;
    });
    const e = fires[0]!.event;
    assert.equal(e.source, 'aws.events');
    assert.equal(e.version, '0');
    assert.deepEqual(e.detail, {});
    assert.equal(e.account, '000000000000');
    assert.equal(e.region, 'us-east-1');
    await eb.send(new DisableRuleCommand({ Name: 'tick' }));
  });
});

describe('cron schedules (real UTC clock)', () => {
  let server: TestServer;
  const shared = sharedDir();
  before(async () => {
    server = await startAsyncServer();
  });
  after(async () => {
    await server?.stop();
    shared.cleanup();
  });

  test('cron(* * * * ? *) fires at the next minute boundary', { timeout: 120_000 }, async () => {
    const lambda = new LambdaClient(clientConfig(server.endpoint));
    const eb = new EventBridgeClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'cron-target', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) }, Environment: { Variables: { OUT: shared.file('cron.jsonl') } },
    }));
    await eb.send(new PutRuleCommand({ Name: 'every-minute', ScheduleExpression: 'cron(* * * * ? *)' }));
    await eb.send(new PutTargetsCommand({ Rule: 'every-minute', Targets: [{ Id: 'c', Arn: FN('cron-target') }] }));
    const line = await waitFor('a cron fire', () => shared.lines('cron.jsonl')[0], 90_000);
    const e = JSON.parse(line).event;
    assert.equal(e['detail-type'], 'Scheduled Event');
    assert.equal(e.resources[0], RULE_ARN('every-minute'));
    assert.match(e.time, /:00Z$/, 'fires at second 0 of a minute');
  });
});

describe('schedules after downtime', () => {
  const shared = sharedDir();
  let dataDir = '';
  let server: TestServer | undefined;
  after(async () => {
    await server?.stop();
    shared.cleanup();
    if (dataDir) (await import('node:fs')).rmSync(dataDir, { recursive: true, force: true });
  });

  test('a schedule fires once after a restart, not once per missed tick', { timeout: 120_000 }, async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-sched-'));
    const scale = 2000 / 60_000; // rate(1 minute) -> every 2 s
    server = await startAsyncServer({ dataDir, scheduleTimeScale: scale });
    const lambda = new LambdaClient(clientConfig(server.endpoint));
    const eb = new EventBridgeClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'ticker', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) }, Environment: { Variables: { OUT: shared.file('ticks.jsonl') } },
    }));
    await eb.send(new PutRuleCommand({ Name: 'ticks', ScheduleExpression: 'rate(1 minute)' }));
    await eb.send(new PutTargetsCommand({ Rule: 'ticks', Targets: [{ Id: 'c', Arn: FN('ticker') }] }));
    await waitFor('a first tick', () => shared.lines('ticks.jsonl').length >= 1, 30_000);
    await server.stop({ keepData: true });
    server = undefined;
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 10_000)); // about 5 ticks missed
    server = await startAsyncServer({ dataDir, scheduleTimeScale: scale });
    // Fires are told apart by the Scheduled Event's time (deliveries queued before the stop may still land).
    const firesSinceRestart = () =>
      shared.lines('ticks.jsonl').map((l) => JSON.parse(l)).filter((l) => Date.parse(l.event.time) >= stoppedAt + 5000).length;
    await waitFor('the catch-up tick', () => firesSinceRestart() >= 1, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    const after = firesSinceRestart();
    assert.ok(after >= 1 && after <= 2, `one catch-up fire (plus at most one regular tick), got ${after}`);
  });
});
