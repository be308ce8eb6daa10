import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isUnder, removeStale, sq } from './shell.js';

const execFileAsync = promisify(execFile);

/**
 * Lambda's file system is read-only but for /tmp: a write anywhere else fails with EROFS ("Read-only
 * file system"), whatever the file's permissions. An environment sees the host's file system, made
 * read-only the same way inside its own mount namespace: each of the host's mounts it sees is
 * remounted there with MS_REMOUNT|MS_BIND|MS_RDONLY, which changes that namespace's copy of the
 * mount only, never the file system itself (its superblock) nor the host's mount. These are lines
 * of the mount table the environment's one `mount -a` already applies (namespace.ts mountTable):
 * no exec of its own.
 */

/**
 * A mount as /proc/<pid>/mountinfo gives it: its id and its parent's (the mount it is on), where
 * (unescaped), its per-mount options.
 */
export interface MountEntry { id: number; parent: number; at: string; options: string[] }

/** How many directories deep a path is: / is 0, /home 1, /var/log 2. */
function depth(p: string): number {
  let n = 0;
  for (let i = p.indexOf('/', 1); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return p === '/' ? 0 : n + 1;
}

/** A field of mountinfo (or fstab): octal escapes (\040 for a space) decoded. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mounts of a mountinfo text, in its order: those at most `maxDepth` directories deep (see depth). */
export function parseMountinfo(text: string, maxDepth = Infinity): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // The mount point (the fifth field) first: most mounts of a busy host are too deep.
    const point = line.split(' ', 5)[4];
    if (point === undefined || depth(point) > maxDepth) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 2) continue;
    out.push({ id: Number(f[0]), parent: Number(f[1]), at: unescape(f[4]!), options: f[5]!.split(',') });
  }
  return out;
}

/**
 * The kernel's own file systems, whose permissions are the kernel's: an environment keeps its own
 * /proc (written to: /proc/self/...) and the host's /dev (its devices are written to whatever the
 * mount: /dev/null, /dev/pts/N) and /sys as they are.
 */
export const KERNEL_DIRS = ['/proc', '/sys', '/dev'];

/**
 * How deep a host mount may be and still be remounted (/ is 0, /home 1, /var/log 2): the
 * directories of the file system's hierarchy (/home, /var, /run, /srv, /boot, /var/lib, ...), which
 * stay. Deeper ones (a user's /run/user/<uid>, containers' mounts under /var/lib/docker and
 * /run/docker, volumes under /media/<user>) come and go as the host runs: one unmounted between
 * the server's reading of the table and the environment's `mount -a` would fail the launch, and
 * a host with many containers would give every launch a line per container mount. Those keep their
 * permissions (a write where the function's uid may not write fails with EACCES).
 */
const MAX_DEPTH = 2;

/**
 * The host mounts an environment makes read-only (see MAX_DEPTH), from the server's mountinfo
 * (the environment's namespace starts as a copy of the server's): those now read-write and in
 * sight (what their path leads to: not one stacked on, nor one under a mount made on a directory
 * above it), outside KERNEL_DIRS and `skip` (what the environment covers with mounts of its own,
 * /tmp, /dev/shm and the hidden directories, and the shared directories, which stay writable).
 * Each with its options but rw, which the remount must give again (a remount sets every per-mount
 * flag: without them a nosuid /run would lose nosuid).
 */
export function readOnlyMounts(mountinfo: string, skip: readonly string[]): MountEntry[] {
  // Only mounts up to MAX_DEPTH can be what a path up to MAX_DEPTH leads to, or be under it.
  const mounts = parseMountinfo(mountinfo, MAX_DEPTH);
  const on = new Map<number, MountEntry[]>();
  for (const m of mounts) {
    const list = on.get(m.parent);
    if (list) list.push(m);
    else on.set(m.parent, [m]);
  }
  // The namespace's root: the mount whose parent is not in the table.
  const ids = new Set(mounts.map((m) => m.id));
  const root = mounts.filter((m) => !ids.has(m.parent)).at(-1);
  if (!root) return [];
  // What is mounted at `at` on `m`, and on that, ...: the top of the stack.
  const top = (m: MountEntry, at: string): MountEntry => {
    const over = on.get(m.id)?.filter((c) => c.at === at).at(-1);
    return over ? top(over, at) : m;
  };
  // The mount a path leads to: down from the root, one directory at a time.
  const leadsTo = (p: string) => p.split('/').filter(Boolean).reduce((m, _, i, parts) => top(m, `/${parts.slice(0, i + 1).join('/')}`), top(root, '/'));
  const own = [...KERNEL_DIRS, ...skip];
  return mounts.filter((m) => m.options[0] === 'rw' && !own.some((d) => isUnder(m.at, d)) && leadsTo(m.at) === m)
    .map((m) => ({ ...m, options: m.options.slice(1) }));
}

/** A path in a mount table (fstab): whitespace and backslashes as octal escapes. */
export function fstabPath(p: string): string {
  return p.replace(/[\s\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The mount table line that makes `m` read-only in the namespace that applies it. `mount -a` skips
 * a line whose target is "/" (the root is mounted already, it assumes): the root is named "/.",
 * the same mount (the table is applied with -c, so the name is used as written).
 */
export function readOnlyLine(m: Pick<MountEntry, 'at' | 'options'>): string {
  return `none ${fstabPath(m.at === '/' ? '/.' : m.at)} none ${['remount', 'bind', 'ro', ...m.options].join(',')} 0 0`;
}

/**
 * Whether this host's `mount` makes a table's remount line read-only as the environments need:
 * the mount read-only with its other options kept, and the file system under it still writable
 * (a `mount` that dropped "bind" would remount the file system itself read-only: the host's own
 * root, for the line of "/"). Tried once, on a tmpfs in a mount namespace of its own that ends
 * with the probe; true, or what went wrong (environments then keep the host's file system as
 * their permissions allow).
 */
export async function probeReadOnlyRemount(bins: { unshare: string; sh: string; mount: string }): Promise<true | string> {
  let dir: string;
  try {
    removeStale(os.tmpdir(), 'stratus-ro-probe');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-ro-probe-${process.pid}-`));
  } catch (e) {
    return `no directory for the probe: ${(e as Error).message}`;
  }
  try {
    const line = readOnlyLine({ at: `${dir}/.`, options: ['nosuid', 'nodev', 'relatime'] });
    const script = `${sq(bins.mount)} -t tmpfs -o size=16k,nosuid,nodev stratus-ro-probe "$1" && printf '%s\\n' "$2" > "$1/t" && ` +
      `${sq(bins.mount)} -a -c -T "$1/t" && while IFS= read -r l; do printf '%s\\n' "$l"; done < /proc/self/mountinfo`;
    let out: string;
    try {
      ({ stdout: out } = await execFileAsync(bins.unshare, ['--mount', '--propagation', 'private', bins.sh, '-c', script, 'stratus-ro-probe', dir, line], { env: {} }));
    } catch (e) {
      // Exited with a status (code a number, what it wrote in stderr), or did not start.
      const x = e as { code?: number | string; stderr?: string; message: string };
      return `the probe failed: ${x.stderr?.trim() || (typeof x.code === 'number' ? `status ${x.code}` : x.message)}`;
    }
    const entry = out.split('\n').find((l) => l.includes(' stratus-ro-probe '));
    const f = entry?.split(' ') ?? [];
    const per = f[5]?.split(',') ?? [];
    const sb = f[f.indexOf('-', 6) + 3]?.split(',') ?? [];
    if (per[0] !== 'ro' || !per.includes('nosuid') || !per.includes('nodev') || sb[0] !== 'rw') {
      return `mount -a did not remount only the mount read-only (per-mount ${per.join(',') || '?'}, file system ${sb.join(',') || '?'})`;
    }
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
