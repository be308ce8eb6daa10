import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { makeZip } from '../test/helpers/zip.js';
import { load, perEvent, printResults, sqliteInsertCommitRate, startStratusChild, treeCpu, type BenchResult } from './lib.js';

/**
 * Asynchronous invocation throughput, each beside a baseline measured in the same run:
 *  - accept rate: durable 202s per second for InvocationType Event (group-committed SQLite writes),
 *    against a bare SQLite insert + commit loop (one transaction per row, same pragmas);
 *  - end-to-end completion rate for a no-op function: events accepted and run to completion per
 *    second, from the first accept to the last completion (no event lost).
 */
export async function benchAsync(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const baseline = sqliteInsertCommitRate({
    create: 'CREATE TABLE q (id TEXT PRIMARY KEY, body BLOB, meta TEXT, at INTEGER, visible_at INTEGER)',
    insert: 'INSERT INTO q VALUES (?, ?, ?, ?, ?)',
    row: (i) => [`id-${i}`, Buffer.from('{"bench":true}'), '{"attempts":0}', i, i],
  });
  const server = await startStratusChild();
  try {
    const lambda = new LambdaClient({
      endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1,
    });
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'noop', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/bench',
      // 1769 MB is one full vCPU in Lambda's model (as in the invoke benchmark): at 128 MB the
      // function's CPU quota, not Stratus, would be measured.
      MemorySize: 1769,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => null;' }) },
    }));
    lambda.destroy();

    const requests = 20_000;
    const warmup = 1_000;
    const cpu0 = treeCpu(server.pid);
    const started = performance.now();
    const accept = await load({
      port: server.port,
      path: '/2015-03-31/functions/noop/invocations',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' },
      body: '{"bench":true}',
      concurrency: 64,
      requests,
      warmup,
    });
    const accepted = accept.statuses[202] ?? 0;
    const cpu1 = treeCpu(server.pid);
    results.push({
      name: 'async accept rate (durable 202s)',
      value: accept.throughput,
      unit: 'events/s',
      baseline,
      ratio: accept.throughput / baseline,
      note: `p50 ${accept.p50.toFixed(2)} ms, p99 ${accept.p99.toFixed(2)} ms, ${accept.errors} errors; CPU during the accepts (which ran beside processing): server ${perEvent(cpu1.server - cpu0.server, accepted)}, function processes ${perEvent(cpu1.functions - cpu0.functions, accepted)}; baseline: bare SQLite insert+commit loop; target >= 5000`,
    });

    // Completion: wait for the queue to drain (bounded), then count what succeeded.
    const deadline = Date.now() + 300_000;
    let counts: Record<string, number> = {};
    for (;;) {
      const r = await fetch(`${server.url}/_stratus/async/events?function=noop&limit=1`);
      counts = ((await r.json()) as { counts: Record<string, number> }).counts;
      if (counts.queued! + counts.running! + counts.retrying! === 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu2 = treeCpu(server.pid);
    const done = counts.succeeded ?? 0;
    const lost = accepted - done - (counts.failed ?? 0) - (counts.queued ?? 0) - (counts.running ?? 0) - (counts.retrying ?? 0);
    results.push({
      name: 'async end-to-end completion rate (no-op function)',
      value: done / seconds,
      unit: 'events/s',
      baseline,
      ratio: done / seconds / baseline,
      note: `${done} of ${accepted} accepted succeeded in ${seconds.toFixed(1)} s, failed ${counts.failed ?? 0}, unfinished ${
        (counts.queued ?? 0) + (counts.running ?? 0) + (counts.retrying ?? 0)
      }, lost ${Math.max(0, lost)}; CPU per event (accept + run): server ${perEvent(cpu2.server - cpu0.server, accepted)}, function processes ${perEvent(cpu2.functions - cpu0.functions, accepted)}; target >= 2000`,
    });
  } finally {
    await server.stop();
  }
  return results;
}


if (import.meta.url === `file://${process.argv[1]}`) {
  printResults('async invocation', await benchAsync());
}
