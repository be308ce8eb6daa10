import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** One line of the benchmark report: a value, and where there is one, the same-run baseline. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  /** value / baseline (for throughput: share of the baseline; for latency: times the baseline). */
  ratio?: number;
  note?: string;
}

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export interface LoadResult {
  requests: number;
  seconds: number;
  throughput: number; // requests per second
  p50: number; // ms
  p99: number; // ms
  errors: number;
  statuses: Record<number, number>;
}

/**
 * Closed-loop HTTP/1.1 load over keep-alive sockets with a minimal hand-written client, so the
 * client costs as little CPU as possible and the measurement is of the server.
 */
export async function load(opts: {
  port: number;
  host?: string;
  method?: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  concurrency: number;
  requests: number;
  warmup?: number;
}): Promise<LoadResult> {
  const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
  const head =
    `${opts.method ?? 'POST'} ${opts.path} HTTP/1.1\r\nHost: ${opts.headers?.host ?? `${opts.host ?? '127.0.0.1'}:${opts.port}`}\r\n` +
    Object.entries(opts.headers ?? {})
      .filter(([k]) => k.toLowerCase() !== 'host')
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    `Content-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`;
  const request = Buffer.concat([Buffer.from(head), body]);
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  let issued = 0;
  const total = opts.requests + (opts.warmup ?? 0);
  const warm = opts.warmup ?? 0;
  let t0 = 0;
  let tStart = 0;

  const worker = () =>
    new Promise<void>((resolve) => {
      const sock = net.connect(opts.port, opts.host ?? '127.0.0.1');
      sock.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let myIndex = 0;
      const next = () => {
        if (issued >= total) {
          sock.end();
          resolve();
          return;
        }
        myIndex = issued++;
        if (myIndex === warm) tStart = performance.now();
        sentAt = performance.now();
        sock.write(request);
      };
      sock.on('connect', next);
      sock.on('error', () => {
        errors++;
        resolve();
      });
      sock.on('data', (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headText = buf.subarray(0, end).toString('latin1');
          const m = /content-length:\s*(\d+)/i.exec(headText);
          const len = m ? Number(m[1]) : 0;
          if (buf.length < end + 4 + len) return;
          const status = Number(headText.slice(9, 12));
          buf = buf.subarray(end + 4 + len);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status >= 400) errors++;
          if (myIndex >= warm) latencies.push(performance.now() - sentAt);
          next();
        }
      });
    });

  t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - (tStart || t0)) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    throughput: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    statuses,
  };
}

/**
 * `load` at steady state: rounds of the same load are run until a round's throughput is within
 * `tolerance` of the round before (at most `maxRounds` warm-up rounds), then the measured round.
 * Both a subject and its baseline are measured this way: a node process needs thousands of
 * requests before its hot path is optimized (a raw node:http server measured 31k req/s after 300
 * requests and 54k after 4,000 on this machine), and so does every runtime of an environment.
 */
export async function loadSteady(
  opts: Parameters<typeof load>[0],
  steady: { tolerance?: number; maxRounds?: number; beforeMeasured?: () => void } = {},
): Promise<LoadResult & { warmupRounds: number }> {
  const tolerance = steady.tolerance ?? 0.05;
  const maxRounds = steady.maxRounds ?? 8;
  let previous = 0;
  let rounds = 0;
  while (rounds < maxRounds) {
    const r = await load({ ...opts, warmup: rounds === 0 ? opts.warmup : 0 });
    rounds++;
    if (previous > 0 && Math.abs(r.throughput - previous) / previous <= tolerance) break;
    previous = r.throughput;
  }
  steady.beforeMeasured?.();
  return { ...(await load({ ...opts, warmup: 0 })), warmupRounds: rounds };
}

/**
 * `loadSteady` with the CPU the measured round cost per request: the server process, every
 * process below it (environments or relay workers, with their sandbox wrappers), and this
 * process (the load generator).
 */
export async function loadSteadyWithCpu(pid: number, opts: Parameters<typeof load>[0]): Promise<LoadResult & { warmupRounds: number; cpu: string }> {
  let before = { server: 0, functions: 0 };
  let self = process.cpuUsage();
  const r = await loadSteady(opts, { beforeMeasured: () => { before = treeCpu(pid); self = process.cpuUsage(); } });
  const after = treeCpu(pid);
  const mine = process.cpuUsage(self);
  const n = r.requests;
  const cpu = `CPU per request: server ${perEvent(after.server - before.server, n)}, processes below it ${perEvent(after.functions - before.functions, n)}, load generator ${perEvent((mine.user + mine.system) / 1e6, n)}`;
  return { ...r, cpu };
}

export interface ChildServer {
  port: number;
  url: string;
  proc: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `stratus up --port 0` in a child process (the server gets its own CPU scheduling). */
export async function startStratusChild(opts: { dataDir?: string; env?: Record<string, string>; args?: string[]; nodeArgs?: string[] } = {}): Promise<ChildServer & { dataDir: string }> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-'));
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(repoRoot, 'bin/stratus.js'), 'up', '--port', '0', '--data-dir', dataDir, ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await waitForLine(proc, /Stratus listening on http:\/\/[^:]+:(\d+)/);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    pid: proc.pid!,
    dataDir,
    stop: () => stopChild(proc, () => fs.rmSync(dataDir, { recursive: true, force: true })),
  };
}

/** A raw node:http hello server in a child process: the baseline for HTTP-path benchmarks. */
export function startRawHello(): Promise<ChildServer> {
  const code = `
    const http = require('node:http');
    const s = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = '"hello"';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    s.keepAliveTimeout = 65000;
    s.listen(0, '127.0.0.1', () => console.log('Stratus listening on http://127.0.0.1:' + s.address().port));
  `;
  return startNodeServer(code);
}

/**
 * The floor of any design that runs each concurrent invocation in its own process, as Lambda's
 * model and isolation require: a node:http server relaying every request body to one of
 * `processes` long-lived node worker processes over a pipe (the idle one most recently used, as
 * warm environments are reused) and answering with what the worker writes back. No Runtime API,
 * no HTTP parsing in the worker, no sandbox, no logs, no bookkeeping: only the process hop.
 */
export function startMinimalRelay(processes: number): Promise<ChildServer> {
  const code = `${relayFront('(w, body) => w.stdin.write(body)')}
    const { spawn } = require('node:child_process');
    const worker = "process.stdin.on('data', () => process.stdout.write('\\"hello\\"'));";
    for (let i = 0; i < ${processes}; i++) {
      const w = spawn(process.execPath, ['-e', worker], { stdio: ['pipe', 'pipe', 'inherit'] });
      w.stdout.on('data', (out) => { const cb = w.cb; w.cb = null; release(w); cb(out); });
      idle.push(w);
    }
    listen();
  `;
  return startNodeServer(code);
}

/**
 * Relay code: the node:http front of both relays. Each request body goes to an idle worker `w`
 * (the most recently used) through `dispatch(w, body)`, queued while none is idle; the worker's
 * answer comes back through `w.cb(out)`, and `release(w)` makes it idle again. `listen()` starts
 * serving.
 */
function relayFront(dispatch: string): string {
  return `
    const idle = [];
    const waiting = [];
    const release = (w) => { const next = waiting.shift(); if (next) next(w); else idle.push(w); };
    const dispatch = ${dispatch};
    const s = require('node:http').createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length ? Buffer.concat(chunks) : Buffer.from('{}');
        const run = (w) => {
          w.cb = (out) => {
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
            res.end(out);
          };
          dispatch(w, body);
        };
        const w = idle.pop();
        if (w) run(w); else waiting.push(run);
      });
    });
    s.keepAliveTimeout = 65000;
    const listen = () => s.listen(0, '127.0.0.1', () => console.log('Stratus listening on http://127.0.0.1:' + s.address().port));`;
}

/** Relay code: `messages(onMessage)` makes a 'data' listener calling onMessage(head, body) per HTTP/1.1 message (Content-Length bodies). */
const MESSAGE_READER = `
    const messages = (onMessage) => {
      let buf = Buffer.alloc(0);
      return (d) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        for (;;) {
          const e = buf.indexOf('\\r\\n\\r\\n');
          if (e < 0) return;
          const head = buf.latin1Slice(0, e);
          const m = /content-length: (\\d+)/i.exec(head);
          const len = m ? Number(m[1]) : 0;
          if (buf.length < e + 4 + len) return;
          const body = buf.subarray(e + 4, e + 4 + len);
          buf = buf.subarray(e + 4 + len);
          onMessage(head, body);
        }
      };
    };`;

/**
 * The floor of any design that serves the Lambda Runtime API (HTTP/1.1) to process-per-invocation
 * runtimes: `startMinimalRelay`, plus the Runtime API between the server and each worker. Every
 * worker is a node process with a minimal hand-written client on a Unix socket that posts its
 * result and asks for the next event in one write (as Stratus's Node runtime does); the server
 * parses those requests with a minimal parser and answers the result's 202 together with the
 * next event (as Stratus does). No sandbox, logs, limits, admission or bookkeeping.
 * With `stratusRuntime`, the workers are Stratus's own Node.js runtime instead (stratusNodeWorker).
 */
export function startRuntimeApiRelay(processes: number, opts: { stratusRuntime?: boolean } = {}): Promise<ChildServer> {
  const sock = path.join(os.tmpdir(), `stratus-rapi-relay-${process.pid}-${Date.now()}.sock`);
  const worker = `${MESSAGE_READER}
    const s = require('node:net').connect(${JSON.stringify(sock)});
    const NEXT = 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: rapi\\r\\nContent-Length: 0\\r\\n\\r\\n';
    s.write(NEXT);
    s.on('data', messages((head, body) => {
      if (head.startsWith('HTTP/1.1 202')) return;
      const id = /lambda-runtime-aws-request-id: (\\S+)/i.exec(head)[1];
      JSON.parse(body.toString());
      const out = JSON.stringify('hello');
      s.write('POST /2018-06-01/runtime/invocation/' + id + '/response HTTP/1.1\\r\\nHost: rapi\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + Buffer.byteLength(out) + '\\r\\n\\r\\n' + out + NEXT);
    }));`;
  const taskRoot = opts.stratusRuntime ? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-relay-task-')) : null;
  const spawnWorker = taskRoot ? stratusNodeWorker(taskRoot)
    : `spawn(process.execPath, ['-e', ${JSON.stringify(worker)}], { stdio: ['ignore', 'inherit', 'inherit'] })`;
  const dispatch = `(w, body) => {
      const head = (w.ack ? ACK : '') + 'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nLambda-Runtime-Aws-Request-Id: ' + crypto.randomUUID() +
        '\\r\\nLambda-Runtime-Deadline-Ms: ' + (Date.now() + 3000) + '\\r\\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:hello' +
        '\\r\\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n';
      w.ack = false;
      w.c.cork(); w.c.write(head, 'latin1'); w.c.write(body); w.c.uncork();
    }`;
  const code = `${MESSAGE_READER}${relayFront(dispatch)}
    const net = require('node:net');
    const { spawn } = require('node:child_process');
    const crypto = require('node:crypto');
    const ACK = 'HTTP/1.1 202 Accepted\\r\\nContent-Type: application/json\\r\\nContent-Length: 15\\r\\n\\r\\n{"status":"OK"}';
    const rapi = net.createServer((c) => {
      const w = { c, cb: null, ack: false };
      c.on('data', messages((head, body) => {
        if (head.startsWith('GET /2018-06-01/runtime/invocation/next ')) release(w);
        else if (head.startsWith('POST ') && w.cb) { const cb = w.cb; w.cb = null; w.ack = true; cb(Buffer.from(body)); }
      }));
    });
    rapi.listen(${JSON.stringify(sock)}, () => {
      for (let i = 0; i < ${processes}; i++) ${spawnWorker};
    });
    // Serves once every worker has asked for its first event.
    const wait = () => idle.length === ${processes} ? listen() : setTimeout(wait, 20);
    wait();
    process.on('SIGTERM', () => process.exit(0));
    process.on('exit', () => { try { require('node:fs').unlinkSync(${JSON.stringify(sock)}); } catch {} });
  `;
  return startNodeServer(code).then((server) => ({
    ...server,
    stop: () => server.stop().finally(() => { if (taskRoot) fs.rmSync(taskRoot, { recursive: true, force: true }); }),
  }));
}

/**
 * Relay code spawning one of Stratus's own Node.js runtimes (runtimes/nodejs) as a worker of
 * startRuntimeApiRelay: booted as the execution service boots it, handed a hello function by the
 * same one-line assignment, its Runtime API on its own channel (_STRATUS_API_FD) as Stratus gives
 * it. No sandbox, no log descriptor: what the runtime itself costs beside the minimal client.
 */
function stratusNodeWorker(taskRoot: string): string {
  fs.writeFileSync(path.join(taskRoot, 'index.js'), "exports.handler = async () => 'hello';\n");
  const assignment = JSON.stringify({
    uid: null,
    taskRoot,
    env: {
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9', _HANDLER: 'index.handler', LAMBDA_TASK_ROOT: taskRoot,
      AWS_LAMBDA_FUNCTION_NAME: 'hello', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/hello', AWS_LAMBDA_LOG_STREAM_NAME: 'relay', TZ: ':UTC',
    },
  });
  const bootstrap = path.join(repoRoot, 'runtimes/nodejs/bootstrap.cjs');
  return `(() => {
      const c = spawn(process.execPath, [${JSON.stringify(bootstrap)}], { stdio: ['pipe', 'inherit', 'inherit', 'pipe'], env: { PATH: process.env.PATH, _STRATUS_API_FD: '3' } });
      rapi.emit('connection', c.stdio[3]);
      c.stdin.end(${JSON.stringify(assignment + '\n')});
    })()`;
}

/** Runs `code` (a node:http server that prints its listening line) in a child node process. */
async function startNodeServer(code: string): Promise<ChildServer> {
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await waitForLine(proc, /listening on http:\/\/[^:]+:(\d+)/);
  return { port, url: `http://127.0.0.1:${port}`, proc, pid: proc.pid!, stop: () => stopChild(proc) };
}

function waitForLine(proc: ChildProcess, re: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = re.exec(out);
      if (m) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${out}`)));
  });
}

function stopChild(proc: ChildProcess, after?: () => void): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) {
      after?.();
      resolve();
      return;
    }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => {
      clearTimeout(timer);
      after?.();
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/**
 * The durability baseline of the queue benchmarks: single-row INSERT + COMMIT transactions per
 * second into a SQLite file with the embedded store's pragmas (WAL, synchronous=NORMAL), into a
 * table shaped like the one the benchmark's subject writes.
 */
export function sqliteInsertCommitRate(table: { create: string; insert: string; row: (i: number) => unknown[] }): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-sqlite-'));
  try {
    const db = new Database(path.join(dir, 'b.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(table.create);
    const insert = db.prepare(table.insert);
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      db.exec('BEGIN');
      insert.run(...table.row(i));
      db.exec('COMMIT');
    }
    const rate = n / ((performance.now() - t0) / 1000);
    db.close();
    return rate;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU seconds used so far by a process (`server`) and by every live process below it (`functions`:
 * runtimes and their sandbox wrappers), from /proc (Linux; zeros elsewhere).
 */
export function treeCpu(root: number): { server: number; functions: number } {
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

export function perEvent(cpuSeconds: number, events: number): string {
  return events > 0 ? `${Math.round((cpuSeconds * 1e6) / events)} us` : 'n/a';
}

/** Private (unshared) memory of a process tree in MiB, from /proc/PID/smaps_rollup, and PSS. */
export function processMemory(pid: number): { privateMiB: number; pssMiB: number; rssMiB: number } {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return {
    privateMiB: (kb('Private_Clean') + kb('Private_Dirty')) / 1024,
    pssMiB: kb('Pss') / 1024,
    rssMiB: kb('Rss') / 1024,
  };
}

export function printResults(title: string, results: BenchResult[]): void {
  console.log(`\n## ${title}`);
  for (const r of results) {
    const base = r.baseline !== undefined ? `  baseline ${fmt(r.baseline)} ${r.unit}` : '';
    const ratio = r.ratio !== undefined ? `  ratio ${r.ratio.toFixed(3)}` : '';
    const note = r.note ? `  (${r.note})` : '';
    console.log(`${r.name.padEnd(58)} ${fmt(r.value).padStart(10)} ${r.unit}${base}${ratio}${note}`);
  }
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}
