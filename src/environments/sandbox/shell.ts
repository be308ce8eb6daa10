import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import type { LaunchSpec } from './types.js';

/** Quotes one word for /bin/sh. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Removes what servers that are gone left in `base` as `<prefix>-<pid>-*` (a SIGKILL gives them
 * no chance to): the entries whose pid no longer runs.
 */
export function removeStale(base: string, prefix: string): void {
  let names: string[];
  try { names = fs.readdirSync(base); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(`${prefix}-`)) continue;
    // <prefix>-<pid>-<more>, or <prefix>-<pid> (stratus-scratch-<pid>).
    const m = /^(\d+)(?:-|$)/.exec(n.slice(prefix.length + 1));
    if (!m || isLive(procStat(Number(m[1])))) continue;
    try { fs.rmSync(path.join(base, n), { recursive: true, force: true }); } catch { /* another's */ }
  }
}

/**
 * An fd of an empty regular file, readable and writable, whose name is already gone (the caller
 * closes it): `.stratus-<tag>-<pid>-*` in the first of the temporary directories that takes it.
 */
export function openUnlinked(tag: string): number {
  let failure: unknown;
  for (const dir of [...new Set([os.tmpdir(), '/dev/shm', '/tmp'])]) {
    const f = path.join(dir, `.stratus-${tag}-${process.pid}-${Math.random().toString(36).slice(2)}`);
    let fd: number;
    try {
      fd = fs.openSync(f, 'wx+', 0o600);
    } catch (e) {
      failure = e;
      continue;
    }
    try { fs.unlinkSync(f); } catch (e) { fs.closeSync(fd); throw e; }
    return fd;
  }
  throw failure;
}

/** A process's peak resident size in KiB (VmHWM), 0 when it is gone. */
export function peakResidentKB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A process's parent, start time (clock ticks since boot) and state letter, from /proc; null once it is gone. */
export function procStat(pid: number): { ppid: number; start: number; state: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), start: Number(f[19]) };
  } catch { return null; }
}

/**
 * Whether a process is running: a zombie has exited already. (A server killed with SIGKILL stays
 * one until its parent reaps it: a restart at once must not take it for alive.)
 */
export function isLive(st: { state: string } | null): boolean {
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** Resolves once process `pid` has exited (gone, or a zombie), or after `ms`. */
export function untilGone(pid: number, ms: number): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve) => {
    const check = () => {
      const st = procStat(pid);
      if (!isLive(st) || performance.now() >= end) resolve();
      else setTimeout(check, 10);
    };
    check();
  });
}

export function realpathOr(p: string): string {
  try { return fs.realpathSync(p); } catch { return p; }
}

/** True when `p` is `dir` or inside it. */
export function isUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

export function findExecutable(name: string, dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']): string | null {
  for (const d of dirs) {
    const f = `${d}/${name}`;
    try { fs.accessSync(f, fs.constants.X_OK); return f; } catch { /* next */ }
  }
  return null;
}

/**
 * The spawn's stdio: `first` (stdin, stdout, stderr and what a driver puts next), then the
 * framed log pipe at `logFd` and the Runtime API channel at `apiFd` when `spec` asks for them,
 * closed descriptors in between.
 */
export function launchStdio(spec: LaunchSpec, first: Array<IOType | number>, logFd: number, apiFd: number): Array<IOType | number> {
  const stdio = [...first];
  const put = (fd: number) => {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = 'pipe';
  };
  if (spec.framedLog) put(logFd);
  if (spec.apiChannel) put(apiFd);
  return stdio;
}

/** The parent's ends of the descriptors launchStdio asked for. */
export function launchedStreams(child: ChildProcess, logFd: number, apiFd: number): { logStream: Readable | null; apiChannel: Socket | null } {
  const at = (fd: number) => (child.stdio as unknown as Array<unknown>)[fd] ?? null;
  return { logStream: at(logFd) as Readable | null, apiChannel: at(apiFd) as Socket | null };
}

/**
 * Starts a helper that serves the sandbox for the server's life: it prints `ready` on a line of
 * its own once it can, then works from its stdin until that closes, which the server's exit
 * (even by SIGKILL) does. Resolves to the process, or to why it did not come up (its last line
 * of stderr, or its exit status) within `timeoutMs`. Nothing of it keeps this process running.
 */
export function startResident(file: string, args: string[], timeoutMs = 10_000): Promise<ChildProcess | string> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(`no answer in ${timeoutMs / 1000} s`); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve(e.message); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const onReady = (d: Buffer) => {
      out += d.toString();
      if (!out.includes('ready\n')) return;
      clearTimeout(timer);
      child.stdout!.off('data', onReady);
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ unref?: () => void }>) s.unref?.();
      resolve(child);
    };
    child.stdout!.on('data', onReady);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve(err.trim().split('\n').pop() || `exit ${code ?? signal}`); });
  });
}

/** Ends a resident helper (startResident): closes its stdin and waits for it to go, killing it after 2 s. */
export function stopResident(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.stdin?.end();
  });
}
