import { makeZip } from '../test/helpers/zip.js';
import { loadSteady, startRawHello, startStratusChild, type BenchResult } from './lib.js';

const HELLO = "exports.handler = async () => 'hello';\n";
const MEMORY_MB = 1769;

async function post(url: string, body: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Hello-world through the HTTP gateway (quick-created API, payload 2.0) at concurrency 1 and 16,
 * beside a raw node:http hello server and the direct Invoke API measured in the same run.
 */
export async function benchGateway(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const raw = await startRawHello();
  const server = await startStratusChild({ env: { STRATUS_PREWARM: '0' } });
  try {
    const zip = await makeZip({ 'index.js': HELLO });
    await post(`${server.url}/2015-03-31/functions`, {
      FunctionName: 'hello', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/bench',
      // 1769 MB is one full vCPU under Lambda's CPU-by-memory rule: at 128 MB (7% of a CPU) the
      // throttling of the function itself would be the measurement, not the gateway.
      Code: { ZipFile: zip.toString('base64') }, MemorySize: MEMORY_MB, Timeout: 10,
    });
    const api = await post(`${server.url}/v2/apis`, { name: 'bench', protocolType: 'HTTP', target: 'arn:aws:lambda:us-east-1:000000000000:function:hello' });
    const gwPath = `/_apis/${api.apiId}/hello`;
    const check = await fetch(`${server.url}${gwPath}`);
    const body = await check.text();
    if (check.status !== 200) throw new Error(`gateway hello: ${check.status} ${body}`);

    for (const concurrency of [1, 16]) {
      const requests = concurrency === 1 ? 2000 : 6000;
      const warmup = 300;
      // Each at steady state (see loadSteady): the direct Invoke rounds warm the environments.
      const base = await loadSteady({ port: raw.port, method: 'GET', path: '/', concurrency, requests, warmup });
      const direct = await loadSteady({ port: server.port, path: '/2015-03-31/functions/hello/invocations', body: '{}', concurrency, requests, warmup });
      const gw = await loadSteady({ port: server.port, method: 'GET', path: gwPath, concurrency, requests, warmup });
      if (gw.errors) results.push({ name: `gateway c${concurrency} errors`, value: gw.errors, unit: 'requests', note: JSON.stringify(gw.statuses) });
      results.push({
        name: `gateway hello throughput c${concurrency}`, value: gw.throughput, unit: 'req/s', baseline: base.throughput, ratio: gw.throughput / base.throughput,
        note: `raw node:http baseline; Invoke API ${direct.throughput.toFixed(0)} req/s; function ${MEMORY_MB} MB${concurrency === 16 ? '; target >= 0.5' : ''}`,
      });
      results.push({ name: `gateway hello p50 c${concurrency}`, value: gw.p50, unit: 'ms', baseline: base.p50, ratio: gw.p50 / base.p50, note: `Invoke API p50 ${direct.p50.toFixed(3)} ms` });
      results.push({ name: `gateway hello p99 c${concurrency}`, value: gw.p99, unit: 'ms', baseline: base.p99, ratio: gw.p99 / base.p99, note: `Invoke API p99 ${direct.p99.toFixed(3)} ms` });
      if (concurrency === 1) {
        results.push({ name: 'gateway added p50 c1 (vs raw node:http)', value: gw.p50 - base.p50, unit: 'ms', note: 'includes the function invocation itself; target < 1 ms' });
        results.push({ name: 'gateway added p50 c1 (vs Invoke API)', value: gw.p50 - direct.p50, unit: 'ms', note: 'the gateway layer alone' });
      }
    }
  } finally {
    await server.stop();
    await raw.stop();
  }
  return results;
}
