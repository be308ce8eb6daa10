import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';
import { sharedDir, waitFor } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test/async
const WORKERS = 4;

/** A Stratus server in a child process (dist code), on a fixed data dir. */
function startChild(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const script = `
    import { createStratus } from ${JSON.stringify(path.resolve(here, '../../src/app/index.js'))};
    import { modulesWithAsync } from ${JSON.stringify(path.join(here, 'server.js'))};
    const s = await createStratus({ port: 0, host: '127.0.0.1', dataDir: process.argv[1], prewarmPerRuntime: 0 }, modulesWithAsync());
    const { url } = await s.start();
    console.log('LISTENING ' + url);
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script, dataDir], {
    env: { ...process.env, STRATUS_ASYNC_CONCURRENCY: String(WORKERS) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so cleanup can end the environments it started
  });
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c) => {
      out += c;
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]! });
    });
    proc.on('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`)));
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

describe('fault: kill -9 while async events are processing', () => {
  const shared = sharedDir();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-fault-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) killGroup(c);
    fs.rmSync(dataDir, { recursive: true, force: true });
    shared.cleanup();
  });

  test('every accepted event runs at least once after a restart; duplicates only for what was running', { timeout: 240_000 }, async () => {
    const N = 60;
    const out = shared.file('runs.txt');
    const first = await startChild(dataDir);
    children.push(first.proc);
    const lambda = new LambdaClient(clientConfig(first.url));
    const code = `
      const fs = require('node:fs');
      exports.handler = async (event, context) => {
        await new Promise((r) => setTimeout(r, 50));
        fs.appendFileSync(process.env.OUT, context.awsRequestId + '\\n');
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
    // Mid-processing: some ran, not all.
    await waitFor('some events to run', () => shared.lines('runs.txt').length >= 5, 60_000);
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    killGroup(first.proc);
    const ranBefore = new Set(shared.lines('runs.txt'));
    assert.ok(ranBefore.size < N, `the kill must come mid-processing (${ranBefore.size} of ${N} ran)`);

    const second = await startChild(dataDir);
    children.push(second.proc);
    await waitFor('every accepted event to run', () => {
      const ran = new Set(shared.lines('runs.txt'));
      return accepted.every((id) => ran.has(id));
    }, 120_000);
    // Let anything still finishing land, then count duplicates.
    await waitFor('the queue to drain', async () => {
      const r = await fetch(`${second.url}/_stratus/async/events?function=durable&limit=1`);
      const body = (await r.json()) as { counts: Record<string, number> };
      return body.counts.queued + body.counts.running + body.counts.retrying === 0;
    }, 60_000);
    const runs = shared.lines('runs.txt');
    const counts = new Map<string, number>();
    for (const id of runs) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of accepted) assert.ok((counts.get(id) ?? 0) >= 1, `event ${id} never ran`);
    const duplicated = [...counts.entries()].filter(([, n]) => n > 1);
    assert.ok(duplicated.length <= WORKERS, `duplicates (${duplicated.length}) only for the at most ${WORKERS} invocations running at the kill`);
    for (const [id] of duplicated) assert.ok(ranBefore.has(id), 'a duplicate is an invocation that had started before the kill');
    assert.deepEqual([...counts.keys()].filter((id) => !accepted.includes(id)), [], 'nothing unexpected ran');
    killGroup(second.proc);
  });
});
