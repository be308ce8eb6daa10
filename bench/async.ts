import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import yazl from 'yazl';
import { load, printResults, repoRoot, type BenchResult } from './lib.js';

/**
 * Asynchronous invocation throughput, each beside a baseline measured in the same run:
 *  - accept rate: durable 202s per second for InvocationType Event (group-committed SQLite writes),
 *    against a bare SQLite insert + commit loop (one transaction per row, same pragmas);
 *  - end-to-end completion rate for a no-op function: events accepted and run to completion per
 *    second, from the first accept to the last completion (no event lost).
 */
export async function benchAsync(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const baseline = sqliteInsertCommitRate();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-async-'));
  const server = await startServer(dataDir);
  try {
    const lambda = new LambdaClient({
      endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1,
    });
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'noop', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/bench',
      // 1769 MB is one full vCPU in Lambda's model (as in the invoke benchmark): at 128 MB the
      // function's CPU quota, not Stratus, would be measured.
      MemorySize: 1769,
      Code: { ZipFile: await zip({ 'index.js': 'exports.handler = async () => null;' }) },
    }));
    lambda.destroy();

    const requests = 20_000;
    const warmup = 1_000;
    const cpu0 = treeCpu(server.proc.pid!);
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
    const cpu1 = treeCpu(server.proc.pid!);
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
    const cpu2 = treeCpu(server.proc.pid!);
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
    await stopChild(server.proc);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

/**
 * CPU seconds used so far by a process (`server`) and by every live process below it (`functions`:
 * runtimes and their sandbox wrappers), from /proc (Linux; zeros elsewhere).
 */
function treeCpu(root: number): { server: number; functions: number } {
  const hz = 100; // USER_HZ
  const stats = new Map<number, { ppid: number; cpu: number }>();
  try {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const text = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
        stats.set(Number(name), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / hz });
      } catch {
        /* gone */
      }
    }
  } catch {
    return { server: 0, functions: 0 };
  }
  const children = new Map<number, number[]>();
  for (const [pid, st] of stats) children.set(st.ppid, [...(children.get(st.ppid) ?? []), pid]);
  let functions = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    functions += stats.get(pid)?.cpu ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return { server: stats.get(root)?.cpu ?? 0, functions };
}

function perEvent(cpuSeconds: number, events: number): string {
  return events > 0 ? `${Math.round((cpuSeconds * 1e6) / events)} us` : 'n/a';
}

/** Rows per second of a bare better-sqlite3 loop: one INSERT + COMMIT per row, WAL, synchronous=NORMAL. */
function sqliteInsertCommitRate(): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-sqlite-'));
  try {
    const db = new Database(path.join(dir, 'b.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE q (id TEXT PRIMARY KEY, body BLOB, meta TEXT, at INTEGER, visible_at INTEGER)');
    const insert = db.prepare('INSERT INTO q VALUES (?, ?, ?, ?, ?)');
    const body = Buffer.from('{"bench":true}');
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      db.exec('BEGIN');
      insert.run(`id-${i}`, body, '{"attempts":0}', i, i);
      db.exec('COMMIT');
    }
    const rate = n / ((performance.now() - t0) / 1000);
    db.close();
    return rate;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A Stratus server in a child process with the async module (added when the composition root does not list it). */
async function startServer(dataDir: string): Promise<{ proc: ChildProcess; port: number; url: string }> {
  const dist = path.join(repoRoot, 'dist/src');
  const script = `
    import { createStratus } from ${JSON.stringify(path.join(dist, 'app/index.js'))};
    import { featureModules } from ${JSON.stringify(path.join(dist, 'app/modules.js'))};
    import { SqlEventQueue } from ${JSON.stringify(path.join(dist, 'adapters/sql/event-queue.js'))};
    import { asyncInvokeModule } from ${JSON.stringify(path.join(dist, 'invoke/async/index.js'))};
    const mods = featureModules();
    if (!mods.some((m) => m.name === 'async-invoke')) mods.push(asyncInvokeModule({ queue: (ctx) => new SqlEventQueue(ctx.sql) }));
    const s = await createStratus({ port: 0, host: '127.0.0.1', dataDir: process.argv[1] }, mods);
    const { url } = await s.start();
    console.log('LISTENING ' + url);
    process.on('SIGTERM', async () => { await s.stop(); process.exit(0); });
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c) => {
      out += c;
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (code) => reject(new Error(`bench server exited (${code}) before listening`)));
  });
  return { proc, url, port: Number(new URL(url).port) };
}

function stopChild(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

function zip(files: Record<string, string>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) z.addBuffer(Buffer.from(content), name, { mode: 0o644 });
  z.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    z.outputStream.on('error', reject);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printResults('async invocation', await benchAsync());
}
