import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MB_PER_CPU } from './sandbox/cgroups.js';

/** How a runtime name is run: a shipped bootstrap (prewarmable) or the function's own bootstrap. */
export type RuntimeFamily = 'node' | 'python' | 'custom';

export function familyOf(runtime: string | null): RuntimeFamily | null {
  if (!runtime) return null;
  if (/^nodejs\d+\.x$/.test(runtime)) return 'node';
  if (/^python3\.\d+$/.test(runtime)) return 'python';
  if (runtime === 'provided.al2023' || runtime === 'provided.al2' || runtime === 'provided') return 'custom';
  return null;
}

let cachedDir: string | null | undefined;

/** <repo>/runtimes, found relative to this module (dist/src/environments or src/environments). */
export function runtimesDir(): string | null {
  if (cachedDir !== undefined) return cachedDir;
  const here = path.dirname(fileURLToPath(import.meta.url));
  cachedDir = null;
  for (const rel of ['../../../runtimes', '../../runtimes']) {
    const d = path.resolve(here, rel);
    if (fs.existsSync(path.join(d, 'nodejs')) || fs.existsSync(path.join(d, 'python'))) { cachedDir = d; break; }
  }
  return cachedDir;
}

let cachedPython: string | null | undefined;

/** A python3 every uid can run: /usr/bin/python3, else the first on PATH outside /root. */
export function pythonExecutable(): string | null {
  if (cachedPython !== undefined) return cachedPython;
  cachedPython = null;
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(':')];
  for (const d of dirs) {
    if (!d || d.startsWith('/root')) continue;
    const f = path.join(d, 'python3');
    try { fs.accessSync(f, fs.constants.X_OK); cachedPython = f; break; } catch { /* next */ }
  }
  return cachedPython;
}

export interface RuntimeLaunch {
  command: string[];
  /** LAMBDA_RUNTIME_DIR */
  runtimeDir: string;
}

/**
 * How node runs a shipped Node.js runtime: with no V8 flags but the heap's (nodeHeapFlags), which
 * the runtime sets back as it starts. Any V8 flag still set makes V8 refuse node's code cache of
 * its built-in modules, which a function's init then compiles from source (~25 ms more for what an
 * AWS SDK client requires). gc is exposed and V8 is tuned from inside the runtime instead
 * (runtimes/nodejs/v8-settings.cjs). node's own options do not touch V8's flags: Lambda's
 * --max-http-header-size is given as it gives it (an HTTP response the function receives may have
 * 80 KiB of headers, not node's 16).
 */
const NODE_FLAGS: string[] = ['--max-http-header-size=81920'];

/**
 * `rt` as an environment sees it when its directory is presented at `root` (SandboxDriver.runtimeRoot):
 * arguments under the directory point there, and so does LAMBDA_RUNTIME_DIR. Unchanged without a root.
 */
export function presentedRuntime(rt: RuntimeLaunch, root: string | null): RuntimeLaunch {
  if (root === null) return rt;
  const dir = rt.runtimeDir;
  const moved = (a: string) => (a === dir ? root : a.startsWith(`${dir}/`) ? root + a.slice(dir.length) : a);
  return { command: rt.command.map(moved), runtimeDir: root };
}

/**
 * The heap Lambda's Node.js bootstrap gives node for a function of `memoryMB`: a tenth of the memory
 * for the young generation (half of it per semi-space), the rest for the old generation
 * (`--max-semi-space-size=6 --max-old-space-size=116` at 128 MB). V8 collects by these limits: at
 * 128 MB a function that churns through more garbage than its memory is collected in time,
 * where with node's default (a heap of 259 MB or more) it ran into the memory limit and was
 * killed. They are V8 flags, so the runtime sets them back to their defaults as it starts (the
 * heap keeps its size) and node's code cache stays valid (runtimes/nodejs/v8-settings.cjs).
 */
export function nodeHeapFlags(memoryMB: number): string[] {
  const newSpace = Math.floor(memoryMB / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMB - newSpace}`];
}

/**
 * V8's worker threads (garbage collection, compilation) for a function of `memoryMB`: one per vCPU
 * the function gets (1769 MB buys one, as Lambda allots CPU and as the cpu cgroup enforces it), at
 * most node's default of 4 and the host's CPUs. More only wait on the same CPU share, and each costs
 * the environment memory (~0.5 MiB of private memory for node's default 4 against 1 here: stacks
 * and malloc arenas) and its cold start time (dropping privileges signals every thread of the
 * process, three times). A node option, not a V8 flag: node's code cache stays valid.
 */
export function nodeThreadFlags(memoryMB: number): string[] {
  return [`--v8-pool-size=${Math.max(1, Math.min(4, os.availableParallelism(), Math.ceil(memoryMB / MB_PER_CPU)))}`];
}

/**
 * Node.js features Lambda turns off, by the node option that does so and the one a function's
 * NODE_OPTIONS turns it back on with ("The upstream Node.js language releases enable some
 * experimental features by default. Lambda disables these features", lambda-nodejs.html):
 * require() of an ES module on nodejs20.x and nodejs22.x, and ES module syntax detection (a .js
 * file with `export` outside a "type": "module" package) on nodejs22.x. Every runtime runs on
 * this host's node, so one of a Node.js version that does not have a feature (nodejs18.x: both)
 * is started without it too; nodejs24.x keeps both.
 */
const LAMBDA_OFF_FEATURES: { off: string; on: string; offIn: (major: number) => boolean }[] = [
  { off: '--no-experimental-require-module', on: '--experimental-require-module', offIn: (m) => m <= 22 },
  { off: '--no-experimental-detect-module', on: '--experimental-detect-module', offIn: (m) => m < 20 || m === 22 },
];

/**
 * The options that turn off for `runtime` (nodejs22.x, ...) what Lambda turns off (see
 * LAMBDA_OFF_FEATURES), but one the function's NODE_OPTIONS turns back on (Lambda "detects this
 * override and removes the corresponding disable flag"), and one this host's node does not know
 * (node refuses to start with an unknown option; such a node does not have the feature either).
 */
export function nodeFeatureFlags(runtime: string | null, nodeOptions = ''): string[] {
  const m = /^nodejs(\d+)\.x$/.exec(runtime ?? '');
  if (!m) return [];
  const major = Number(m[1]);
  const given = new Set(nodeOptions.split(/\s+/));
  return LAMBDA_OFF_FEATURES.filter((f) => f.offIn(major) && !given.has(f.on) && process.allowedNodeEnvironmentFlags.has(f.off)).map((f) => f.off);
}

/**
 * The command that boots a shipped runtime (before it knows its function), or null when absent.
 * A Node.js runtime's heap is sized for `memoryMB` (see nodeHeapFlags), and the features Lambda
 * turns off for `runtime` are off unless the function's `nodeOptions` turn them on
 * (nodeFeatureFlags); Python's is the same for every function.
 */
export function shippedRuntime(family: 'node' | 'python', memoryMB: number, runtime: string | null = null, nodeOptions = ''): RuntimeLaunch | null {
  const dir = runtimesDir();
  if (!dir) return null;
  if (family === 'node') {
    const f = path.join(dir, 'nodejs', 'bootstrap.cjs');
    const flags = [...NODE_FLAGS, ...nodeFeatureFlags(runtime, nodeOptions), ...nodeThreadFlags(memoryMB), ...nodeHeapFlags(memoryMB)];
    return fs.existsSync(f) ? { command: [process.execPath, ...flags, f], runtimeDir: path.dirname(f) } : null;
  }
  const py = pythonExecutable();
  const f = path.join(dir, 'python', 'bootstrap.py');
  return py && fs.existsSync(f) ? { command: [py, f], runtimeDir: path.dirname(f) } : null;
}
