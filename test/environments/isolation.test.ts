import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { shippedRuntime } from '../../src/environments/runtimes.js';
import { sharedBase, sharedConfig } from '../helpers/server.js';
import { bashFunction, fixture, invocation, isRoot, sleep } from './helpers.js';

const reason = !isRoot && 'namespace driver needs root (CI runs these as root)';

describe('isolation (namespace driver)', { skip: reason }, async () => {
  // Functions write to a directory under sharedBase() (the LD_PRELOAD test below): the rest is read-only.
  const fx = await fixture({ sandbox: 'namespace', ...sharedConfig() });
  after(() => fx.stop());
  const FAST = { memorySize: 1769 };

  test('describe() names the driver', () => {
    const d = fx.svc.describe();
    assert.equal(d.driver, 'namespace');
    assert.ok(d.isolation.some((l) => l.includes('cgroup')));
  });

  // A custom runtime's launch runs as root on the host until it drops to the environment's uid:
  // a function's LD_PRELOAD (AWS documents it for custom runtimes) must reach its bootstrap and
  // nothing before it. A preloaded library records the uid and name of every process it is loaded in.
  const cc = ['/usr/bin/cc', '/usr/bin/gcc'].find((f) => fs.existsSync(f));
  test('a function\'s LD_PRELOAD reaches its bootstrap only, never the sandbox\'s own processes (root)', { skip: !cc && 'no C compiler to build the preloaded library' }, async () => {
    const dir = fs.mkdtempSync(path.join(sharedBase(), 'stratus-preload-'));
    try {
      fs.chmodSync(dir, 0o777);
      const src = path.join(dir, 'p.c');
      fs.writeFileSync(src, `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void seen(void) {
  const char *log = getenv("PRELOAD_LOG"); if (!log) return;
  char comm[64] = ""; FILE *c = fopen("/proc/self/comm", "r"); if (c) { if (!fgets(comm, sizeof comm, c)) comm[0] = 0; fclose(c); }
  FILE *f = fopen(log, "a"); if (f) { fprintf(f, "%u %s", (unsigned)getuid(), comm); fclose(f); }
}
`);
      const so = path.join(dir, 'p.so');
      const { spawnSync } = await import('node:child_process');
      const built = spawnSync(cc!, ['-shared', '-fPIC', '-o', so, src], { encoding: 'utf8' });
      assert.equal(built.status, 0, built.stderr);
      fs.chmodSync(so, 0o755);
      const log = path.join(dir, 'log');
      fs.writeFileSync(log, '', { mode: 0o666 });
      fs.chmodSync(log, 0o666);
      const key = fx.code(bashFunction('echo "\\"$LD_PRELOAD\\""'));
      const o = await fx.svc.execute(fx.target(key, { ...FAST, environment: { LD_PRELOAD: so, PRELOAD_LOG: log } }, 'preload'), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.equal(JSON.parse(o.payload.toString()), so, 'the bootstrap has it');
      const seen = fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' '));
      assert.ok(seen.some(([, comm]) => comm === 'bootstrap' || comm === 'bash'), `loaded in the bootstrap: ${JSON.stringify(seen)}`);
      assert.deepEqual(seen.filter(([uid]) => uid === '0'), [], 'never in a process running as root');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // NODE_OPTIONS is read by node as it starts: a runtime started for such a function must start
  // as the environment's uid already, or its --require'd code runs as root before the drop.
  test('a function\'s NODE_OPTIONS=--require runs its code as the environment\'s uid, never as root', async () => {
    const key = fx.code({
      'pre.js': 'globalThis.preloaded = { uid: process.getuid(), gid: process.getgid() };\n',
      'index.js': 'exports.handler = async () => ({ ...globalThis.preloaded, now: process.getuid() });\n',
    });
    const o = await fx.svc.execute(fx.target(key, { ...FAST, runtime: 'nodejs20.x', handler: 'index.handler', environment: { NODE_OPTIONS: '--require ./pre.js' } }, 'node-options-uid'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const r = JSON.parse(o.payload.toString());
    assert.notEqual(r.uid, 0, 'the required code ran as root');
    assert.notEqual(r.gid, 0);
    assert.equal(r.uid, r.now);
  });

  test('a descriptor the server inherited (not close-on-exec) never reaches a function', { timeout: 60_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'inherited-fd.js');
    const secretFile = path.join(sharedBase(), `stratus-inherited-${process.pid}`);
    fs.writeFileSync(secretFile, 'HOST SECRET', { mode: 0o600 });
    const secret = fs.openSync(secretFile, 'r');
    try {
      const stdio: Array<'ignore' | 'pipe' | 'inherit' | number> = ['ignore', 'pipe', 'inherit'];
      while (stdio.length < 20) stdio.push('ignore');
      stdio[20] = secret;
      const child = spawn(process.execPath, [script], { stdio });
      let out = '';
      child.stdout!.on('data', (d) => { out += d; });
      const code = await new Promise((r) => child.on('close', r));
      assert.equal(code, 0, out);
      const fds = JSON.parse(out) as { bash: string; node: string };
      assert.ok(fds.bash.includes('socket:') || fds.bash.includes('pipe:'), `what the bootstrap has open: ${fds.bash}`);
      assert.ok(!fds.bash.includes(secretFile), `the bootstrap has it: ${fds.bash}`);
      assert.ok(!fds.node.includes(secretFile), `the Node.js function has it: ${fds.node}`);
    } finally {
      fs.closeSync(secret);
      fs.rmSync(secretFile, { force: true });
    }
  });

  test('non-root uid, not the server\'s; cannot read the data dir or other code; cannot signal the server', async () => {
    const other = fx.code(bashFunction('echo "{}"', { 'secret.txt': 'OTHER-FUNCTION-SECRET' }));
    const otherDir = fx.codeDir(other);
    const probe = `
      r="uid=$(id -u)"
      cat "$DATA_DIR/stratus.db" >/dev/null 2>&1 && r="$r db=READ" || r="$r db=denied"
      cat "${otherDir}/secret.txt" >/dev/null 2>&1 && r="$r other=READ" || r="$r other=denied"
      ls "$DATA_DIR/code" >/dev/null 2>&1 && r="$r list=READ" || r="$r list=denied"
      cat "$LAMBDA_TASK_ROOT/handler.sh" >/dev/null 2>&1 && r="$r own=ok" || r="$r own=denied"
      kill -0 "$SERVER_PID" 2>/dev/null && r="$r kill=ALLOWED" || r="$r kill=denied"
      touch "$LAMBDA_TASK_ROOT/x" 2>/dev/null && r="$r write-code=ALLOWED" || r="$r write-code=denied"
      echo hello > /tmp/mine && r="$r tmp=ok"
      printf '"%s"' "$r"`;
    const key = fx.code(bashFunction(probe));
    const o = await fx.svc.execute(fx.target(key, { ...FAST, environment: { DATA_DIR: fx.dataDir, SERVER_PID: String(process.pid) } }, 'probe'), invocation('{}'));
    const r = JSON.parse(o.payload.toString()) as string;
    const uid = Number(/uid=(\d+)/.exec(r)![1]);
    assert.ok(uid !== 0 && uid !== process.getuid!(), `uid ${uid}`);
    assert.match(r, /db=denied other=denied list=denied own=ok kill=denied write-code=denied tmp=ok/);
    assert.equal(fs.existsSync('/tmp/mine') && fs.readFileSync('/tmp/mine', 'utf8') === 'hello\n', false, '/tmp is private');
    void path;
  });

  test('a Node.js function runs in its environment\'s cgroups, started for it or taken from the pool', async () => {
    // The function's code, from its first line on, must find itself in all four.
    const pooled = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
    try {
      const handler = `const fs = require('node:fs');
        const atInit = fs.readFileSync('/proc/self/cgroup', 'utf8');
        exports.handler = async () => ({ atInit, now: fs.readFileSync('/proc/self/cgroup', 'utf8'), pid: process.pid });`;
      for (const [label, f] of [['unpooled', fx], ['pooled', pooled]] as const) {
        if (label === 'pooled') await sleep(1500); // the pool has booted its runtime
        const key = f.code({ 'index.js': handler });
        const o = await f.svc.execute(f.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 128 }, `cg-${label}`), invocation('{}'));
        assert.equal(o.status, 'ok', o.payload.toString());
        if (label === 'pooled') assert.equal(f.svc.stats().prewarm.node.hits, 1, 'taken from the pool');
        const r = JSON.parse(o.payload.toString()) as { atInit: string; now: string };
        for (const text of [r.atInit, r.now]) {
          for (const c of ['memory', 'cpu', 'pids', 'freezer']) {
            const line = text.split('\n').find((l) => l.split(':')[1]?.split(',').includes(c));
            assert.match(line ?? '', /:\/stratus\/\d+-\d+\/[0-9a-f]{32}$/, `${label} ${c}: ${text}`);
          }
        }
      }
    } finally {
      await pooled.stop();
    }
  });

  test('/tmp starts empty, with a data dir under /tmp too: nothing of the host in it, started for the function or pooled', async () => {
    // The data dir's code root (where /var/task and /opt are bound from) had been bound back at
    // its host path, inside the function's /tmp: a listing of /tmp showed it, and so did its mounts.
    const pooled = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
    try {
      assert.ok(fx.dataDir.startsWith('/tmp/'), fx.dataDir);
      const node = { 'index.js': "const fs = require('node:fs');\nexports.handler = async () => ({ tmp: fs.readdirSync('/tmp'), mounts: fs.readFileSync('/proc/self/mounts', 'utf8') });\n" };
      const python = { 'app.py': "import os\ndef handler(e, c):\n    return {'tmp': os.listdir('/tmp'), 'mounts': open('/proc/self/mounts').read()}\n" };
      for (const [label, f] of [['unpooled', fx], ['pooled', pooled]] as const) {
        if (label === 'pooled') for (let i = 0; i < 200 && (f.svc.stats().prewarm.node.ready < 1 || f.svc.stats().prewarm.python.ready < 1); i++) await sleep(25);
        for (const [rt, files, handler] of [['nodejs20.x', node, 'index.handler'], ['python3.12', python, 'app.handler']] as const) {
          const o = await f.svc.execute(f.target(f.code(files), { runtime: rt, handler, memorySize: 128 }, `tmp-${label}-${rt.slice(0, 4)}`), invocation('{}'));
          assert.equal(o.status, 'ok', o.payload.toString());
          const r = JSON.parse(o.payload.toString()) as { tmp: string[]; mounts: string };
          assert.deepEqual(r.tmp, [], `${label} ${rt}`);
          assert.ok(!r.mounts.includes(f.dataDir), `${label} ${rt}: ${r.mounts}`);
        }
        if (label === 'pooled') assert.equal(f.svc.stats().prewarm.node.hits + f.svc.stats().prewarm.python.hits, 2, 'both taken from the pool');
      }
    } finally {
      await pooled.stop();
    }
  });

  test('writes outside /tmp fail with EROFS, as in Lambda, whose file system is read-only but /tmp: Node.js and Python, started for the function or pooled', async () => {
    // Lambda: open('/newfile.txt', 'w') -> OSError: [Errno 30] Read-only file system (not EACCES).
    const paths = ['/newfile.txt', '/etc/x.txt', '/var/x.txt', '/usr/local/x.txt', '/mnt/x.txt', '/run/x.txt', '/home/x.txt', '/var/task/x.txt', '/opt/x.txt', '/tmp/x.txt']
      .filter((p) => fs.existsSync(path.dirname(p)));
    const node = { 'index.js': `const fs = require('node:fs');
      const os = require('node:os');
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      exports.handler = async (event) => ({
        ...Object.fromEntries(event.paths.map((p) => [p, attempt(() => fs.writeFileSync(p, 'x'))])),
        home: attempt(() => fs.mkdirSync(os.homedir())),
      });\n` };
    const python = { 'app.py': `import errno, os
def attempt(f):
    try:
        f()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
def handler(event, context):
    out = {p: attempt(lambda: open(p, 'w').close()) for p in event['paths']}
    out['home'] = attempt(lambda: os.mkdir(os.path.expanduser('~')))
    return out
` };
    const expected = { ...Object.fromEntries(paths.map((p) => [p, p.startsWith('/tmp/') ? 'ok' : 'EROFS'])), home: 'EROFS' };
    const pooled = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
    try {
      for (const [label, f] of [['unpooled', fx], ['pooled', pooled]] as const) {
        if (label === 'pooled') for (let i = 0; i < 200 && (f.svc.stats().prewarm.node.ready < 1 || f.svc.stats().prewarm.python.ready < 1); i++) await sleep(25);
        for (const [rt, files, handler] of [['nodejs20.x', node, 'index.handler'], ['python3.12', python, 'app.handler']] as const) {
          const o = await f.svc.execute(f.target(f.code(files), { runtime: rt, handler, memorySize: 128 }, `rofs-${label}-${rt.slice(0, 4)}`), invocation(JSON.stringify({ paths })));
          assert.equal(o.status, 'ok', o.payload.toString());
          assert.deepEqual(JSON.parse(o.payload.toString()), expected, `${label} ${rt}`);
        }
        if (label === 'pooled') assert.equal(f.svc.stats().prewarm.node.hits + f.svc.stats().prewarm.python.hits, 2, 'both taken from the pool');
      }
    } finally {
      await pooled.stop();
    }
  });

  test('no POSIX shared memory, as in Lambda (no /dev/shm): Python\'s multiprocessing Pool and Queue fail with OSError; /dev/shm is empty, never the host\'s', async () => {
    const marker = `/dev/shm/stratus-host-${process.pid}`;
    fs.writeFileSync(marker, 'HOST');
    try {
      const key = fx.code({ 'app.py': `import multiprocessing, os
def handler(event, context):
    out = {'shm': os.listdir('/dev/shm')}
    for name, make in (('pool', lambda: multiprocessing.Pool(2)), ('queue', multiprocessing.Queue)):
        try:
            make()
            out[name] = 'created'
        except OSError as e:
            out[name] = '[Errno %d] %s' % (e.errno, e.strerror)
    return out
` });
      const o = await fx.svc.execute(fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 512 }, 'no-shm'), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      // Lambda's glibc gives ENOENT (AL2023) or ENOSYS (AL2), there being no /dev/shm at all; here /dev/shm is empty and read-only.
      assert.deepEqual(JSON.parse(o.payload.toString()), { shm: [], pool: '[Errno 30] Read-only file system', queue: '[Errno 30] Read-only file system' });
    } finally {
      fs.rmSync(marker, { force: true });
    }
  });

  test('an environment cannot take another environment\'s invocations', async () => {
    const victimKey = fx.code(bashFunction('printf \'"%s"\' "$AWS_LAMBDA_RUNTIME_API"'));
    const victim = fx.target(victimKey, FAST, 'victim');
    const api = JSON.parse((await fx.svc.execute(victim, invocation('{}'))).payload.toString()) as string;
    const thiefKey = fx.code(bashFunction(`code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://${api}/2018-06-01/runtime/invocation/next"); printf '"%s"' "$code"`));
    const o = await fx.svc.execute(fx.target(thiefKey, FAST, 'thief'), invocation('{}'));
    assert.equal(JSON.parse(o.payload.toString()), '000', 'connection refused by uid check');
    const again = await fx.svc.execute(victim, invocation('{}'));
    assert.equal(again.coldStart, false);
    assert.equal(JSON.parse(again.payload.toString()), api);
  });

  test('/opt holds only the function\'s layers: empty for a function without, not the host\'s', { skip: !fs.existsSync('/opt') && 'the host has no /opt' }, async () => {
    // Lambda's /opt is the layers' content, read-only; NODE_PATH's /opt/nodejs/node_modules must
    // not reach packages the host installed there.
    const marker = fs.mkdtempSync(path.join(fs.realpathSync('/opt'), 'stratus-host-'));
    try {
      const handler = `const fs = require('node:fs');
        exports.handler = async () => {
          let write = 'ALLOWED';
          try { fs.writeFileSync('/opt/x', 'x'); } catch (e) { write = e.code; }
          return { opt: fs.readdirSync('/opt'), write, nodePath: process.env.NODE_PATH.split(':')[0] };
        };`;
      const key = fx.code({ 'index.js': handler });
      const o = await fx.svc.execute(fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512 }, 'opt-node'), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.deepEqual(JSON.parse(o.payload.toString()), { opt: [], write: 'EROFS', nodePath: '/opt/nodejs/node20/node_modules' });
      const bash = fx.code(bashFunction('printf \'"%s"\' "$(ls -A /opt | wc -l)"'));
      const b = await fx.svc.execute(fx.target(bash, FAST, 'opt-bash'), invocation('{}'));
      assert.equal(JSON.parse(b.payload.toString()), '0', 'a custom runtime\'s /opt is empty too');
    } finally {
      fs.rmSync(marker, { recursive: true, force: true });
    }
  });

  test('a runtime interpreter installed under /opt still runs (its installation stays visible)', { skip: !fs.existsSync('/opt') && 'the host has no /opt' }, async () => {
    // As on hosts whose node lives in /opt (CI tool caches): a link to this node under /opt/<dir>/bin.
    const prefix = fs.mkdtempSync(path.join(fs.realpathSync('/opt'), 'stratus-node-'));
    fs.chmodSync(prefix, 0o755);
    fs.mkdirSync(path.join(prefix, 'bin'), { mode: 0o755 });
    const node = path.join(prefix, 'bin', 'node');
    try {
      try { fs.linkSync(process.execPath, node); } catch { fs.copyFileSync(process.execPath, node); fs.chmodSync(node, 0o755); }
      const shipped = shippedRuntime('node', 512)!;
      const f = await fixture({ sandbox: 'namespace' }, { runtimeOverrides: { node: { command: [node, ...shipped.command.slice(1)], runtimeDir: shipped.runtimeDir } } });
      try {
        const key = f.code({ 'index.js': 'exports.handler = async () => ({ exec: process.execPath, opt: require(\'node:fs\').readdirSync(\'/opt\') });\n' });
        // Pooled (started as root, dropping privileges itself) and started for a function with
        // NODE_OPTIONS (privileges dropped before node starts): both keep the installation.
        for (const environment of [{}, { NODE_OPTIONS: '--no-warnings' }] as Record<string, string>[]) {
          const o = await f.svc.execute(f.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512, environment }, `opt-interp-${Object.keys(environment).length}`), invocation('{}'));
          assert.equal(o.status, 'ok', `${o.payload.toString()}\n${o.logTail}`);
          assert.deepEqual(JSON.parse(o.payload.toString()), { exec: node, opt: [path.basename(prefix)] });
        }
        // A function with layers cannot have them over this host's /opt: said, not hidden.
        const layer = f.code({ 'x.txt': 'x' });
        const withLayers = f.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', layers: [{ arn: 'arn:aws:lambda:us-east-1:000000000000:layer:l:1', codeKey: layer, codeSize: 1, unpackedSize: 1 }] }, 'opt-interp-layers');
        await assert.rejects(f.svc.execute(withLayers, invocation('{}')), new RegExp(`layers cannot be presented at /opt: this host's runtime interpreter is installed under it \\(${prefix}\\)`));
      } finally {
        await f.stop();
      }
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  });
});
