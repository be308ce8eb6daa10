import { load, sqliteInsertCommitRate, startStratusChild, type BenchResult } from './lib.js';

const TARGET = { 'content-type': 'application/x-amz-json-1.0' };

/**
 * SQS throughput over raw HTTP (AWS JSON 1.0, as the SDKs send it), each beside a bare SQLite
 * insert + commit loop measured in the same run (one transaction per row, same pragmas): the
 * floor of any durable queue on this machine.
 *  - SendMessage: durable sends per second;
 *  - SendMessageBatch (10 per request): messages per second;
 *  - ReceiveMessage (10) + DeleteMessageBatch: messages consumed per second until the queue drains.
 */
export async function benchSqs(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const baseline = sqliteInsertCommitRate({
    create: 'CREATE TABLE m (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, queue TEXT, body TEXT, sent_at INTEGER, visible_at INTEGER)',
    insert: 'INSERT INTO m (id, queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)',
    row: (i) => [`id-${i}`, 'bench', '{"bench":true}', i, i],
  });
  const server = await startStratusChild();
  try {
    const call = async (op: string, input: unknown) => {
      const r = await fetch(`${server.url}/`, { method: 'POST', headers: { ...TARGET, 'x-amz-target': `AmazonSQS.${op}` }, body: JSON.stringify(input) });
      const body = (await r.json()) as any;
      if (!r.ok) throw new Error(`${op}: ${body.message}`);
      return body;
    };
    const { QueueUrl } = await call('CreateQueue', { QueueName: 'bench' });

    const send = await load({
      port: server.port, path: '/', method: 'POST',
      headers: { ...TARGET, 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: JSON.stringify({ QueueUrl, MessageBody: '{"bench":true}' }),
      concurrency: 16, requests: 10_000, warmup: 500,
    });
    results.push({
      name: 'sqs SendMessage (durable sends)', value: send.throughput, unit: 'msgs/s', baseline, ratio: send.throughput / baseline,
      note: `p50 ${send.p50.toFixed(2)} ms, p99 ${send.p99.toFixed(2)} ms, ${send.errors} errors; baseline: bare SQLite insert+commit loop`,
    });

    const entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: '{"bench":true}' }));
    const batch = await load({
      port: server.port, path: '/', method: 'POST',
      headers: { ...TARGET, 'x-amz-target': 'AmazonSQS.SendMessageBatch' },
      body: JSON.stringify({ QueueUrl, Entries: entries }),
      concurrency: 8, requests: 2_000, warmup: 100,
    });
    const batchRate = batch.throughput * 10;
    results.push({
      name: 'sqs SendMessageBatch (10 per request)', value: batchRate, unit: 'msgs/s', baseline, ratio: batchRate / baseline,
      note: `p50 ${batch.p50.toFixed(2)} ms per batch, ${batch.errors} errors`,
    });

    const total = Number((await call('GetQueueAttributes', { QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] })).Attributes.ApproximateNumberOfMessages);
    let consumed = 0;
    let errors = 0;
    const t0 = performance.now();
    const worker = async () => {
      for (let empty = 0; empty < 2;) {
        try {
          const r = await call('ReceiveMessage', { QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 });
          const msgs = (r.Messages ?? []) as { ReceiptHandle: string }[];
          if (msgs.length === 0) {
            empty++;
            continue;
          }
          empty = 0;
          const d = await call('DeleteMessageBatch', { QueueUrl, Entries: msgs.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) });
          consumed += d.Successful.length;
        } catch {
          errors++;
          if (errors > 100) return;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const consumeRate = consumed / seconds;
    results.push({
      name: 'sqs ReceiveMessage(10) + DeleteMessageBatch', value: consumeRate, unit: 'msgs/s', baseline, ratio: consumeRate / baseline,
      note: `${consumed}/${total} messages consumed, ${errors} errors`,
    });
  } finally {
    await server.stop();
  }
  return results;
}
