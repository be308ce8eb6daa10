/**
 * Starts a shipped runtime (runtimes/nodejs, runtimes/python) as a real child process, the way the
 * platform does: minimal boot environment, then one assignment line on stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BOOT_ENV } from '../../src/environments/env-vars.js';
import { shippedRuntime } from '../../src/environments/runtimes.js';
import assert from 'node:assert/strict';
import { FakeRuntimeApi } from './fake-runtime-api.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** <repo>/runtimes, from test/runtimes or dist/test/runtimes. */
export const RUNTIMES_DIR = [path.resolve(here, '../../runtimes'), path.resolve(here, '../../../runtimes')].find((d) =>
  fs.existsSync(path.join(d, 'nodejs', 'bootstrap.cjs')))!;

export const isRoot = process.getuid?.() === 0;

/** A python3 any uid can run (pyenv shims under /root are not): /usr/bin/python3 first. */
export function python(): string | null {
  for (const d of ['/usr/bin', ...(process.env.PATH ?? '').split(':')]) {
    if (!d || d.startsWith('/root')) continue;
    const f = path.join(d, 'python3');
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch { /* next */ }
  }
  return null;
}

export interface StartOptions {
  lang: 'node' | 'python';
  files: Record<string, string>;
  handler: string;
  /** Extra function environment variables. */
  env?: Record<string, string>;
  /** The environment the process boots with (default PATH + LANG + STRATUS_BOOT_SECRET). */
  bootEnv?: Record<string, string>;
  uid?: number | null;
  gid?: number | null;
  groups?: number[];
  /** Delay writing the assignment until assign() is called. */
  deferAssign?: boolean;
  /** The assignment says taskRootPending: the line `ready` follows only when ready() is called. */
  taskRootPending?: boolean;
  /**
   * Give the runtime its Runtime API as a connected socket at this descriptor (named by
   * _STRATUS_API_FD in its boot environment), as the platform does; AWS_LAMBDA_RUNTIME_API then
   * names a closed port.
   */
  channelFd?: number;
}

export interface RuntimeProc {
  api: FakeRuntimeApi;
  child: ChildProcess;
  taskRoot: string;
  lines: string[];
  stderr(): string;
  /** The assignment's env. */
  env: Record<string, string>;
  assign(): void;
  /** With taskRootPending: writes `word` (the platform's `ready`) and ends stdin. */
  ready(word?: string): void;
  waitLine(pred: (l: string) => boolean, what?: string): Promise<string>;
  /** Exit status, once stdout/stderr are fully read too. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

const running = new Set<RuntimeProc>();

/** Stops every runtime still running (use in after()). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}

export async function startRuntime(o: StartOptions): Promise<RuntimeProc> {
  const taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-rt-'));
  fs.chmodSync(taskRoot, 0o755);
  for (const [rel, text] of Object.entries(o.files)) {
    const f = path.join(taskRoot, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o755 });
    fs.writeFileSync(f, text, { mode: 0o644 });
  }
  // Readable by a dropped uid, whatever the umask.
  (function open(d: string): void {
    fs.chmodSync(d, 0o755);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) open(f);
      else fs.chmodSync(f, 0o644);
    }
  })(taskRoot);
  const api = await new FakeRuntimeApi().start();
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    _HANDLER: o.handler,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EXECUTION_ENV: o.lang === 'node' ? 'AWS_Lambda_nodejs20.x' : 'AWS_Lambda_python3.11',
    AWS_LAMBDA_FUNCTION_NAME: 'fn',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_RUNTIME_API: o.channelFd === undefined ? api.address : await closedPort(),
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: path.join(RUNTIMES_DIR, o.lang === 'node' ? 'nodejs' : 'python'),
    ...o.env,
  };
  // The command and boot environment the platform launches shipped runtimes with (for the
  // runtime name AWS_EXECUTION_ENV gives, and the function's NODE_OPTIONS).
  const cmd = shippedRuntime(o.lang, 128, env.AWS_EXECUTION_ENV!.replace(/^AWS_Lambda_/, ''), env.NODE_OPTIONS)!.command;
  const stdio: Array<'pipe' | 'ignore'> = ['pipe', 'pipe', 'pipe'];
  if (o.channelFd !== undefined) {
    while (stdio.length < o.channelFd) stdio.push('ignore');
    stdio.push('pipe');
  }
  const child: ChildProcess = spawn(cmd[0]!, cmd.slice(1), {
    env: { ...(o.bootEnv ?? { ...BOOT_ENV, STRATUS_BOOT_SECRET: 'boot-only' }), ...(o.channelFd === undefined ? {} : { _STRATUS_API_FD: String(o.channelFd) }) },
    stdio,
    cwd: '/',
  });
  if (o.channelFd !== undefined) api.adopt(child.stdio[o.channelFd] as import('node:net').Socket);
  const lines: string[] = [];
  let partial = '';
  let err = '';
  const lineWaiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const l = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(l);
      for (const w of lineWaiters.filter((x) => x.pred(l))) {
        lineWaiters.splice(lineWaiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { err += d; });
  child.stdin!.on('error', () => { /* runtime closed stdin */ });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => r({ code, signal })));
  const assignment = JSON.stringify({ env, taskRoot, uid: o.uid ?? null, gid: o.gid ?? null, groups: o.groups ?? [], ...(o.taskRootPending ? { taskRootPending: true } : {}) }) + '\n';
  const rp: RuntimeProc = {
    api,
    child,
    taskRoot,
    lines,
    env,
    stderr: () => err,
    assign: () => { if (o.taskRootPending) child.stdin!.write(assignment); else child.stdin!.end(assignment); },
    ready: (word = 'ready') => { child.stdin!.end(`${word}\n`); },
    waitLine: (pred, what = 'line') =>
      new Promise<string>((resolve, reject) => {
        const found = lines.find(pred);
        if (found !== undefined) return resolve(found);
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout:\n${lines.join('\n')}\nstderr:\n${err}`)), 20_000);
        lineWaiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
      }),
    exited,
    stop: async () => {
      running.delete(rp);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      api.close();
      fs.rmSync(taskRoot, { recursive: true, force: true });
    },
  };
  running.add(rp);
  if (!o.deferAssign) rp.assign();
  return rp;
}

/** host:port of a loopback port nothing listens on. */
async function closedPort(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `127.0.0.1:${port}`;
}

/** Resolves `p`, or rejects after `ms` with the runtime's output (so a hang fails with context). */
export function within<T>(p: Promise<T>, rp: RuntimeProc, what: string, ms = 20_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out: ${what}\nstdout:\n${rp.lines.join('\n')}\nstderr:\n${rp.stderr()}`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/**
 * The start-up protocol's taskRootPending, for a runtime started by `start` (with a task root
 * holding `files`): nothing under the task root is touched, nor the Runtime API, before `ready`
 * (the handler's file is written only then); without `ready`, exit status 1 and a message.
 */
export async function checkTaskRootPending(
  start: (files: Record<string, string>, extra: Partial<StartOptions>) => Promise<RuntimeProc>,
  handlerFile: string, source: string,
): Promise<void> {
  const rt = await start({}, { taskRootPending: true });
  // The runtime has its assignment and is past its privilege drop and environment by now.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(rt.child.exitCode, null, `still waiting: ${rt.stderr()}`);
  assert.equal(rt.api.connections, 0, 'no Runtime API request before ready');
  fs.writeFileSync(path.join(rt.taskRoot, handlerFile), source);
  rt.ready();
  assert.deepEqual((await within(rt.api.invoke({ n: 1 }), rt, 'after ready')).json(), { n: 1 });
  await rt.stop();

  for (const word of [null, 'later']) {
    const bad = await start({ [handlerFile]: source }, { taskRootPending: true });
    if (word === null) bad.child.stdin!.end();
    else bad.ready(word);
    const { code } = await within(bad.exited, bad, 'exit without ready');
    assert.equal(code, 1);
    assert.match(bad.stderr(), /the task root was not made ready/);
    assert.equal(bad.api.connections, 0);
    await bad.stop();
  }
}
