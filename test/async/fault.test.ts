import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig, sharedConfig } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';
import { sharedDir, waitFor } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test/async
const bin = path.resolve(here, '../../../bin/stratus.js');
const WORKERS = 4;

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** `stratus up` in a child process (its own process group), on a fixed data dir. */
function startChild(dataDir: string): Promise<Child> {
  const env: NodeJS.ProcessEnv = { ...process.env, STRATUS_ASYNC_CONCURRENCY: String(WORKERS), STRATUS_PREWARM: '0', STRATUS_SHARED_DIRS: (sharedConfig().sharedDirs ?? []).join(':') };
  delete env.STRATUS_PORT;
  const proc = spawn(process.execPath, [bin, 'up', '--port', '0', '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so cleanup can end whatever it started
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c) => {
      out += c;
      const m = /Stratus listening on (\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]!, exited });
    });
    proc.once('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`)));
  });
}

function killGroup(proc: ChildProcess | undefined): void {
  if (!proc?.pid) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** kill -9 of the server process itself (nothing else first), then of what it left behind. */
async function kill9(c: Child): Promise<void> {
  c.proc.kill('SIGKILL');
  await c.exited;
  assert.equal(c.proc.signalCode, 'SIGKILL');
  killGroup(c.proc);
}

/** What the durable queue holds, read straight from the SQLite file of a dead server. */
function queueStates(dataDir: string): Map<string, string> {
  const db = new Database(path.join(dataDir, 'stratus.db'));
  try {
    const rows = db.prepare("select id, state from event_queue where queue = 'async' and grp = 'durable'").all() as { id: string; state: string }[];
    return new Map(rows.map((r) => [r.id, r.state]));
  } finally {
    db.close();
  }
}

describe('fault: kill -9 of the server while async events are queued and running', () => {
  const shared = sharedDir();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-fault-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) killGroup(c);
    fs.rmSync(dataDir, { recursive: true, force: true });
    shared.cleanup();
  });

  test('every accepted event runs at least once; duplicates only for what was running at a kill', { timeout: 240_000 }, async (t) => {
    const N = 60;
    const out = shared.file('runs.txt');
    const first = await startChild(dataDir);
    children.push(first.proc);
    const lambda = new LambdaClient(clientConfig(first.url));
    // One line when an invocation starts, one when it ends.
    const code = `
      const fs = require('node:fs');
      exports.handler = async (event, context) => {
        fs.appendFileSync(process.env.OUT, 'start ' + context.awsRequestId + '\\n');
        await new Promise((r) => setTimeout(r, 150));
        fs.appendFileSync(process.env.OUT, 'end ' + context.awsRequestId + '\\n');
        return event.i;
      };`;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'durable', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/x',
      Code: { ZipFile: await makeZip({ 'index.js': code }) }, Environment: { Variables: { OUT: out } }, Timeout: 30,
    }));
    const accepted: string[] = [];
    for (let i = 0; i < N; i++) {
      const res = await lambda.send(new InvokeCommand({ FunctionName: 'durable', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ i })) }));
      assert.equal(res.StatusCode, 202);
      accepted.push(res.$metadata.requestId!);
    }
    lambda.destroy();

    // Kill 1: right after the last 202. Every accepted event is already in the durable queue.
    await kill9(first);
    const atKill1 = queueStates(dataDir);
    for (const id of accepted) assert.ok(atKill1.has(id), `accepted event ${id} is in the queue after kill -9`);
    const running1 = new Set([...atKill1].filter(([, s]) => s === 'running').map(([id]) => id));

    // Kill 2: mid-processing, once more events ran after the restart.
    const second = await startChild(dataDir);
    children.push(second.proc);
    const ends = () => shared.lines('runs.txt').filter((l) => l.startsWith('end ')).length;
    const endsBefore = ends();
    await waitFor('some events to run after the restart', () => ends() >= endsBefore + 8, 60_000);
    await kill9(second);
    const atKill2 = queueStates(dataDir);
    const running2 = new Set([...atKill2].filter(([, s]) => s === 'running').map(([id]) => id));
    const done2 = [...atKill2].filter(([, s]) => s === 'succeeded').length;
    assert.ok(done2 < N, `the second kill came mid-processing (${done2} of ${N} had finished)`);
    // In flight: running in one of the WORKERS, or run and awaiting its group-committed
    // acknowledgement (the engine bounds those to 4 x WORKERS).
    assert.ok(running2.size > 0 && running2.size <= 5 * WORKERS, `${running2.size} events were in flight at the second kill`);

    const third = await startChild(dataDir);
    children.push(third.proc);
    await waitFor('the queue to drain', async () => {
      const r = await fetch(`${third.url}/_stratus/async/events?function=durable&limit=1`);
      const body = (await r.json()) as { counts: Record<string, number> };
      return body.counts.queued + body.counts.running + body.counts.retrying === 0 && body.counts.succeeded === N;
    }, 120_000);
    await kill9(third);

    const lines = shared.lines('runs.txt');
    const count = (kind: string) => {
      const m = new Map<string, number>();
      for (const l of lines) if (l.startsWith(`${kind} `)) m.set(l.slice(kind.length + 1), (m.get(l.slice(kind.length + 1)) ?? 0) + 1);
      return m;
    };
    const starts = count('start');
    const endsBy = count('end');
    for (const id of accepted) assert.ok((endsBy.get(id) ?? 0) >= 1, `event ${id} ran to completion at least once`);
    assert.deepEqual([...starts.keys()].filter((id) => !accepted.includes(id)), [], 'nothing unexpected ran');
    const inFlight = new Set([...running1, ...running2]);
    for (const [id, n] of starts) {
      if (n > 1) assert.ok(inFlight.has(id), `event ${id} ran ${n} times but was not running at either kill`);
      assert.ok(n <= 1 + (running1.has(id) ? 1 : 0) + (running2.has(id) ? 1 : 0), `event ${id} ran ${n} times`);
    }
    const dups = [...starts.values()].filter((n) => n > 1).length;
    t.diagnostic(`running at kill 1: ${running1.size}, at kill 2: ${running2.size}; events run more than once: ${dups}`);
    const final = queueStates(dataDir);
    for (const id of accepted) assert.equal(final.get(id), 'succeeded');
  });
});
