import type { Command } from 'commander';
import { defaultEndpoint } from './events.js';

/** Calls the AmazonSQS JSON API of a Stratus server. */
export async function sqsCall(base: string, op: string, input: Record<string, unknown>): Promise<any> {
  const r = await fetch(`${base}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${op}` },
    body: JSON.stringify(input),
  });
  const text = await r.text();
  const body = text ? JSON.parse(text) : {};
  if (!r.ok) throw new Error(`${body.message ?? r.statusText} (${String(body.__type ?? r.status).replace(/^.*#/, '')})`);
  return body;
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
  const widths = head.map((h, i) => Math.max(h.length, ...data.map((d) => d[i]!.length)));
  return [head, ...data].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
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
