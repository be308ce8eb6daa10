import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeZip } from '../test/helpers/zip.js';
import { load, startStratusChild, type BenchResult, type ChildServer } from './lib.js';

/**
 * Loaded into the server process (NODE_OPTIONS --import): on SIGUSR2 it runs two full
 * garbage collections, then writes the process's memory figures to $STRATUS_BENCH_MEMFILE.
 * The server itself is unchanged; only the measurement asks for a collection.
 */
const GC_HOOK = `
import fs from 'node:fs';
process.on('SIGUSR2', () => {
  globalThis.gc?.(); globalThis.gc?.();
  setTimeout(() => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    const rss = Number(/VmRSS:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
    const file = process.env.STRATUS_BENCH_MEMFILE;
    fs.writeFileSync(file + '.tmp', JSON.stringify({ rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }));
    fs.renameSync(file + '.tmp', file);
  }, 200);
});
`;

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

const MiB = (n: number) => n / (1024 * 1024);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssNow(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Waits until the server is idle, asks it for a full GC, and reads its memory afterwards. */
async function settledMemory(server: ChildServer, memFile: string): Promise<Memory> {
  await sleep(1000);
  fs.rmSync(memFile, { force: true });
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 100 && !fs.existsSync(memFile); i++) await sleep(50);
  if (!fs.existsSync(memFile)) throw new Error('the server did not report its memory (GC hook not loaded?)');
  return JSON.parse(fs.readFileSync(memFile, 'utf8')) as Memory;
}

/**
 * Control-plane scale: 10,000 functions, GetFunction / ListFunctions latency and server RSS.
 *
 * RSS is measured honestly: every figure is read once the server has been idle for a second and
 * has run full garbage collections (requested through a SIGUSR2 hook loaded with --expose-gc).
 * The baseline is taken after a warm-up (functions created and deleted, a burst of 20,000
 * GetFunction requests), so that one-time costs (compiling the paths, V8 growing its young
 * generation under load, which it keeps) are not counted as the cost of idle functions. The
 * growth from a fresh server and the figure without GC are reported beside it.
 */
export async function benchControl(count = Number(process.env.BENCH_FUNCTIONS ?? 10_000)): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-control-'));
  const hook = path.join(tmp, 'gc-hook.mjs');
  const memFile = path.join(tmp, 'memory.json');
  fs.writeFileSync(hook, GC_HOOK);
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', '--expose-gc', `--import=${hook}`].join(' ').trim();
  const server = await startStratusChild({ env: { STRATUS_PREWARM: '0', NODE_OPTIONS: nodeOptions, STRATUS_BENCH_MEMFILE: memFile } });
  try {
    const parallel = 8;
    const zip = (await makeZip({ 'index.js': "exports.handler = async () => 'ok';\n" })).toString('base64');
    const create = async (name: string) => {
      const res = await fetch(`${server.url}/2015-03-31/functions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: 'arn:aws:iam::000000000000:role/bench',
          Code: { ZipFile: zip },
        }),
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`create ${name}: ${res.status}`);
    };
    const fresh = await settledMemory(server, memFile);
    // Warm-up: every code path the measurement uses, and a burst of requests like the one that
    // follows (V8 grows its young generation to the maximum under a burst and keeps it: that is
    // the cost of any burst of requests, not of idle functions). Then back to no function at all.
    for (let i = 0; i < 20; i++) await create(`warm-${i}`);
    await load({ port: server.port, method: 'GET', path: '/2015-03-31/functions/warm-0', concurrency: parallel, requests: 20_000 });
    await fetch(`${server.url}/2015-03-31/functions?MaxItems=50`).then((r) => r.arrayBuffer());
    for (let i = 0; i < 20; i++) await fetch(`${server.url}/2015-03-31/functions/warm-${i}`, { method: 'DELETE' }).then((r) => r.arrayBuffer());
    const m0 = await settledMemory(server, memFile);

    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < count) await create(`fn-${String(next++).padStart(5, '0')}`);
      }),
    );
    const createSeconds = (performance.now() - t0) / 1000;
    results.push({ name: `CreateFunction rate (${count} functions)`, value: count / createSeconds, unit: 'req/s' });
    await sleep(500);
    const burstRss = rssNow(server.pid);
    const m1 = await settledMemory(server, memFile);
    results.push({
      name: `server RSS growth for ${count} idle functions`,
      value: MiB(m1.rss - m0.rss),
      unit: 'MiB',
      note: `idle + full GC; from ${MiB(m0.rss).toFixed(1)} to ${MiB(m1.rss).toFixed(1)} MiB; target < 50 MiB`,
    });
    results.push({ name: 'server JS heap growth (after GC)', value: MiB(m1.heapUsed - m0.heapUsed), unit: 'MiB', note: `${((m1.heapUsed - m0.heapUsed) / count).toFixed(0)} bytes per function; heap total ${MiB(m0.heapTotal).toFixed(1)} -> ${MiB(m1.heapTotal).toFixed(1)} MiB, external ${MiB(m0.external).toFixed(1)} -> ${MiB(m1.external).toFixed(1)} MiB` });
    results.push({ name: 'server RSS growth right after the burst (no GC)', value: MiB(burstRss - m0.rss), unit: 'MiB' });
    results.push({
      name: 'server RSS growth from a fresh server (idle + GC)',
      value: MiB(m1.rss - fresh.rss),
      unit: 'MiB',
      note: `from ${MiB(fresh.rss).toFixed(1)} MiB: includes the young generation any request burst grows`,
    });

    const get = await load({ port: server.port, method: 'GET', path: '/2015-03-31/functions/fn-05000', concurrency: 1, requests: 2000, warmup: 200 });
    results.push({ name: 'GetFunction p50 (c1)', value: get.p50, unit: 'ms', note: 'target < 1 ms' });
    results.push({ name: 'GetFunction p99 (c1)', value: get.p99, unit: 'ms' });
    const list = await load({ port: server.port, method: 'GET', path: '/2015-03-31/functions?MaxItems=50&Marker=fn-04000', concurrency: 1, requests: 500, warmup: 50 });
    results.push({ name: 'ListFunctions page of 50 p50 (c1)', value: list.p50, unit: 'ms' });
    results.push({ name: 'ListFunctions page of 50 p99 (c1)', value: list.p99, unit: 'ms' });
    if (get.errors || list.errors) results.push({ name: 'control errors', value: get.errors + list.errors, unit: 'requests' });
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}
