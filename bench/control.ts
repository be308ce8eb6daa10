import fs from 'node:fs';
import { makeZip } from '../test/helpers/zip.js';
import { load, startStratusChild, type BenchResult } from './lib.js';

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Control-plane scale: 10,000 functions, GetFunction / ListFunctions latency and server RSS. */
export async function benchControl(count = Number(process.env.BENCH_FUNCTIONS ?? 10_000)): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const server = await startStratusChild({ env: { STRATUS_PREWARM: '0' } });
  try {
    const zip = (await makeZip({ 'index.js': "exports.handler = async () => 'ok';\n" })).toString('base64');
    // Settle the server, then measure its baseline RSS.
    await fetch(`${server.url}/2015-03-31/functions`).then((r) => r.arrayBuffer());
    await new Promise((r) => setTimeout(r, 300));
    const rss0 = rssMiB(server.pid);
    const t0 = performance.now();
    const parallel = 8;
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < count) {
          const i = next++;
          const res = await fetch(`${server.url}/2015-03-31/functions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              FunctionName: `fn-${String(i).padStart(5, '0')}`,
              Runtime: 'nodejs20.x',
              Handler: 'index.handler',
              Role: 'arn:aws:iam::000000000000:role/bench',
              Code: { ZipFile: zip },
            }),
          });
          await res.arrayBuffer();
          if (res.status !== 201) throw new Error(`create ${i}: ${res.status}`);
        }
      }),
    );
    const createSeconds = (performance.now() - t0) / 1000;
    results.push({ name: `CreateFunction rate (${count} functions)`, value: count / createSeconds, unit: 'req/s' });
    await new Promise((r) => setTimeout(r, 500));
    const rss1 = rssMiB(server.pid);
    results.push({ name: `server RSS growth for ${count} idle functions`, value: rss1 - rss0, unit: 'MiB', note: `from ${rss0.toFixed(1)} to ${rss1.toFixed(1)} MiB; target < 50 MiB` });

    const get = await load({ port: server.port, method: 'GET', path: '/2015-03-31/functions/fn-05000', concurrency: 1, requests: 2000, warmup: 200 });
    results.push({ name: 'GetFunction p50 (c1)', value: get.p50, unit: 'ms', note: 'target < 1 ms' });
    results.push({ name: 'GetFunction p99 (c1)', value: get.p99, unit: 'ms' });
    const list = await load({ port: server.port, method: 'GET', path: '/2015-03-31/functions?MaxItems=50&Marker=fn-04000', concurrency: 1, requests: 500, warmup: 50 });
    results.push({ name: 'ListFunctions page of 50 p50 (c1)', value: list.p50, unit: 'ms' });
    results.push({ name: 'ListFunctions page of 50 p99 (c1)', value: list.p99, unit: 'ms' });
    if (get.errors || list.errors) results.push({ name: 'control errors', value: get.errors + list.errors, unit: 'requests' });
  } finally {
    await server.stop();
  }
  return results;
}
