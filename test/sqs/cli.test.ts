import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { parseAttrOptions, registerSendCommand } from '../../src/cli/commands/send.js';
import { formatQueues, registerQueuesCommand, sqsCall } from '../../src/cli/commands/queues.js';
import { startSqsServer, type SqsServer } from './harness.js';

let server: SqsServer;
before(async () => {
  server = await startSqsServer();
});
after(async () => {
  await server?.stop();
});

/** Runs `stratus <args>` through the real commands, capturing what they print. */
async function stratus(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerQueuesCommand(program);
  registerSendCommand(program);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    await program.parseAsync(['node', 'stratus', ...args, '--endpoint', server.endpoint]);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test('stratus send and stratus queues', async () => {
  await sqsCall(server.endpoint, 'CreateQueue', { QueueName: 'cli-dlq' });
  await sqsCall(server.endpoint, 'CreateQueue', {
    QueueName: 'cli-work',
    Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:cli-dlq', maxReceiveCount: 3 }) },
  });
  await sqsCall(server.endpoint, 'CreateQueue', { QueueName: 'cli.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } });
  const id = await stratus('send', 'cli-work', 'hello', '--attr', 'kind=greeting', '--attr', 'n=2:Number');
  assert.match(id, /^[0-9a-f-]{36}$/);
  await stratus('send', 'cli-work', 'later', '--delay', '600');
  const fifo = await stratus('send', 'cli.fifo', 'in order', '--group', 'g1');
  assert.match(fifo, /^[0-9a-f-]{36} \(sequence \d{20}\)$/);
  const table = await stratus('queues');
  const lines = table.split('\n');
  assert.match(lines[0]!, /^NAME\s+TYPE\s+VISIBLE\s+IN FLIGHT\s+DELAYED\s+DEAD-LETTER QUEUE$/);
  assert.match(lines.find((l) => l.startsWith('cli-work'))!, /^cli-work\s+standard\s+1\s+0\s+1\s+cli-dlq \(after 3\)$/);
  assert.match(lines.find((l) => l.startsWith('cli.fifo'))!, /^cli\.fifo\s+fifo\s+1\s+0\s+0$/);
  const json = JSON.parse(await stratus('queues', '--prefix', 'cli-w', '--json'));
  assert.equal(json.length, 1);
  assert.equal(json[0].visible, 1);
  const got = await sqsCall(server.endpoint, 'ReceiveMessage', { QueueUrl: json[0].url, MessageAttributeNames: ['All'] });
  assert.deepEqual(got.Messages[0].MessageAttributes, { kind: { DataType: 'String', StringValue: 'greeting' }, n: { DataType: 'Number', StringValue: '2' } });
  await assert.rejects(stratus('send', 'no-such-queue', 'x'), /QueueDoesNotExist/);
});

test('attribute options and the empty table', () => {
  assert.deepEqual(parseAttrOptions(['a=b', 'url=http://x:1', 'n=1.5:Number']), {
    a: { DataType: 'String', StringValue: 'b' },
    url: { DataType: 'String', StringValue: 'http://x:1' },
    n: { DataType: 'Number', StringValue: '1.5' },
  });
  assert.throws(() => parseAttrOptions(['novalue']), /name=value/);
  assert.equal(formatQueues([]).trim(), 'NAME  TYPE  VISIBLE  IN FLIGHT  DELAYED  DEAD-LETTER QUEUE');
});
