import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
 * How node runs a shipped Node.js runtime:
 * - --expose-gc, as Lambda's own bootstrap runs node (the runtime's idle collection uses it too);
 * - a young generation of at most 2 x 2 MiB. Node's default lets it grow to 2 x 16 MiB, which an
 *   environment then keeps: every invocation allocates into fresh pages, and at 16 environments on
 *   two cores switching between so many large working sets costs more than the extra scavenges
 *   (runtime CPU per warm invocation at c16: 198 us at 2 MiB, 225 us at 4, 251 us at the default).
 *   Objects that outlive a scavenge twice still move to the old generation, as they would anyway;
 * - an interrupt budget of a quarter of V8's default, so a function's hot code is optimized after
 *   a quarter as many calls. An environment serves far fewer calls than a long-running server, and
 *   with many environments each sees only its share of the traffic: at c16, with the default, a
 *   runtime still spent 155 us of CPU per invocation after 1,000 invocations each, 85-105 us with
 *   a quarter (bench/invoke.ts's steady rounds). Cold starts do not change (the first invocation
 *   runs before anything is hot); sparkplug-at-once was tried and cost 2-3 ms per cold start.
 */
const NODE_FLAGS = ['--expose-gc', '--max-semi-space-size=2', '--interrupt-budget=16384'];

/** The command that boots a shipped runtime (before it knows its function), or null when absent. */
export function shippedRuntime(family: 'node' | 'python'): RuntimeLaunch | null {
  const dir = runtimesDir();
  if (!dir) return null;
  if (family === 'node') {
    const f = path.join(dir, 'nodejs', 'bootstrap.cjs');
    return fs.existsSync(f) ? { command: [process.execPath, ...NODE_FLAGS, f], runtimeDir: path.dirname(f) } : null;
  }
  const py = pythonExecutable();
  const f = path.join(dir, 'python', 'bootstrap.py');
  return py && fs.existsSync(f) ? { command: [py, f], runtimeDir: path.dirname(f) } : null;
}
