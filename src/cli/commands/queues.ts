import type { Command } from 'commander';
import { awsJson, defaultEndpoint } from '../http.js';
import { formatTable } from '../table.js';

/** Calls the AmazonSQS JSON API (AWS JSON 1.0, X-Amz-Target AmazonSQS.<op>) of a Stratus server. */
export function sqsCall(base: string, op: string, input: Record<string, unknown>): Promise<any> {
  return awsJson(base, `AmazonSQS.${op}`, input, '1.0');
}

export interface QueueRow {
  name: string;
  type: 'standard' | 'fifo';
  visible: number;
  inFlight: number;
  delayed: number;
  deadLetterQueue: string;
  url: string;
}

export function formatQueues(rows: QueueRow[]): string {
  const head = ['NAME', 'TYPE', 'VISIBLE', 'IN FLIGHT', 'DELAYED', 'DEAD-LETTER QUEUE'];
  const data = rows.map((r) => [r.name, r.type, String(r.visible), String(r.inFlight), String(r.delayed), r.deadLetterQueue]);
  return formatTable(head, data);
}

/** `stratus queues [--prefix P] [--json]`: queues with their message counts and dead-letter queue. */
export function registerQueuesCommand(program: Command): void {
  program
    .command('queues')
    .description('list queues with visible, in-flight and delayed message counts')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .option('--prefix <prefix>', 'only queues whose name starts with this')
    .option('--json', 'print JSON')
    .action(async (opts: { endpoint: string; prefix?: string; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/$/, '');
      const urls: string[] = [];
      let token: string | undefined;
      do {
        const page = await sqsCall(base, 'ListQueues', { MaxResults: 1000, ...(opts.prefix ? { QueueNamePrefix: opts.prefix } : {}), ...(token ? { NextToken: token } : {}) });
        urls.push(...(page.QueueUrls ?? []));
        token = page.NextToken;
      } while (token);
      const rows: QueueRow[] = [];
      for (const url of urls) {
        const { Attributes: a = {} } = await sqsCall(base, 'GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] });
        const redrive = a.RedrivePolicy ? (JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number }) : undefined;
        rows.push({
          name: decodeURIComponent(url.split('/').pop()!),
          type: a.FifoQueue === 'true' ? 'fifo' : 'standard',
          visible: Number(a.ApproximateNumberOfMessages ?? 0),
          inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
          delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
          deadLetterQueue: redrive ? `${redrive.deadLetterTargetArn.split(':').pop()} (after ${redrive.maxReceiveCount})` : '',
          url,
        });
      }
      console.log(opts.json ? JSON.stringify(rows, null, 2) : rows.length ? formatQueues(rows) : 'no queues');
    });
}
