import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { defaultEndpoint } from '../http.js';
import { sqsCall } from './queues.js';

/** Parses repeated --attr name=value[:Type] options into SQS MessageAttributes. */
export function parseAttrOptions(list: string[]): Record<string, { DataType: string; StringValue: string }> {
  const out: Record<string, { DataType: string; StringValue: string }> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--attr wants name=value (got ${item})`, 2);
    const name = item.slice(0, eq);
    let value = item.slice(eq + 1);
    let type = 'String';
    const m = /^(.*):(String|Number)$/.exec(value);
    if (m) {
      value = m[1]!;
      type = m[2]!;
    }
    out[name] = { DataType: type, StringValue: value };
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `stratus send QUEUE BODY`: sends one message (BODY '-' reads standard input). */
export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send a message to a queue (BODY "-" reads standard input)')
    .argument('<queue>', 'queue name or URL')
    .argument('<body>', 'message body')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .option('--group <id>', 'MessageGroupId (FIFO queues)')
    .option('--dedup <id>', 'MessageDeduplicationId (FIFO queues without content-based deduplication)')
    .option('--delay <seconds>', 'DelaySeconds (standard queues)')
    .option('--attr <name=value[:Type]>', 'message attribute (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print JSON')
    .action(async (queue: string, body: string, opts: { endpoint: string; group?: string; dedup?: string; delay?: string; attr: string[]; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/$/, '');
      const url = /^https?:\/\//.test(queue) ? queue : (await sqsCall(base, 'GetQueueUrl', { QueueName: queue })).QueueUrl;
      const input: Record<string, unknown> = { QueueUrl: url, MessageBody: body === '-' ? await readStdin() : body };
      if (opts.group) input.MessageGroupId = opts.group;
      if (opts.dedup) input.MessageDeduplicationId = opts.dedup;
      if (opts.delay !== undefined) input.DelaySeconds = Number(opts.delay);
      if (opts.attr.length) input.MessageAttributes = parseAttrOptions(opts.attr);
      const r = await sqsCall(base, 'SendMessage', input);
      if (opts.json) console.log(JSON.stringify(r, null, 2));
      else console.log(r.SequenceNumber ? `${r.MessageId} (sequence ${r.SequenceNumber})` : r.MessageId);
    });
}
