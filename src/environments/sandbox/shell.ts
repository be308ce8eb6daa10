import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import type { ChildProcess, IOType } from 'node:child_process';
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
    const m = /^(\d+)-/.exec(n.slice(prefix.length + 1));
    if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
    try { fs.rmSync(path.join(base, n), { recursive: true, force: true }); } catch { /* another's */ }
  }
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
