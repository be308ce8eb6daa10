import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, DeleteLogGroupCommand, DeleteLogStreamCommand,
  DeleteRetentionPolicyCommand, DescribeLogGroupsCommand, DescribeLogStreamsCommand, FilterLogEventsCommand,
  GetLogEventsCommand, ListTagsForResourceCommand, ListTagsLogGroupCommand, PutLogEventsCommand, PutRetentionPolicyCommand,
  TagLogGroupCommand, TagResourceCommand, UntagLogGroupCommand, UntagResourceCommand, paginateDescribeLogGroups,
  paginateDescribeLogStreams, paginateFilterLogEvents, paginateGetLogEvents,
  type FilteredLogEvent, type OutputLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import { LOCALE, sdkConfig, startLogsServer, type LogsServer } from './harness.js';

let server: LogsServer;
let logs: CloudWatchLogsClient;

before(async () => {
  // A long flush interval: reads must flush the buffer themselves (read-your-writes).
  server = await startLogsServer({ service: { flushIntervalMs: 60_000 } });
  logs = new CloudWatchLogsClient(sdkConfig(server.endpoint));
});
after(async () => {
  logs?.destroy();
  await server?.stop();
});

/** The AWS error name and message a call fails with. */
async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  assert.fail('expected the call to fail');
}

async function putEvents(group: string, stream: string, messages: string[], t0: number): Promise<void> {
  await logs.send(new PutLogEventsCommand({
    logGroupName: group,
    logStreamName: stream,
    logEvents: messages.map((message, i) => ({ timestamp: t0 + i, message })),
  }));
}

describe('log groups', () => {
  test('create, describe with prefix and paging, ARNs, retention, delete', async () => {
    const before = Date.now();
    for (const n of ['/g/alpha', '/g/beta', '/g/gamma', '/g/delta', '/other/x']) {
      await logs.send(new CreateLogGroupCommand({ logGroupName: n }));
    }
    const dup = await failure(logs.send(new CreateLogGroupCommand({ logGroupName: '/g/alpha' })));
    assert.deepEqual(dup, { name: 'ResourceAlreadyExistsException', message: 'The specified log group already exists', status: 400 });

    const first = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/', limit: 3 }));
    assert.deepEqual(first.logGroups!.map((g) => g.logGroupName), ['/g/alpha', '/g/beta', '/g/delta']);
    assert.ok(first.nextToken);
    const second = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/', limit: 3, nextToken: first.nextToken }));
    assert.deepEqual(second.logGroups!.map((g) => g.logGroupName), ['/g/gamma']);
    assert.equal(second.nextToken, undefined);

    const names: string[] = [];
    for await (const page of paginateDescribeLogGroups({ client: logs, pageSize: 2 }, {})) {
      names.push(...page.logGroups!.map((g) => g.logGroupName!));
    }
    assert.deepEqual(names.filter((n) => n.startsWith('/g/') || n.startsWith('/other/')), ['/g/alpha', '/g/beta', '/g/delta', '/g/gamma', '/other/x']);

    const g = first.logGroups![0]!;
    assert.equal(g.arn, `arn:aws:logs:${LOCALE.region}:${LOCALE.accountId}:log-group:/g/alpha:*`);
    assert.equal(g.logGroupArn, `arn:aws:logs:${LOCALE.region}:${LOCALE.accountId}:log-group:/g/alpha`);
    assert.equal(g.metricFilterCount, 0);
    assert.equal(g.storedBytes, 0);
    assert.equal(g.retentionInDays, undefined);
    assert.ok(g.creationTime! >= before - 1 && g.creationTime! <= Date.now());

    const pattern = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: 'ELT' }));
    assert.deepEqual(pattern.logGroups!.map((x) => x.logGroupName), ['/g/delta']);
    // With a pattern, only arn, creationTime and logGroupName are returned.
    assert.deepEqual(Object.keys(pattern.logGroups![0]!).sort(), ['arn', 'creationTime', 'logGroupName']);
    // logGroupIdentifiers: those groups (names or ARNs) that exist, in name order; a class filter.
    const ids = await logs.send(new DescribeLogGroupsCommand({
      logGroupIdentifiers: ['/g/delta', `arn:aws:logs:${LOCALE.region}:${LOCALE.accountId}:log-group:/g/beta`, '/g/none'],
    }));
    assert.deepEqual(ids.logGroups!.map((x) => x.logGroupName), ['/g/beta', '/g/delta']);
    const paged = await logs.send(new DescribeLogGroupsCommand({ logGroupIdentifiers: ['/g/delta', '/g/beta'], limit: 1 }));
    assert.deepEqual(paged.logGroups!.map((x) => x.logGroupName), ['/g/beta']);
    const rest = await logs.send(new DescribeLogGroupsCommand({ logGroupIdentifiers: ['/g/delta', '/g/beta'], limit: 1, nextToken: paged.nextToken }));
    assert.deepEqual(rest.logGroups!.map((x) => x.logGroupName), ['/g/delta']);
    // The class and the KMS key a group is created with are kept and returned; the class filters.
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/g/ia', logGroupClass: 'INFREQUENT_ACCESS', kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/k1' }));
    const ia = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/ia' }))).logGroups![0]!;
    assert.deepEqual([ia.logGroupClass, ia.kmsKeyId], ['INFREQUENT_ACCESS', 'arn:aws:kms:us-east-1:000000000000:key/k1']);
    assert.deepEqual((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/', logGroupClass: 'INFREQUENT_ACCESS' }))).logGroups!.map((g) => g.logGroupName), ['/g/ia']);
    const standard = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/', logGroupClass: 'STANDARD' }))).logGroups!;
    assert.ok(standard.length >= 2 && standard.every((g) => g.logGroupClass === 'STANDARD' && g.kmsKeyId === undefined));
    await logs.send(new DeleteLogGroupCommand({ logGroupName: '/g/ia' }));

    await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/g/beta', retentionInDays: 14 }));
    const withRetention = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/beta' }));
    assert.equal(withRetention.logGroups![0]!.retentionInDays, 14);
    await logs.send(new DeleteRetentionPolicyCommand({ logGroupName: '/g/beta' }));
    const cleared = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/beta' }));
    assert.equal(cleared.logGroups![0]!.retentionInDays, undefined);

    await logs.send(new DeleteLogGroupCommand({ logGroupName: '/g/gamma' }));
    const after = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/g/' }));
    assert.deepEqual(after.logGroups!.map((x) => x.logGroupName), ['/g/alpha', '/g/beta', '/g/delta']);
  });

  test('errors: missing groups, bad retention, limits, names, tokens', async () => {
    const notFound = { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 };
    assert.deepEqual(await failure(logs.send(new DeleteLogGroupCommand({ logGroupName: '/nope' }))), notFound);
    assert.deepEqual(await failure(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/nope', retentionInDays: 1 }))), notFound);
    assert.deepEqual(await failure(logs.send(new DeleteRetentionPolicyCommand({ logGroupName: '/nope' }))), notFound);
    assert.deepEqual(await failure(logs.send(new DescribeLogStreamsCommand({ logGroupName: '/nope' }))), notFound);

    await logs.send(new CreateLogGroupCommand({ logGroupName: '/errors' }));
    const days = await failure(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/errors', retentionInDays: 2 })));
    assert.equal(days.name, 'InvalidParameterException');
    assert.equal(days.message, "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]");

    const limit = await failure(logs.send(new DescribeLogGroupsCommand({ limit: 51 })));
    assert.deepEqual(limit, {
      name: 'InvalidParameterException',
      message: "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50",
      status: 400,
    });
    const name = await failure(logs.send(new CreateLogGroupCommand({ logGroupName: 'bad name!' })));
    assert.equal(name.name, 'InvalidParameterException');
    assert.equal(name.message, "1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    const two = await failure(logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: 'a b', limit: 0 })));
    assert.match(two.message, /^2 validation errors detected: Value 'a b' at 'logGroupNamePrefix' .*; Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1$/);
    const token = await failure(logs.send(new DescribeLogGroupsCommand({ nextToken: 'garbage' })));
    assert.deepEqual(token, { name: 'InvalidParameterException', message: 'The specified nextToken is invalid.', status: 400 });
    const both = await failure(logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/a', logGroupNamePattern: 'a' })));
    assert.equal(both.name, 'InvalidParameterException');
  });
});

describe('log group tags', () => {
  const arn = (name: string) => `arn:aws:logs:${LOCALE.region}:${LOCALE.accountId}:log-group:${name}`;
  const tagsOf = async (name: string) => (await logs.send(new ListTagsForResourceCommand({ resourceArn: arn(name) }))).tags;

  test('CreateLogGroup keeps its tags; TagResource / UntagResource / ListTagsForResource on the ARN', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/t/tagged', tags: { team: 'a', env: 'dev' } }));
    assert.deepEqual(await tagsOf('/t/tagged'), { team: 'a', env: 'dev' });
    await logs.send(new TagResourceCommand({ resourceArn: arn('/t/tagged'), tags: { env: 'prod', cost: '42' } }));
    assert.deepEqual(await tagsOf('/t/tagged'), { team: 'a', env: 'prod', cost: '42' });
    await logs.send(new UntagResourceCommand({ resourceArn: arn('/t/tagged'), tagKeys: ['team', 'absent'] }));
    assert.deepEqual(await tagsOf('/t/tagged'), { env: 'prod', cost: '42' });
    // The ARN DescribeLogGroups gives as logGroupArn, not its "arn" with ":*" (CloudWatch refuses that one).
    const described = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/t/tagged' }))).logGroups![0]!;
    assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: described.logGroupArn }))).tags, { env: 'prod', cost: '42' });
    const star = await failure(logs.send(new ListTagsForResourceCommand({ resourceArn: described.arn })));
    assert.deepEqual(star, { name: 'ValidationException', message: 'Invalid resourceArn', status: 400 });
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/t/plain' }));
    assert.deepEqual(await tagsOf('/t/plain'), {});
  });

  test('the legacy TagLogGroup / UntagLogGroup / ListTagsLogGroup see the same tags', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/t/legacy' }));
    await logs.send(new TagLogGroupCommand({ logGroupName: '/t/legacy', tags: { a: '1', b: '2' } }));
    assert.deepEqual((await logs.send(new ListTagsLogGroupCommand({ logGroupName: '/t/legacy' }))).tags, { a: '1', b: '2' });
    await logs.send(new UntagLogGroupCommand({ logGroupName: '/t/legacy', tags: ['a'] }));
    assert.deepEqual(await tagsOf('/t/legacy'), { b: '2' });
  });

  test('tags go with their group', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/t/gone', tags: { x: 'y' } }));
    await logs.send(new DeleteLogGroupCommand({ logGroupName: '/t/gone' }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/t/gone' }));
    assert.deepEqual(await tagsOf('/t/gone'), {});
  });

  test('errors: a missing group, an ARN of something else, bad tags, too many', async () => {
    const notFound = { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 };
    assert.deepEqual(await failure(logs.send(new ListTagsForResourceCommand({ resourceArn: arn('/t/none') }))), notFound);
    assert.deepEqual(await failure(logs.send(new TagResourceCommand({ resourceArn: arn('/t/none'), tags: { a: 'b' } }))), notFound);
    assert.deepEqual(await failure(logs.send(new UntagResourceCommand({ resourceArn: arn('/t/none'), tagKeys: ['a'] }))), notFound);
    assert.deepEqual(await failure(logs.send(new TagLogGroupCommand({ logGroupName: '/t/none', tags: { a: 'b' } }))), notFound);
    assert.deepEqual(await failure(logs.send(new UntagLogGroupCommand({ logGroupName: '/t/none', tags: ['a'] }))), notFound);
    assert.deepEqual(await failure(logs.send(new ListTagsLogGroupCommand({ logGroupName: '/t/none' }))), notFound);
    const otherAccount = `arn:aws:logs:${LOCALE.region}:111111111111:log-group:/t/tagged`;
    assert.deepEqual(await failure(logs.send(new ListTagsForResourceCommand({ resourceArn: otherAccount }))), notFound);
    const other = await failure(logs.send(new ListTagsForResourceCommand({ resourceArn: `arn:aws:sqs:${LOCALE.region}:${LOCALE.accountId}:q` })));
    assert.deepEqual(other, { name: 'ValidationException', message: 'Invalid resourceArn', status: 400 });

    await logs.send(new CreateLogGroupCommand({ logGroupName: '/t/limits' }));
    const empty = await failure(logs.send(new TagResourceCommand({ resourceArn: arn('/t/limits'), tags: {} })));
    assert.equal(empty.name, 'InvalidParameterException');
    assert.match(empty.message, /at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    const badKey = await failure(logs.send(new TagResourceCommand({ resourceArn: arn('/t/limits'), tags: { 'no*stars': 'x' } })));
    assert.equal(badKey.name, 'InvalidParameterException');
    assert.match(badKey.message, /at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: \[Member must satisfy regular expression pattern/);
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    await logs.send(new TagResourceCommand({ resourceArn: arn('/t/limits'), tags: fifty }));
    const tooMany = await failure(logs.send(new TagResourceCommand({ resourceArn: arn('/t/limits'), tags: { one: 'more' } })));
    assert.deepEqual(tooMany, { name: 'TooManyTagsException', message: 'A resource can have no more than 50 tags.', status: 400 });
    await logs.send(new TagResourceCommand({ resourceArn: arn('/t/limits'), tags: { k0: 'replaced' } }));
  });
});

describe('log streams', () => {
  test('create, describe ordered and paged, delete', async () => {
    const group = '/s/streams';
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    for (const s of ['c', 'a', 'b', 'd']) await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: s }));
    const dup = await failure(logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'a' })));
    assert.deepEqual(dup, { name: 'ResourceAlreadyExistsException', message: 'The specified log stream already exists', status: 400 });
    const noGroup = await failure(logs.send(new CreateLogStreamCommand({ logGroupName: '/s/none', logStreamName: 'a' })));
    assert.deepEqual(noGroup, { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 });

    const t0 = Date.now() - 10_000;
    await putEvents(group, 'b', ['b1', 'b2'], t0 + 100); // newest events
    await putEvents(group, 'd', ['d1'], t0);
    await putEvents(group, 'a', ['a1'], t0 + 50);

    const byName = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }));
    assert.deepEqual(byName.logStreams!.map((s) => s.logStreamName), ['a', 'b', 'c', 'd']);
    const b = byName.logStreams![1]!;
    assert.equal(b.firstEventTimestamp, t0 + 100);
    assert.equal(b.lastEventTimestamp, t0 + 101);
    assert.ok(b.lastIngestionTime! >= t0);
    assert.equal(b.storedBytes, 0, 'reported as zero for streams since 2019 (the model)');
    assert.match(b.uploadSequenceToken!, /^\d{56}$/);
    assert.equal(b.arn, `arn:aws:logs:${LOCALE.region}:${LOCALE.accountId}:log-group:${group}:log-stream:b`);
    const c = byName.logStreams![2]!;
    assert.equal(c.firstEventTimestamp, undefined);
    assert.equal(c.lastEventTimestamp, undefined);

    const desc = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, descending: true, limit: 3 }));
    assert.deepEqual(desc.logStreams!.map((s) => s.logStreamName), ['d', 'c', 'b']);
    const rest = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, descending: true, limit: 3, nextToken: desc.nextToken }));
    assert.deepEqual(rest.logStreams!.map((s) => s.logStreamName), ['a']);
    assert.equal(rest.nextToken, undefined);

    const byTime = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, orderBy: 'LastEventTime', descending: true }));
    assert.deepEqual(byTime.logStreams!.map((s) => s.logStreamName), ['b', 'a', 'd', 'c']);

    const paged: string[] = [];
    for await (const page of paginateDescribeLogStreams({ client: logs, pageSize: 1 }, { logGroupIdentifier: `arn:aws:logs:us-east-1:000000000000:log-group:${group}` })) {
      paged.push(...page.logStreams!.map((s) => s.logStreamName!));
    }
    assert.deepEqual(paged, ['a', 'b', 'c', 'd']);

    const prefixed = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, logStreamNamePrefix: 'b' }));
    assert.deepEqual(prefixed.logStreams!.map((s) => s.logStreamName), ['b']);
    const conflict = await failure(logs.send(new DescribeLogStreamsCommand({ logGroupName: group, logStreamNamePrefix: 'b', orderBy: 'LastEventTime' })));
    assert.deepEqual(conflict, { name: 'InvalidParameterException', message: 'Cannot order by LastEventTime with a logStreamNamePrefix.', status: 400 });
    const order = await failure(logs.send(new DescribeLogStreamsCommand({ logGroupName: group, orderBy: 'Size' as never })));
    assert.equal(order.message, "1 validation error detected: Value 'Size' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]");
    const neither = await failure(logs.send(new DescribeLogStreamsCommand({})));
    assert.equal(neither.name, 'InvalidParameterException');

    const groupBytes = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }))).logGroups![0]!.storedBytes;
    assert.equal(groupBytes, 8);
    await logs.send(new DeleteLogStreamCommand({ logGroupName: group, logStreamName: 'b' }));
    const afterDelete = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }));
    assert.deepEqual(afterDelete.logStreams!.map((s) => s.logStreamName), ['a', 'c', 'd']);
    assert.equal((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }))).logGroups![0]!.storedBytes, 4);
    const gone = await failure(logs.send(new DeleteLogStreamCommand({ logGroupName: group, logStreamName: 'b' })));
    assert.deepEqual(gone, { name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.', status: 400 });
    const goneGroup = await failure(logs.send(new DeleteLogStreamCommand({ logGroupName: '/s/none', logStreamName: 'b' })));
    assert.equal(goneGroup.message, 'The specified log group does not exist.');
  });
});

describe('PutLogEvents and GetLogEvents', () => {
  const group = '/e/get';
  const stream = '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef';
  const t0 = Date.now() - 60_000;

  before(async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
    await putEvents(group, stream, Array.from({ length: 25 }, (_, i) => `line ${i}\n`), t0);
  });

  const messages = (events: OutputLogEvent[] | undefined) => (events ?? []).map((e) => e.message!);
  const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`);

  test('forward from the head, page by page, until the token repeats', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) {
      const page = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, limit: 10, nextToken: token }));
      seen.push(...messages(page.events));
      assert.match(page.nextForwardToken!, /^f\/\d+\/\d+$/);
      assert.match(page.nextBackwardToken!, /^b\/\d+\/\d+$/);
      if (page.nextForwardToken === token) break;
      token = page.nextForwardToken;
      tokens.push(token!);
    }
    assert.deepEqual(seen, lines(0, 25));
    assert.equal(tokens.length, 3, 'three pages with events, then the same token back');
    const page = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: token }));
    assert.equal(page.events!.length, 0);
    assert.equal(page.nextForwardToken, token);

    const events = (await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, limit: 1 }))).events!;
    assert.equal(events[0]!.timestamp, t0);
    assert.ok(events[0]!.ingestionTime! >= t0);
  });

  test('the SDK paginator stops on the repeated token', async () => {
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateGetLogEvents({ client: logs, pageSize: 7, stopOnSameToken: true }, { logGroupName: group, logStreamName: stream, startFromHead: true })) {
      seen.push(...messages(page.events));
      pages++;
    }
    assert.deepEqual(seen, lines(0, 25));
    assert.equal(pages, 5); // 7 + 7 + 7 + 4, then the empty page that repeats the token
  });

  test('backward from the tail (the default), then older pages', async () => {
    const last = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, limit: 10 }));
    assert.deepEqual(messages(last.events), lines(15, 25));
    const older = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, limit: 10, nextToken: last.nextBackwardToken }));
    assert.deepEqual(messages(older.events), lines(5, 15));
    const oldest = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, limit: 10, nextToken: older.nextBackwardToken }));
    assert.deepEqual(messages(oldest.events), lines(0, 5));
    const none = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, limit: 10, nextToken: oldest.nextBackwardToken }));
    assert.deepEqual(messages(none.events), []);
    assert.equal(none.nextBackwardToken, oldest.nextBackwardToken);
    // Forward again from the oldest page.
    const forward = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, limit: 3, nextToken: oldest.nextForwardToken }));
    assert.deepEqual(messages(forward.events), lines(5, 8));
    // New events show up on the forward token of the newest page.
    await putEvents(group, stream, ['line 25\n'], t0 + 25);
    const newer = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: last.nextForwardToken }));
    assert.deepEqual(messages(newer.events), ['line 25\n']);
  });

  test('time range (end exclusive), ARN identifier', async () => {
    const ranged = await logs.send(new GetLogEventsCommand({
      logGroupIdentifier: `arn:aws:logs:us-east-1:000000000000:log-group:${group}`,
      logStreamName: stream, startTime: t0 + 3, endTime: t0 + 6, startFromHead: true,
    }));
    assert.deepEqual(messages(ranged.events), lines(3, 6));
    const tail = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startTime: t0 + 3, endTime: t0 + 6, limit: 2 }));
    assert.deepEqual(messages(tail.events), lines(4, 6));
  });

  test('errors', async () => {
    const stream404 = await failure(logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: 'nope' })));
    assert.deepEqual(stream404, { name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.', status: 400 });
    const group404 = await failure(logs.send(new GetLogEventsCommand({ logGroupName: '/e/none', logStreamName: 'x' })));
    assert.equal(group404.message, 'The specified log group does not exist.');
    const token = await failure(logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: 'x/1' })));
    assert.deepEqual(token, { name: 'InvalidParameterException', message: 'The specified nextToken is invalid.', status: 400 });
    const limit = await failure(logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, limit: 10001 })));
    assert.equal(limit.message, "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000");
    const both = await failure(logs.send(new GetLogEventsCommand({ logGroupName: group, logGroupIdentifier: group, logStreamName: stream })));
    assert.equal(both.name, 'InvalidParameterException');
    const otherAccount = await failure(logs.send(new GetLogEventsCommand({ logGroupIdentifier: `arn:aws:logs:us-east-1:111111111111:log-group:${group}`, logStreamName: stream })));
    assert.equal(otherAccount.name, 'ResourceNotFoundException');

    const order = await failure(logs.send(new PutLogEventsCommand({
      logGroupName: group, logStreamName: stream, logEvents: [{ timestamp: t0 + 5, message: 'b' }, { timestamp: t0, message: 'a' }],
    })));
    assert.deepEqual(order, { name: 'InvalidParameterException', message: 'Log events in a single PutLogEvents request must be in chronological order.', status: 400 });
    const empty = await failure(logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: [] })));
    assert.equal(empty.name, 'InvalidParameterException');
    assert.match(empty.message, /at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    const noStream = await failure(logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 'nope', logEvents: [{ timestamp: t0, message: 'a' }] })));
    assert.equal(noStream.message, 'The specified log stream does not exist.');
    const noGroup = await failure(logs.send(new PutLogEventsCommand({ logGroupName: '/e/none', logStreamName: 'x', logEvents: [{ timestamp: t0, message: 'a' }] })));
    assert.equal(noGroup.message, 'The specified log group does not exist.');
    const big = await failure(logs.send(new PutLogEventsCommand({
      logGroupName: group, logStreamName: stream, logEvents: [{ timestamp: t0, message: 'x'.repeat(600_000) }, { timestamp: t0, message: 'y'.repeat(600_000) }],
    })));
    assert.equal(big.message, 'Upload too large: 1200052 bytes exceeds limit of 1048576');
  });

  test('too new and too old events are rejected by index, the rest stored', async () => {
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'rejects' }));
    const now = Date.now();
    const out = await logs.send(new PutLogEventsCommand({
      logGroupName: group, logStreamName: 'rejects',
      logEvents: [
        { timestamp: now - 30 * 86_400_000, message: 'ancient' },
        { timestamp: now, message: 'kept' },
        { timestamp: now + 3 * 3_600_000, message: 'future' },
      ],
    }));
    assert.deepEqual(out.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 0, tooNewLogEventStartIndex: 2 });
    assert.match(out.nextSequenceToken!, /^\d+$/);
    const got = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: 'rejects', startFromHead: true }));
    assert.deepEqual(messages(got.events), ['kept']);
  });

  test('the valid events of a batch may span 24 hours, not more', async () => {
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'span' }));
    const now = Date.now();
    const put = (...timestamps: number[]) => logs.send(new PutLogEventsCommand({
      logGroupName: group, logStreamName: 'span', logEvents: timestamps.map((timestamp, i) => ({ timestamp, message: `m${i}` })),
    }));
    const wide = await failure(put(now - 25 * 3_600_000, now));
    assert.deepEqual(wide, {
      name: 'InvalidParameterException',
      message: 'The batch of log events in a single PutLogEvents request cannot span more than 24 hours.',
      status: 400,
    });
    await put(now - 24 * 3_600_000 + 60_000, now);
    // Events rejected for their age are not counted: only those CloudWatch would store are.
    const out = await put(now - 30 * 86_400_000, now - 23 * 3_600_000, now, now + 3 * 3_600_000);
    assert.deepEqual(out.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 0, tooNewLogEventStartIndex: 3 });
    const old = await put(now - 16 * 86_400_000, now - 15 * 86_400_000);
    assert.deepEqual(old.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 1 });
  });

  test('a stream reads in timestamp order, whatever order the events came in, and pages that way', async () => {
    // CloudWatch reads a stream by event timestamp: a back-dated batch goes before what came
    // earlier. Events with the same timestamp keep the order they came in.
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'late' }));
    const at = Date.now() - 50_000;
    const put = (logEvents: Array<{ timestamp: number; message: string }>) =>
      logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 'late', logEvents }));
    await put([{ timestamp: at + 40, message: 'e' }, { timestamp: at + 50, message: 'f' }]);
    await put([{ timestamp: at + 10, message: 'a' }, { timestamp: at + 30, message: 'c1' }]);
    await put([{ timestamp: at + 20, message: 'b' }, { timestamp: at + 30, message: 'c2' }]);
    const read = (o: { startFromHead?: boolean; limit?: number; nextToken?: string }) =>
      logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: 'late', ...o }));
    assert.deepEqual(messages((await read({ startFromHead: true })).events), ['a', 'b', 'c1', 'c2', 'e', 'f']);
    assert.deepEqual(messages((await read({})).events), ['a', 'b', 'c1', 'c2', 'e', 'f']);

    const seen: string[] = [];
    let page = await read({ startFromHead: true, limit: 2 });
    for (let i = 0; i < 10; i++) {
      seen.push(...messages(page.events));
      const next = await read({ limit: 2, nextToken: page.nextForwardToken });
      if (next.nextForwardToken === page.nextForwardToken) break;
      page = next;
    }
    assert.deepEqual(seen, ['a', 'b', 'c1', 'c2', 'e', 'f']);

    const tail = await read({ limit: 2 });
    assert.deepEqual(messages(tail.events), ['e', 'f']);
    const older = await read({ limit: 3, nextToken: tail.nextBackwardToken });
    assert.deepEqual(messages(older.events), ['b', 'c1', 'c2']);
    const oldest = await read({ limit: 3, nextToken: older.nextBackwardToken });
    assert.deepEqual(messages(oldest.events), ['a']);
    const none = await read({ limit: 3, nextToken: oldest.nextBackwardToken });
    assert.deepEqual(messages(none.events), []);
    assert.equal(none.nextBackwardToken, oldest.nextBackwardToken);
    // From the end of a backward read, forward again starts at its first event.
    assert.deepEqual(messages((await read({ limit: 2, nextToken: none.nextForwardToken })).events), ['a', 'b']);
    // From the end of a forward read, backward again starts at its last event.
    const end = await read({ limit: 2, nextToken: page.nextForwardToken });
    assert.deepEqual(messages(end.events), []);
    assert.deepEqual(messages((await read({ limit: 2, nextToken: end.nextBackwardToken })).events), ['e', 'f']);
  });
});

describe('FilterLogEvents', () => {
  const group = '/f/filter';
  const t0 = Date.now() - 120_000;

  before(async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    for (const s of ['app-1', 'app-2', 'worker']) await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: s }));
    await putEvents(group, 'app-1', ['START RequestId: 1\n', 'ERROR disk full\n', 'request done in 5 ms\n'], t0);
    await putEvents(group, 'app-2', ['ERROR timeout talking to db\n', 'error lowercase\n'], t0 + 10);
    await putEvents(group, 'worker', ['ERROR disk full again\n', 'INFO all good\n'], t0 + 20);
  });

  const messages = (events: FilteredLogEvent[] | undefined) => (events ?? []).map((e) => e.message!);

  test('terms, phrases, stream selection, time range', async () => {
    const all = await logs.send(new FilterLogEventsCommand({ logGroupName: group }));
    assert.equal(all.events!.length, 7);
    assert.deepEqual(all.searchedLogStreams, []);
    const e = all.events![0]!;
    assert.equal(e.logStreamName, 'app-1');
    assert.equal(e.timestamp, t0);
    assert.equal(typeof e.eventId, 'string');
    assert.ok(e.ingestionTime! >= t0);
    assert.equal(all.nextToken, undefined);

    const errors = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: 'ERROR' }));
    assert.deepEqual(messages(errors.events), ['ERROR disk full\n', 'ERROR timeout talking to db\n', 'ERROR disk full again\n']);
    const both = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: 'ERROR full' }));
    assert.deepEqual(messages(both.events), ['ERROR disk full\n', 'ERROR disk full again\n']);
    const phrase = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '"disk full again"' }));
    assert.deepEqual(messages(phrase.events), ['ERROR disk full again\n']);
    const lower = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: 'error' }));
    assert.deepEqual(messages(lower.events), ['error lowercase\n'], 'terms are case-sensitive');
    const empty = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '' }));
    assert.equal(empty.events!.length, 7);

    const named = await logs.send(new FilterLogEventsCommand({ logGroupName: group, logStreamNames: ['worker', 'app-2'], filterPattern: 'ERROR' }));
    assert.deepEqual(named.events!.map((x) => x.logStreamName), ['app-2', 'worker']);
    const prefixed = await logs.send(new FilterLogEventsCommand({ logGroupName: group, logStreamNamePrefix: 'app-' }));
    assert.equal(prefixed.events!.length, 5);
    // startTime and endTime are both inclusive here.
    const ranged = await logs.send(new FilterLogEventsCommand({ logGroupName: group, startTime: t0 + 2, endTime: t0 + 10 }));
    assert.deepEqual(messages(ranged.events), ['request done in 5 ms\n', 'ERROR timeout talking to db\n']);
    const arn = await logs.send(new FilterLogEventsCommand({ logGroupIdentifier: `arn:aws:logs:us-east-1:000000000000:log-group:${group}`, filterPattern: 'INFO' }));
    assert.deepEqual(messages(arn.events), ['INFO all good\n']);
  });

  test('paging with nextToken, by hand and with the paginator', async () => {
    const first = await logs.send(new FilterLogEventsCommand({ logGroupName: group, limit: 3 }));
    assert.equal(first.events!.length, 3);
    assert.ok(first.nextToken);
    const second = await logs.send(new FilterLogEventsCommand({ logGroupName: group, limit: 3, nextToken: first.nextToken }));
    assert.equal(second.events!.length, 3);
    const third = await logs.send(new FilterLogEventsCommand({ logGroupName: group, limit: 3, nextToken: second.nextToken }));
    assert.equal(third.events!.length, 1);
    assert.equal(third.nextToken, undefined);
    const ids = [...first.events!, ...second.events!, ...third.events!].map((x) => x.eventId);
    assert.equal(new Set(ids).size, 7);

    const seen: string[] = [];
    for await (const page of paginateFilterLogEvents({ client: logs, pageSize: 2 }, { logGroupName: group, filterPattern: 'ERROR' })) {
      seen.push(...messages(page.events));
    }
    assert.deepEqual(seen, ['ERROR disk full\n', 'ERROR timeout talking to db\n', 'ERROR disk full again\n']);
  });

  test('events of all streams come in timestamp order, and page that way', async () => {
    const g = '/f/order';
    await logs.send(new CreateLogGroupCommand({ logGroupName: g }));
    for (const s of ['s', 't']) await logs.send(new CreateLogStreamCommand({ logGroupName: g, logStreamName: s }));
    const at = Date.now() - 50_000;
    const put = (stream: string, timestamp: number, message: string) =>
      logs.send(new PutLogEventsCommand({ logGroupName: g, logStreamName: stream, logEvents: [{ timestamp, message }] }));
    await put('s', at + 40, 's-late');
    await put('s', at, 's-early');
    await put('t', at + 20, 't-mid');
    await put('t', at + 20, 't-mid2');
    const all = await logs.send(new FilterLogEventsCommand({ logGroupName: g }));
    assert.deepEqual(messages(all.events), ['s-early', 't-mid', 't-mid2', 's-late']);
    const first = await logs.send(new FilterLogEventsCommand({ logGroupName: g, limit: 1 }));
    assert.deepEqual(messages(first.events), ['s-early']);
    const seen: string[] = [];
    for await (const page of paginateFilterLogEvents({ client: logs, pageSize: 1 }, { logGroupName: g })) seen.push(...messages(page.events));
    assert.deepEqual(seen, ['s-early', 't-mid', 't-mid2', 's-late']);
    const matched: string[] = [];
    for await (const page of paginateFilterLogEvents({ client: logs, pageSize: 1 }, { logGroupName: g, filterPattern: '?early ?late' })) matched.push(...messages(page.events));
    assert.deepEqual(matched, ['s-early', 's-late']);
  });

  test('errors', async () => {
    const conflict = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, logStreamNames: ['a'], logStreamNamePrefix: 'a' })));
    assert.equal(conflict.name, 'InvalidParameterException');
    const delimited = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '[ip, user, status = ]' })));
    assert.equal(delimited.name, 'InvalidParameterException');
    const badJson = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '{ $.level = }' })));
    assert.equal(badJson.name, 'InvalidParameterException');
    const quote = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '"unterminated' })));
    assert.equal(quote.name, 'InvalidParameterException');
    const missing = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: '/f/none' })));
    assert.deepEqual(missing, { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 });
    const token = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, nextToken: 'bm9wZQ' })));
    assert.equal(token.message, 'The specified nextToken is invalid.');
    const tooMany = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, logStreamNames: Array.from({ length: 101 }, (_, i) => `s${i}`) })));
    assert.match(tooMany.message, /at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100/);
  });
});

describe('FilterLogEvents: alternatives, exclusions, regular expressions, JSON patterns', () => {
  const group = '/f/patterns';
  const lines = [
    'ERROR disk full\n',
    'WARN low memory\n',
    'INFO all good\n',
    '{"level":"ERROR","message":"json err","code":500,"user":{"id":7,"name":"ann"},"tags":["a","b"],"retry":true,"gone":null}\n',
    '{"level":"INFO","message":"json ok","code":200,"user":{"id":8,"name":"bob"},"tags":["c"],"retry":false}\n',
    '{"level":"WARN","message":"slow request","latencyMs":1500}\n',
  ];
  before(async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 's' }));
    await putEvents(group, 's', lines, Date.now() - 60_000);
  });
  const messages = (events: FilteredLogEvent[] | undefined) => (events ?? []).map((e) => e.message!);
  const match = async (filterPattern: string) =>
    ((await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern }))).events ?? []).map((e) => lines.indexOf(e.message!));

  const cases: Array<[string, number[]]> = [
    ['?WARN ?INFO', [1, 2, 4, 5]],
    ['ERROR -disk', [3]],
    ['?"low memory" ?"all good"', [1, 2]],
    ['%ERR.R%', [0, 3]],
    ['%^W[A-Z]+ low%', [1]],
    ['{ $.level = "ERROR" }', [3]],
    ['{ $.level = ERROR }', [3]],
    ['{ $.level != "ERROR" }', [4, 5]],
    ['{ $.message = "json*" }', [3, 4]],
    ['{ $.code > 300 }', [3]],
    ['{ $.code = 200 }', [4]],
    ['{ $.latencyMs >= 1000 }', [5]],
    ['{ $.user.id = 7 }', [3]],
    ['{ $.user.name = "b*" }', [4]],
    ['{ $.tags[1] = "b" }', [3]],
    ['{ ($.level = "ERROR") && ($.code = 500) }', [3]],
    ['{ $.level = "WARN" || $.code = 200 }', [4, 5]],
    ['{ ($.level = "INFO" || $.level = "WARN") && $.latencyMs > 1 }', [5]],
    ['{ $.retry IS TRUE }', [3]],
    ['{ $.retry IS FALSE }', [4]],
    ['{ $.gone IS NULL }', [3]],
    ['{ $.latencyMs EXISTS }', [5]],
    ['{ $.user NOT EXISTS }', [5]],
    // `= *` is "exists", for a number, a boolean, an object or null as for a string.
    ['{ $.code = * }', [3, 4]],
    ['{ $.retry = * }', [3, 4]],
    ['{ $.user = * }', [3, 4]],
    ['{ $.gone = * }', [3]],
    // A regular expression as the value.
    ['{ $.level = %ERR.R% }', [3]],
    ['{ $.level != %^(ERROR|WARN)$% }', [4]],
    ['{ $.code = %^5% }', [3]],
  ];
  for (const [pattern, expected] of cases) {
    test(pattern, async () => assert.deepEqual(await match(pattern), expected));
  }

  test('a page is filled past events that do not match; the token goes on from the last one returned', async () => {
    const first = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '{ $.code EXISTS }', limit: 1 }));
    assert.deepEqual(messages(first.events).map((m) => lines.indexOf(m)), [3]);
    assert.ok(first.nextToken);
    const second = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '{ $.code EXISTS }', limit: 1, nextToken: first.nextToken }));
    assert.deepEqual(messages(second.events).map((m) => lines.indexOf(m)), [4]);
    assert.equal(second.nextToken, undefined);
  });
});

describe('FilterLogEvents: space-delimited patterns', () => {
  const group = '/f/delimited';
  const lines = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534\n',
    '10.0.0.7 - - [10/Oct/2000:13:26:02 -0700] "POST /login HTTP/1.1" 401 -\n',
    '10.0.0.9 - ann [10/Oct/2000:13:27:40 -0700] "GET /index.html HTTP/1.1" 503 87\n',
    // Lambda's platform lines, tab-separated, as src/environments/format.ts writes them.
    'REPORT RequestId: 1f2e\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n',
    'REPORT RequestId: 3a4b\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 92 MB\tInit Duration: 180.50 ms\t\n',
    'START RequestId: 1f2e Version: $LATEST\n',
    'app worker-1 INFO job done in 35 ms\n',
    'app worker-2 ERROR job failed after 1200 ms\n',
  ];
  before(async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 's' }));
    await putEvents(group, 's', lines, Date.now() - 60_000);
  });
  const match = async (filterPattern: string) =>
    ((await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern }))).events ?? []).map((e) => lines.indexOf(e.message!));

  const cases: Array<[string, number[]]> = [
    // Names alone match any value; without `...` the count of fields must be the pattern's.
    ['[ip, id, user, timestamp, request, status_code, size]', [0, 1, 2]],
    ['[start, rid_label, rid, version_label, version]', [5]],
    ['[start = START, rid_label, rid]', []],
    ['[...]', [0, 1, 2, 3, 4, 5, 6, 7]],
    // [bracketed] and "quoted" text is one field, compared without its brackets or quotes.
    ['[ip, id, user, timestamp = "10/Oct/2000:13:26:02 -0700", request, status_code, size]', [1]],
    ['[..., request = "GET *", status_code, size]', [0, 2]],
    // Strings with wildcards, = and !=; quoted or not.
    ['[ip, id, user = frank, ...]', [0]],
    ['[ip = 10.*, ..., status_code = 4*, size]', [1]],
    ['[ip, id, user, timestamp, request, status_code != 200, size]', [1, 2]],
    ['[type=REPORT, ...]', [3, 4]],
    ['[type = "REPORT", ..., used_label = "Used:", used, unit = MB]', [3]],
    // Numbers compare as numbers; a field that is not one (Apache's `-`) fails the comparison.
    ['[..., status_code = 200, size > 1000]', [0]],
    ['[ip, ..., size < 100]', [2]],
    ['[..., init = Init, init_label = "Duration:", init_ms >= 180.5, unit]', [4]],
    // || and && within a field.
    ['[ip, id, user, timestamp, request, status_code = 4* || status_code = 5*, size]', [1, 2]],
    ['[app, worker, level = ERROR || level = WARN, ...]', [7]],
    ['[app, worker, level, ..., took >= 10 && took < 100, unit = ms]', [6]],
    // %regex% values.
    ['[..., request = %^(GET|HEAD) /index%, status_code, size]', [2]],
    ['[app, worker, level = %ERR|WARN%, ...]', [7]],
    // `...` anywhere, more than once.
    ['[app, worker = worker-*, level, ..., took > 1000, unit = ms]', [7]],
    ['[..., max = Max, ..., unit = MB]', [3]],
  ];
  for (const [pattern, expected] of cases) {
    test(pattern, async () => assert.deepEqual(await match(pattern), expected));
  }

  test('a pattern that cannot be parsed is an InvalidParameterException', async () => {
    for (const filterPattern of ['[ip, user', '[ip user]', '[ip, , user]', '[ip, user < frank]', '[ip, user = frank || nobody = 1]', '[ip, user = %(%]']) {
      const e = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern })));
      assert.equal(e.name, 'InvalidParameterException', filterPattern);
    }
  });
});

describe('through the log service', () => {
  test('a line written to the service is visible to the next read (read-your-writes)', async () => {
    const group = '/aws/lambda/ryw';
    const stream = '2026/01/01/[$LATEST]ffffffffffffffffffffffffffffffff';
    server.service.write(group, stream, [{ timestamp: Date.now(), message: 'hello from the function\n' }]);
    // The flush interval is a minute: only the read's own flush can make this visible.
    const got = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: 'hello' }));
    assert.deepEqual(got.events!.map((e) => [e.logStreamName, e.message]), [[stream, 'hello from the function\n']]);
    server.service.write(group, stream, [{ timestamp: Date.now(), message: 'second\n' }]);
    const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }));
    assert.equal(groups.logGroups![0]!.storedBytes, Buffer.byteLength('hello from the function\nsecond\n'));
    // A stream's storedBytes has been reported as zero since 2019 (the model says so).
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }));
    assert.equal(streams.logStreams![0]!.storedBytes, 0);
    // Deleting the group flushes first, so buffered lines do not bring it back.
    server.service.write(group, stream, [{ timestamp: Date.now(), message: 'third\n' }]);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: group }));
    await server.service.flush();
    const gone = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group })));
    assert.equal(gone.name, 'ResourceNotFoundException');
  });

  test('writes see buffered lines too: retention on a group that so far exists only in the buffer', async () => {
    server.service.write('/aws/lambda/fresh', 'stream', [{ timestamp: Date.now(), message: 'first line\n' }]);
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/aws/lambda/fresh', retentionInDays: 7 }));
    const g = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/fresh' }));
    assert.equal(g.logGroups![0]!.retentionInDays, 7);
    const dup = await failure(logs.send(new CreateLogGroupCommand({ logGroupName: '/aws/lambda/fresh' })));
    assert.equal(dup.name, 'ResourceAlreadyExistsException');
  });

  test('an unknown operation is an AWS JSON error', async () => {
    const res = await fetch(server.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'Logs_20140328.StartLiveTail', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type')!, /^application\/x-amz-json-1\.1/);
    const body = await res.json() as { __type: string };
    assert.equal(body.__type, 'UnknownOperationException');
  });
});
