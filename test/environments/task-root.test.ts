import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { pythonExecutable } from '../../src/environments/runtimes.js';
import { TaskMounter } from '../../src/environments/sandbox/task-root.js';
import { fixture, invocation, isRoot, sleep, type Fixture } from './helpers.js';

// What a function sees of its code, as Lambda shows it: /var/task (LAMBDA_TASK_ROOT, the
// working directory, module paths and stack traces), read-only, holding its own files only.
const NODE = `const fs = require('fs');
exports.handler = async () => {
  let write; try { fs.writeFileSync('/var/task/new', 'x'); write = 'ALLOWED'; } catch (e) { write = e.code; }
  return { root: process.env.LAMBDA_TASK_ROOT, cwd: process.cwd(), file: __filename, files: fs.readdirSync('/var/task').sort(),
    frame: new Error('here').stack.split('\\n')[1].trim(), write, mine: fs.readFileSync('/var/task/mine.txt', 'utf8'),
    maxHeaderSize: require('http').maxHeaderSize, runtimeDir: process.env.LAMBDA_RUNTIME_DIR, entry: process.argv[1],
    nodePath: process.env.NODE_PATH, runtimeFiles: fs.readdirSync('/var/runtime').includes('bootstrap.cjs'),
    requireStack: (() => { try { require('./missing'); } catch (e) { return e.message.split('\\n').slice(1).join('|'); } })() };
};
`;
const PYTHON = `import os, sys, traceback
def handler(event, context):
    try:
        open('/var/task/new', 'w').write('x'); write = 'ALLOWED'
    except OSError as e:
        write = e.strerror
    return {"root": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(), "file": __file__, "files": sorted(os.listdir('/var/task')),
            "frame": traceback.format_stack()[-1].split(',')[0].strip(), "write": write, "mine": open('/var/task/mine.txt').read(),
            "path0": sys.path[0], "pythonpath": os.environ["PYTHONPATH"] == os.environ["LAMBDA_RUNTIME_DIR"], "runtimeDir": os.environ["LAMBDA_RUNTIME_DIR"]}
`;

describe('the code at /var/task', { skip: !isRoot && 'the namespace driver (root) presents code at /var/task' }, async () => {
  const pooled = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
  const cold = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 0 });
  after(async () => { await pooled.stop(); await cold.stop(); });

  async function run(fx: Fixture, runtime: string, handler: string, files: Record<string, string>, name: string) {
    const key = fx.code(files);
    const o = await fx.svc.execute(fx.target(key, { runtime, handler, memorySize: 128 }, name), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    return JSON.parse(o.payload.toString());
  }

  for (const [label, fx] of [['a pooled runtime', pooled], ['a runtime started for the function', cold]] as const) {
    test(`Node.js, ${label}: LAMBDA_TASK_ROOT, cwd, __filename and stack frames at /var/task; read-only; its own files only`, async () => {
      if (fx === pooled) for (let i = 0; i < 100 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
      const coldStarts = fx.svc.stats().prewarm.node.hits;
      // Two functions one after the other: each sees its own code at the same path.
      for (const who of ['first', 'second']) {
        const r = await run(fx, 'nodejs20.x', 'index.handler', { 'index.js': NODE, 'mine.txt': who, [`${who}.txt`]: '' }, `node-${who}-${fx === pooled}`);
        assert.equal(r.root, '/var/task');
        assert.equal(r.cwd, '/var/task');
        assert.equal(r.file, '/var/task/index.js');
        assert.match(r.frame, /^at exports\.handler \(\/var\/task\/index\.js:\d+:\d+\)$/);
        assert.equal(r.write, 'EROFS');
        assert.deepEqual(r.files, [`${who}.txt`, 'index.js', 'mine.txt'].sort());
        assert.equal(r.mine, who);
        // node runs with Lambda's --max-http-header-size.
        assert.equal(r.maxHeaderSize, 81920);
        // The runtime at /var/runtime, as Lambda's: its variables, module paths and require stacks
        // name no host path.
        assert.equal(r.runtimeDir, '/var/runtime');
        assert.equal(r.entry, '/var/runtime/bootstrap.cjs');
        assert.equal(r.nodePath, '/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task');
        assert.equal(r.runtimeFiles, true);
        assert.equal(r.requireStack, 'Require stack:|- /var/task/index.js|- /var/runtime/index.mjs');
      }
      if (fx === pooled) assert.ok(fx.svc.stats().prewarm.node.hits > coldStarts, 'a pooled runtime took one of them');
      // ...and was given it: none was replaced by a runtime started for the function.
      assert.deepEqual(fx.svc.stats().pooledStartFailures, { count: 0, last: null });
    });

    test(`Python, ${label}`, { skip: !pythonExecutable() && 'no python3' }, async () => {
      if (fx === pooled) for (let i = 0; i < 150 && fx.svc.stats().prewarm.python.ready < 1; i++) await sleep(20);
      const hits = fx.svc.stats().prewarm.python.hits;
      const r = await run(fx, 'python3.12', 'app.handler', { 'app.py': PYTHON, 'mine.txt': 'py' }, `py-${fx === pooled}`);
      if (fx === pooled) assert.equal(fx.svc.stats().prewarm.python.hits, hits + 1, 'a pooled runtime took it');
      assert.deepEqual(fx.svc.stats().pooledStartFailures, { count: 0, last: null });
      assert.deepEqual(r, {
        root: '/var/task', cwd: '/var/task', file: '/var/task/app.py', files: ['app.py', 'mine.txt'],
        frame: 'File "/var/task/app.py"', write: 'Read-only file system', mine: 'py',
        // Lambda: PYTHONPATH is $LAMBDA_RUNTIME_DIR; the task root comes first on sys.path.
        path0: '/var/task', pythonpath: true, runtimeDir: '/var/runtime',
      });
    });
  }

  test('a pooled runtime taken the moment it is spawned: its code is bound in its own namespace, never in the host\'s', async () => {
    // The pool hands a runtime out as soon as it is spawned, before its launcher has made its
    // mount namespace (or made it private). A bind then would land on the host's /var/task.
    const hostMounts = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/var/task');
    const before = hostMounts().length;
    for (let i = 0; i < 4; i++) {
      const fx = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
      try {
        // Ready means spawned: take it at once.
        for (let n = 0; n < 100_000 && fx.svc.stats().prewarm.node.ready < 1; n++) await new Promise((r) => setImmediate(r));
        const r = await run(fx, 'nodejs20.x', 'index.handler', { 'index.js': NODE, 'mine.txt': `at once ${i}` }, `at-once-${i}`);
        assert.equal(r.mine, `at once ${i}`);
        assert.equal(fx.svc.stats().prewarm.node.hits, 1, 'the pooled runtime took it');
        assert.deepEqual(fx.svc.stats().pooledStartFailures, { count: 0, last: null }, 'and was given the function');
      } finally {
        await fx.stop();
      }
      assert.equal(hostMounts().length, before, 'nothing mounted on the host\'s /var/task');
    }
  });

  test('a pooled runtime whose code cannot be bound once it has its assignment is discarded; one started for the function answers', async () => {
    const fx = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
    const present = TaskMounter.prototype.present;
    let launcher = 0;
    // The bind fails after the runtime got its assignment (it is written while the bind runs).
    TaskMounter.prototype.present = async function (pid: number) {
      launcher = pid;
      await sleep(100);
      throw new Error('binding the code at /var/task failed: errno 5');
    };
    try {
      for (let n = 0; n < 500 && fx.svc.stats().prewarm.node.ready < 1; n++) await sleep(10);
      const r = await run(fx, 'nodejs20.x', 'index.handler', { 'index.js': NODE, 'mine.txt': 'fallback' }, 'bind-fails');
      assert.equal(r.mine, 'fallback');
      assert.equal(r.root, '/var/task');
      assert.equal(fx.svc.stats().prewarm.node.hits, 1, 'the pooled runtime was taken');
      assert.deepEqual(fx.svc.stats().pooledStartFailures, { count: 1, last: 'binding the code at /var/task failed: errno 5' });
      assert.ok(launcher > 0);
      for (let i = 0; i < 100 && fs.existsSync(`/proc/${launcher}`); i++) await sleep(20);
      assert.equal(fs.existsSync(`/proc/${launcher}`), false, 'the pooled runtime is gone');
      // Its one log stream is the started runtime's: the pooled one logged nothing.
      assert.equal(fx.sink.streams().length, 1);
      assert.equal(fx.sink.text().split('INIT_START').length - 1, 1);
    } finally {
      TaskMounter.prototype.present = present;
      await fx.stop();
    }
  });

  test('the mounter never binds in the server\'s own mount namespace, nor for a process that is not the server\'s child', { skip: !pythonExecutable() && 'no python3' }, async () => {
    const m = await TaskMounter.start(pythonExecutable(), 200);
    assert.notEqual(typeof m, 'string', String(m));
    const mounter = m as TaskMounter;
    const host = spawn('sleep', ['30']);
    try {
      const before = fs.readFileSync('/proc/self/mountinfo', 'utf8');
      await assert.rejects(mounter.present(host.pid!, '/usr'), /no mount namespace of its own/);
      // Not the server's own child: refused whatever its namespace.
      await assert.rejects(mounter.present(process.ppid, '/usr'), /process is gone/);
      assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), before);
    } finally {
      host.kill('SIGKILL');
      await mounter.stop();
    }
  });

  test('a mounter that died is started again at the next request', { skip: !pythonExecutable() && 'no python3' }, async () => {
    const m = await TaskMounter.start(pythonExecutable(), 2000);
    assert.notEqual(typeof m, 'string', String(m));
    const mounter = m as TaskMounter;
    // A process in a mount namespace of its own, as an environment's launcher is.
    const env = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '30']);
    try {
      const first = mounter.pid!;
      process.kill(first, 'SIGKILL');
      for (let i = 0; i < 100 && fs.existsSync(`/proc/${first}`); i++) await sleep(20);
      await mounter.present(env.pid!, '/usr');
      assert.notEqual(mounter.pid, first);
      const mounts = fs.readFileSync(`/proc/${env.pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/var/task');
      assert.equal(mounts.length, 1, 'the code bound once, in that namespace');
      assert.match(mounts[0]!, /^\S+ \S+ \S+ \/usr \/var\/task ro,nosuid,nodev/);
    } finally {
      env.kill('SIGKILL');
      await mounter.stop();
    }
  });

  test('the code\'s path hidden for a moment (the environment\'s mount table still going up): the mounter waits for it', { skip: !pythonExecutable() && 'no python3' }, async () => {
    const m = await TaskMounter.start(pythonExecutable(), 2000);
    assert.notEqual(typeof m, 'string', String(m));
    const mounter = m as TaskMounter;
    // As an environment's launcher: a tmpfs over the directory the code is under, bound back
    // ~150 ms later (here: the tmpfs is taken away).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-hidden-'));
    fs.mkdirSync(path.join(dir, 'code'));
    fs.writeFileSync(path.join(dir, 'code', 'index.js'), '');
    const env = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs hide ${dir} && sleep 0.15 && umount ${dir} && sleep 30`]);
    try {
      for (let i = 0; i < 200 && !fs.readFileSync(`/proc/${env.pid}/mountinfo`, 'utf8').includes(` ${dir} `); i++) await sleep(2);
      await mounter.present(env.pid!, path.join(dir, 'code'));
      const mounts = fs.readFileSync(`/proc/${env.pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/var/task');
      assert.equal(mounts.length, 1, 'the code bound once it could be seen');
    } finally {
      env.kill('SIGKILL');
      await mounter.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a custom runtime: its bootstrap runs as /var/task/bootstrap, in /var/task', async () => {
    const bootstrap = `#!/bin/bash
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  touch /var/task/new 2>/dev/null && w=ALLOWED || w=denied
  curl -sS -o /dev/null -X POST -d "{\\"root\\":\\"$LAMBDA_TASK_ROOT\\",\\"cwd\\":\\"$PWD\\",\\"self\\":\\"$0\\",\\"files\\":\\"$(ls /var/task | tr '\\n' ' ')\\",\\"write\\":\\"$w\\"}" "$api/$id/response"
done
`;
    const key = cold.code({ bootstrap: { text: bootstrap, mode: 0o755 }, 'mine.txt': 'x' });
    const o = await cold.svc.execute(cold.target(key, { runtime: 'provided.al2023', handler: 'h', memorySize: 256 }, 'custom'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.deepEqual(JSON.parse(o.payload.toString()), { root: '/var/task', cwd: '/var/task', self: '/var/task/bootstrap', files: 'bootstrap mine.txt ', write: 'denied' });
  });
});
