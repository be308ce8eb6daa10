import assert from 'node:assert/strict';
import os from 'node:os';
import { after, describe, test } from 'node:test';
import { LOG_CAP_BYTES } from '../../src/environments/index.js';
import { nodeThreadFlags } from '../../src/environments/runtimes.js';
import { bashFunction, fixture, invocation, isRoot, sleep } from './helpers.js';

const fx = await fixture();
after(() => fx.stop());

describe('limits', () => {
  test('memory over the limit: Runtime.OutOfMemory, signal: killed', { skip: !isRoot && 'memory cgroup needs root (namespace driver)' }, async () => {
    // bash itself (the runtime process) grows past 128 MB
    const key = fx.code(bashFunction('x=aaaaaaaa; while :; do x="$x$x"; done'));
    const t = fx.target(key, { memorySize: 128, timeout: 60 }, 'oom');
    const inv = invocation('{}');
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'error', o.payload.toString());
    assert.equal(o.errorType, 'Runtime.OutOfMemory');
    assert.deepEqual(JSON.parse(o.payload.toString()), {
      errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${inv.requestId} Error: Runtime exited with error: signal: killed`,
    });
    assert.ok(o.maxMemoryUsedMB >= 100 && o.maxMemoryUsedMB <= 130, `max memory ${o.maxMemoryUsedMB}`);
    // Only the runtime's output and Lambda's lines: nothing of the sandbox's own shell ("Killed").
    const logged = fx.sink.events.filter((e) => e.group === '/aws/lambda/oom').map((e) => e.e.message);
    assert.ok(logged.some((m) => m.includes('Runtime exited with error: signal: killed')), logged.join(''));
    assert.ok(!logged.some((m) => /^(Killed|Terminated)\b/.test(m)), logged.join(''));
    const o2 = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o2.coldStart, true, 'the environment was replaced');
  });

  test('a child killed for its memory leaves the runtime\'s own later deaths what they are: Runtime.ExitError, not Runtime.OutOfMemory', { skip: !isRoot && 'memory cgroup needs root (namespace driver)' }, async () => {
    const key = fx.code({
      'index.js': `const { spawnSync } = require('node:child_process');
exports.handler = async (e) => {
  if (e.child) return spawnSync(process.execPath, ['-e', 'Buffer.alloc(400 * 2 ** 20, 1)']).signal;
  if (e.exit) process.exit(3);
  if (e.kill) process.kill(process.pid, 'SIGKILL');
  return 'ok';
};\n`,
    });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256, timeout: 30 }, 'childoom');
    const child = await fx.svc.execute(t, invocation('{"child":true}'));
    assert.equal(child.status, 'ok', child.payload.toString());
    assert.equal(child.payload.toString(), '"SIGKILL"', 'the child was killed for its memory; the runtime lives on');
    const exited = await fx.svc.execute(t, invocation('{"exit":true}'));
    assert.equal(exited.coldStart, false);
    assert.equal(exited.errorType, 'Runtime.ExitError', exited.payload.toString());
    assert.match(exited.payload.toString(), /Runtime exited with error: exit status 3/);
    // The same after the reset, with a child killed in this environment too, and a runtime that kills itself.
    assert.equal((await fx.svc.execute(t, invocation('{"child":true}'))).payload.toString(), '"SIGKILL"');
    const killed = await fx.svc.execute(t, invocation('{"kill":true}'));
    assert.equal(killed.errorType, 'Runtime.ExitError', killed.payload.toString());
    assert.match(killed.payload.toString(), /Runtime exited with error: signal: killed/);
  });

  test('Max Memory Used counts what the runtime has resident, its own code too, as a Lambda micro-VM does', { skip: !isRoot && 'namespace driver only' }, async () => {
    // The memory cgroup charges an environment none of the pages of node's binary and libraries
    // that other environments read first: a Node.js hello world reported 8 MB with 45 MB resident
    // (Lambda reports ~65 MB for one).
    const key = fx.code({ 'index.js': "exports.handler = async () => Math.round(process.memoryUsage().rss / 1048576);\n" });
    const o = await fx.svc.execute(fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512 }, 'resident'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const rss = Number(o.payload.toString());
    assert.ok(o.maxMemoryUsedMB >= rss - 2 && o.maxMemoryUsedMB >= 30, `Max Memory Used ${o.maxMemoryUsedMB} MB, resident ${rss} MB`);
  });

  test('stdout flood is capped per invocation and the server stays bounded', async () => {
    const key = fx.code(bashFunction('yes "flood flood flood flood flood flood flood flood flood flood" | head -c 200000000 >&2; echo "{}"'));
    const t = fx.target(key, { memorySize: 1769, timeout: 60 }, 'flood');
    const rss0 = process.memoryUsage().rss;
    const o = await fx.svc.execute(t, invocation('{}'));
    const grew = process.memoryUsage().rss - rss0;
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.equal(o.payload.toString().trim(), '{}');
    const logged = fx.sink.events.filter((e) => e.group === '/aws/lambda/flood');
    const bytes = logged.reduce((n, e) => n + e.e.message.length, 0);
    assert.ok(bytes <= LOG_CAP_BYTES + 4096, `logged ${bytes} bytes`);
    assert.equal(logged.filter((e) => e.e.message.includes('log output truncated')).length, 1);
    // Held, the flood would be 200 MB; read and dropped, what it leaves is garbage the heap has
    // not collected yet, which a busy host lets pile up further (48 MB of a 60 MB flood once).
    assert.ok(grew < 100 * 1024 * 1024, `server RSS grew ${grew} bytes for a 200 MB flood`);
    assert.match(o.logTail!, /^REPORT RequestId/m);
    // the next invocation logs again
    const o2 = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o2.coldStart, false);
  });

  test('fork bomb is contained by pids.max and killed at the timeout', { skip: !isRoot && 'pids cgroup needs root (namespace driver)' }, async () => {
    const key = fx.code(bashFunction('bomb() { bomb | bomb & }; bomb; sleep 30; echo "{}"'));
    const t = fx.target(key, { memorySize: 512, timeout: 3 }, 'bomb');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.errorType, 'Sandbox.Timedout');
    // the server and other functions are fine
    const k2 = fx.code(bashFunction('echo "\\"fine\\""'));
    const o2 = await fx.svc.execute(fx.target(k2, { memorySize: 1769 }, 'after-bomb'), invocation('{}'));
    assert.equal(o2.payload.toString().trim(), '"fine"');
  });

  test('file descriptor and process limits are 1024, as Lambda\'s quotas', { skip: !isRoot && 'namespace driver only' }, async () => {
    const key = fx.code(bashFunction('echo "\\"$(ulimit -n) $(ulimit -Hn) $(ulimit -u) $(ulimit -Hu)\\""'));
    const o = await fx.svc.execute(fx.target(key, { memorySize: 1769 }, 'fds'), invocation('{}'));
    assert.equal(o.payload.toString().trim(), '"1024 1024 1024 1024"');
  });

  test('every process of an environment runs under SCHED_BATCH: a woken function does not preempt the server', { skip: !isRoot && 'namespace driver only' }, async () => {
    // /proc/<pid>/stat's 41st field is the policy (3: SCHED_BATCH), of the runtime and of a child.
    const policy = (pid: string) => `$(cut -d')' -f2- /proc/${pid}/stat | awk '{print $39}')`;
    const key = fx.code(bashFunction(`sleep 0.2 & echo "\"${policy('$$')} ${policy('$!')}\""`));
    const o = await fx.svc.execute(fx.target(key, { memorySize: 1769 }, 'policy'), invocation('{}'));
    assert.equal(o.payload.toString().trim().replace(/"/g, ''), '3 3');
    const node = fx.code({ 'index.js': "exports.handler = async () => require('node:fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[38];\n" });
    const n = await fx.svc.execute(fx.target(node, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 1769 }, 'policy-node'), invocation('{}'));
    assert.equal(n.payload.toString(), '"3"');
  });
});

describe('node in a pooled runtime: heap size and NODE_OPTIONS', async () => {
  const pooled = await fixture({ prewarmPerRuntime: 1 });
  after(() => pooled.stop());
  const poolReady = async () => {
    for (let i = 0; i < 200 && pooled.svc.stats().prewarm.node.ready < 1; i++) await sleep(25);
    assert.ok(pooled.svc.stats().prewarm.node.ready >= 1, JSON.stringify(pooled.svc.stats()));
  };

  test('a Node.js runtime\'s heap is sized for its function\'s memory as Lambda sizes it; the pool boots for the sizes asked for', async (t) => {
    if (pooled.svc.describe().driver !== 'namespace') return t.skip('needs memory cgroups (namespace driver, root)');
    await poolReady();
    assert.deepEqual(pooled.svc.stats().prewarm.node.readyByMemory, { 128: 1 }, 'before any cold start: Lambda\'s default memory size');
    const heap = "exports.handler = async () => require('node:v8').getHeapStatistics().heap_size_limit / 1048576;\n";
    const limitAt = async (memorySize: number, name: string) => {
      const o = await pooled.svc.execute(pooled.target(pooled.code({ 'index.js': heap }), { runtime: 'nodejs20.x', handler: 'index.handler', memorySize }, name), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      return Number(o.payload.toString());
    };
    // Lambda's bootstrap: old space is the memory less a tenth (2708 MB of 3008; the limit adds the
    // young generation's); node's default
    // from a 3008 MB cgroup would be 1552 MB, and a pooled runtime booted under 10 GB had 2096.
    const first = await limitAt(3008, 'bigheap1');
    assert.equal(pooled.svc.stats().prewarm.node.hits, 0, 'no runtime of that size in the pool yet: started for it');
    assert.ok(first >= 2708 && first < 4000, `heap limit ${first} MB`);
    for (let i = 0; i < 200 && !pooled.svc.stats().prewarm.node.readyByMemory[3008]; i++) await sleep(25);
    assert.equal(pooled.svc.stats().prewarm.node.readyByMemory[3008], 1, JSON.stringify(pooled.svc.stats().prewarm));
    const second = await limitAt(3008, 'bigheap2');
    assert.equal(pooled.svc.stats().prewarm.node.hits, 1, 'served by the pool');
    assert.ok(second >= 2708 && second < 4000, `heap limit ${second} MB`);
    // 128 MB: 116 MB of old space (node's default would be 259 MB or more, so a function churning
    // through garbage ran into its memory limit before V8 collected).
    const small = await limitAt(128, 'smallheap');
    assert.ok(small >= 116 && small < 160, `heap limit ${small} MB`);
  });

  test('a function\'s NODE_OPTIONS reach node as it starts (the pool\'s runtimes, started without them, are passed over)', async () => {
    await poolReady();
    const hits = pooled.svc.stats().prewarm.node.hits;
    const key = pooled.code({
      'index.js': "exports.handler = async () => ({ maps: process.sourceMapsEnabled, heap: require('node:v8').getHeapStatistics().heap_size_limit, opts: process.env.NODE_OPTIONS, required: globalThis.preloaded ?? null });\n",
      'pre.js': "globalThis.preloaded = 'yes';\n",
    });
    const o = await pooled.svc.execute(pooled.target(key, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512,
      environment: { NODE_OPTIONS: '--enable-source-maps --max-old-space-size=300 --require ./pre.js' },
    }, 'nodeopts'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const r = JSON.parse(o.payload.toString());
    assert.equal(r.maps, true);
    // Lambda's bootstrap gives node the heap's flags on its command line, which comes after
    // NODE_OPTIONS and wins: 461 MB of old space for 512 MB, not the function's 300.
    assert.ok(r.heap >= 461 * 1048576 && r.heap < 600 * 1048576, `heap limit ${r.heap / 1048576} MB`);
    assert.equal(r.opts, '--enable-source-maps --max-old-space-size=300 --require ./pre.js');
    assert.equal(r.required, 'yes', '--require resolves in the task root');
    assert.equal(pooled.svc.stats().prewarm.node.hits, hits, 'not served by the pool');
  });

  test('a function\'s NODE_EXTRA_CA_CERTS is read by node as it starts too', async () => {
    await poolReady();
    const hits = pooled.svc.stats().prewarm.node.hits;
    const key = pooled.code({ 'index.js': "exports.handler = async () => 'ok';\n" });
    // node reads the file at start-up only, and says so when it cannot load it.
    const o = await pooled.svc.execute(pooled.target(key, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512, environment: { NODE_EXTRA_CA_CERTS: '/var/task/missing-ca.pem' },
    }, 'extracerts'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.match(pooled.sink.text(), /Ignoring extra certs from `\/var\/task\/missing-ca\.pem`/);
    assert.equal(pooled.svc.stats().prewarm.node.hits, hits, 'not served by the pool');
  });
});

describe('V8 worker threads of a Node.js runtime', () => {
  test('one per vCPU the function gets (1769 MB buys one), at most node\'s default of 4 and the host\'s CPUs', () => {
    const cpus = os.availableParallelism();
    assert.deepEqual(nodeThreadFlags(128), ['--v8-pool-size=1']);
    assert.deepEqual(nodeThreadFlags(1769), ['--v8-pool-size=1']);
    assert.deepEqual(nodeThreadFlags(1770), [`--v8-pool-size=${Math.min(2, cpus)}`]);
    assert.deepEqual(nodeThreadFlags(10240), [`--v8-pool-size=${Math.min(4, cpus)}`]);
  });
});
