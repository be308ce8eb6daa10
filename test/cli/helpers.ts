import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/cli). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const bin = path.join(repoRoot, 'bin/stratus.js');

/** Environment for every child: no prewarmed runtimes, no endpoint leaking in from the caller. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, STRATUS_PREWARM: '0', ...extra };
  if (!('STRATUS_ENDPOINT' in extra)) delete env.STRATUS_ENDPOINT;
  if (!('STRATUS_PORT' in extra)) delete env.STRATUS_PORT;
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/stratus.js ...args` to completion. */
export function run(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { env: childEnv(opts.env), cwd: opts.cwd ?? repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    p.stdin.end(opts.input ?? '');
  });
}

/** Asserts the shape every failure has: exit 1 (or `code`), exactly one `stratus: ...` line on stderr. */
export function oneErrorLine(r: RunResult, code = 1): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.code !== code || lines.length !== 1 || !lines[0]!.startsWith('stratus: ')) {
    throw new Error(`expected exit ${code} and one "stratus: ..." line on stderr, got exit ${r.code}:\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
  }
  return lines[0]!;
}

/** A `stratus up` child process. */
export interface UpProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code and signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (or the given signal) and wait; SIGKILL after a long grace period. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const LISTENING = /^Stratus listening on (http:\/\/\S+:(\d+))$/m;

/** Starts `stratus up --port 0 --data-dir DIR ...` and resolves once it prints its listening line. */
export function up(opts: { dataDir?: string; args?: string[]; env?: Record<string, string>; wrap?: string[] } = {}): Promise<UpProcess> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-'));
  // wrap: a command that execs the rest (e.g. a shell leaving descriptors open for the server)
  const argv = [...(opts.wrap ?? []), process.execPath, bin, 'up', '--port', '0', '--data-dir', dataDir, ...(opts.args ?? [])];
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: childEnv(opts.env),
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = LISTENING.exec(out);
      if (m && !settled) {
        settled = true;
        resolve({
          proc,
          url: m[1]!,
          port: Number(m[2]),
          dataDir,
          stdout: () => out,
          stderr: () => err,
          exited,
          async stop(signal: NodeJS.Signals = 'SIGTERM') {
            if (proc.exitCode === null && proc.signalCode === null) {
              const kill = setTimeout(() => proc.kill('SIGKILL'), 60_000);
              proc.kill(signal);
              const r = await exited;
              clearTimeout(kill);
              return r;
            }
            return exited;
          },
        });
      }
    });
    let settled = false;
    void exited.then(({ code, signal }) => {
      if (!settled) {
        settled = true;
        reject(Object.assign(new Error(`stratus up exited (${code ?? signal}) before listening\nstdout: ${out}\nstderr: ${err}`), { code, stdout: out, stderr: err }));
      }
    });
  });
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A process seen in /proc: its pid and start time (so a reused pid is not mistaken for it). */
export interface ProcId {
  pid: number;
  start: string;
}

function readStat(pid: number): { ppid: number; state: string; start: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]), start: rest[19]! };
  } catch {
    return null;
  }
}

/** Every live descendant of a process, walking /proc. */
export function descendants(root: number): ProcId[] {
  const children = new Map<number, ProcId[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st || st.state === 'Z') continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid: Number(name), start: st.start });
    children.set(st.ppid, list);
  }
  const out: ProcId[] = [];
  const stack = [root];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c.pid);
    }
  }
  return out;
}

/** True while that very process (same pid, same start time) exists and is not a zombie. */
export function alive(p: ProcId): boolean {
  const st = readStat(p.pid);
  return st !== null && st.start === p.start && st.state !== 'Z';
}

/** A loopback port nobody listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Directories writeDir made: gone when the test process exits, whoever forgot them. */
const written: string[] = [];
process.once('exit', () => { for (const d of written) fs.rmSync(d, { recursive: true, force: true }); });

/** Writes a function directory: { 'index.mjs': source, ... }. */
export function writeDir(files: Record<string, string | { content: string; mode: number }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-fn-'));
  written.push(dir);
  for (const [name, v] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(file, v);
    else fs.writeFileSync(file, v.content, { mode: v.mode });
  }
  return dir;
}
