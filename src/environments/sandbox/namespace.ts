import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { CgroupTree, PIDS_MAX, favorDynmods, type DynmodsState, type EnvCgroup } from './cgroups.js';
import { EphemeralVolumes, VOLUME_OPTIONS, type Volume } from './ephemeral.js';
import { ENV_FD, ExecShim, SHIM_FD, noShimWarning, type ExecReport } from './exec.js';
import { findExecutable, isUnder, launchedStreams, launchStdio, openUnlinked, peakResidentKB, procStat, realpathOr, removeStale, sq, stopResident, untilGone } from './shell.js';
import type { LaunchSpec, SandboxBequest, SandboxDescription, SandboxDriver, SandboxHandle, SandboxLimits } from './types.js';
import { KERNEL_DIRS, fstabPath, probeReadOnlyRemount, readOnlyLine, readOnlyMounts, type MountEntry } from './read-only.js';
import { OPT_ROOT, RUNTIME_ROOT, TASK_ROOT, TaskMounter, mountPoint } from './task-root.js';
import { UidAllocator } from './uids.js';

export const FD_LIMIT = 1024;
/** The launcher's fd holding the mount table (the spawn's 4th stdio entry), then the kept paths'. */
const TABLE_FD = 3;
const KEPT_FD = TABLE_FD + 1;
/**
 * A pipe the launcher waits on before it mounts, when its /tmp volume is still being made: the
 * table is written, then a line. The last single-digit fd (dash redirects no others), so at
 * most GATE_FD - KEPT_FD kept paths.
 */
const GATE_FD = 9;
/**
 * The framed log pipe (LaunchSpec.framedLog), kept open through to the runtime: past the
 * single-digit fds the inner script (dash) works with, which all stay free for kept paths.
 */
const LOG_FD = 10;
/** The Runtime API channel (LaunchSpec.apiChannel), next to it. */
const API_FD = 11;
const MIB = 1024 * 1024;

/** `env` as the exec shim reads it from ENV_FD: NUL-terminated "K=V" entries. */
export function environBlock(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => {
    if (k === '' || k.includes('=') || k.includes('\0') || v.includes('\0')) throw new Error(`environment variable ${JSON.stringify(k)} cannot be passed to a program`);
    return `${k}=${v}\0`;
  }).join('');
}

/**
 * `env` as a script of exports for sh to source (where there is no exec shim): the whole
 * environment a custom runtime's bootstrap gets. Names are shell names (the API allows [a-zA-Z][a-zA-Z0-9_]+; Stratus's own
 * start with a letter or _); values are single-quoted, so anything in them stays data.
 */
export function exportScript(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`environment variable name ${JSON.stringify(k)} is not one a shell can export`);
    return `export ${k}=${sq(v)}\n`;
  }).join('');
}

/**
 * Where an environment's relocated kept paths are bound (KEPT_ROOT/<index>): a tmpfs of mode 0700
 * over /root (the host's /root, root's home, is 0700 too), which the function's uid cannot enter.
 */
export const KEPT_ROOT = '/root';

/** Where `p`, a host path under one of the `kept` paths, is inside the environment (see mountTable). */
export function keptPathIn(kept: readonly string[], relocated: readonly boolean[], p: string): string {
  const i = kept.findIndex((k, j) => relocated[j] && isUnder(p, k));
  return i < 0 ? p : `${KEPT_ROOT}/${i}${p.slice(kept[i]!.length)}`;
}

/**
 * The mounts of an environment, in order, as a mount table for `mount -a`: the host's file system
 * made read-only (`root.readOnly`, see read-only.ts), but for the directories of `root.shared`
 * (real paths), each bound on itself before, so that it stays writable; /tmp (the ext4 volume
 * on device `tmp`, see ephemeral.ts, or where there are none a tmpfs of `tmp` MB), the kept paths
 * under /tmp bound back from the fds the inner script opened (KEPT_FD..), and over /dev/shm and
 * each directory of `hide` (real paths) an empty read-only tmpfs: Lambda has no /dev/shm (POSIX
 * shared memory and semaphores fail: Python's multiprocessing.Pool and Queue cannot work there), its /opt
 * holds the function's layers only, and the host's other shared writable directories (/var/tmp,
 * /run/lock) would let functions hand each other files. Kept paths under one are bound
 * back before it is made read-only. With `code`, the function's code dir, bound read-only at
 * /var/task (TASK_ROOT) last, and with `layers`, its merged layers, at /opt (over the empty one). The tmpfs sources are named so that `mount -a` never takes
 * them for the host's own tmpfs mounts (it skips what looks mounted).
 *
 * Kept paths marked `relocated` are only the sources of those binds (the code and layers roots,
 * the runtimes' directory): they go to KEPT_ROOT/<index>, out of the function's sight, not back to
 * their host paths, where a data dir under /tmp showed in every function's /tmp (see keptPathIn).
 */
export function mountTable(tmp: number | string, kept: readonly string[], passwdFile?: string, shell?: string, hide: readonly string[] = [], code?: string, runtime?: string | null, layers?: string, relocated: readonly boolean[] = [],
  root: { readOnly?: readonly MountEntry[]; shared?: readonly string[] } = {}): string {
  const lines: string[] = [];
  // First, while its host path is in sight whatever it is under: a shipped runtime's files. A
  // custom runtime's (null) is empty, whatever the host keeps there.
  if (runtime) lines.push(`${fstabPath(runtime)} ${RUNTIME_ROOT} none bind,ro,nosuid,nodev 0 0`);
  else if (runtime === null) lines.push(`stratus-runtime ${RUNTIME_ROOT} tmpfs size=1m,mode=755,ro,nosuid,nodev 0 0`);
  // Before /tmp is hidden (the file may be under it): /etc/passwd with the environment's user.
  if (passwdFile) lines.push(`${fstabPath(passwdFile)} /etc/passwd none bind,ro 0 0`);
  // /bin/sh is bash in Lambda's Amazon Linux 2023 (bootstraps written for it use `set -o
  // pipefail` and `source` under #!/bin/sh), dash on Debian hosts: here it is the host's bash.
  if (shell) lines.push(`${fstabPath(shell)} /bin/sh none bind,ro 0 0`);
  // A bind takes the flags of the mount it is made from: the shared directories before the rest
  // is read-only. Every bind made after (the kept paths) is read-only.
  for (const d of root.shared ?? []) lines.push(`${fstabPath(d)} ${fstabPath(d)} none bind,nosuid,nodev 0 0`);
  for (const m of root.readOnly ?? []) lines.push(readOnlyLine(m));
  lines.push(typeof tmp === 'string' ? `${fstabPath(tmp)} /tmp ext4 ${VOLUME_OPTIONS} 0 0` : `stratus-tmp /tmp tmpfs size=${tmp}m,mode=1777,nosuid,nodev 0 0`);
  const bind = (under: string) => kept.forEach((p, i) => {
    if (!relocated[i] && isUnder(p, under)) lines.push(`/proc/self/fd/${i + KEPT_FD} ${fstabPath(p)} none bind,X-mount.mkdir 0 0`);
  });
  bind('/tmp');
  const empty = (source: string, dir: string) => {
    const binds = kept.some((p, i) => !relocated[i] && isUnder(p, dir));
    lines.push(`${source} ${fstabPath(dir)} tmpfs size=1m,mode=755,nosuid,nodev${binds ? '' : ',ro'} 0 0`);
    if (binds) {
      bind(dir);
      lines.push(`${source} ${fstabPath(dir)} tmpfs remount,ro,nosuid,nodev 0 0`);
    }
  };
  empty('stratus-shm', '/dev/shm');
  for (const dir of hide) empty('stratus-hide', dir);
  if (relocated.some(Boolean)) {
    lines.push(`stratus-kept ${KEPT_ROOT} tmpfs size=1m,mode=700,nosuid,nodev 0 0`);
    kept.forEach((_, i) => { if (relocated[i]) lines.push(`/proc/self/fd/${i + KEPT_FD} ${KEPT_ROOT}/${i} none bind,X-mount.mkdir 0 0`); });
  }
  // Last: their sources are seen through the kept paths bound above.
  if (code) lines.push(`${fstabPath(keptPathIn(kept, relocated, code))} ${TASK_ROOT} none bind,ro,nosuid,nodev 0 0`);
  if (layers) lines.push(`${fstabPath(keptPathIn(kept, relocated, layers))} ${OPT_ROOT} none bind,ro,nosuid,nodev 0 0`);
  return lines.join('\n') + '\n';
}

/** Why a function's layers cannot go to /opt on this host. */
function layersClash(runtimeAt: string): string {
  return `the function's layers cannot be presented at ${OPT_ROOT}: this host's runtime interpreter is installed under it (${runtimeAt}), and would be hidden by them`;
}

/**
 * What an environment must not see of the host (real paths of the directories that exist):
 * /opt, and the standard directories every user may write to that /tmp's tmpfs does not cover.
 * Nested ones (a /var/lock that is /run/lock) count once. Other world-writable directories a
 * host may have (Ubuntu's /var/crash, say) stay visible: a scan at start would miss those made
 * later, and hide the ones an operator shares with functions on purpose.
 */
export function hostDirsToHide(candidates: readonly string[] = ['/opt', '/var/tmp', '/var/lock', '/run/lock', '/dev/mqueue']): string[] {
  const found = new Set<string>();
  for (const c of candidates) {
    try {
      const real = fs.realpathSync(c);
      if (fs.statSync(real).isDirectory() && !isUnder(real, '/tmp') && !isUnder(real, '/dev/shm')) found.add(real);
    } catch { /* not on this host */ }
  }
  return [...found].filter((f) => ![...found].some((g) => g !== f && isUnder(f, g)));
}

/**
 * The shared directories (STRATUS_SHARED_DIRS) as real paths, once each (not those under another):
 * existing directories, none the whole file system nor under what environments have of their own
 * (/tmp, /dev/shm, the hidden directories, /var/task, /var/runtime, the kernel's /proc, /sys and
 * /dev). Throws, naming the first that is not.
 */
export function sharedDirs(dirs: readonly string[], hide: readonly string[]): string[] {
  const own = ['/tmp', '/dev/shm', ...hide, TASK_ROOT, RUNTIME_ROOT, KEPT_ROOT, ...KERNEL_DIRS];
  const found = dirs.map((d) => {
    const no = (why: string) => new Error(`STRATUS_SHARED_DIRS names "${d}", which ${why}`);
    let real: string;
    try { real = fs.realpathSync(d); } catch { throw no('does not exist'); }
    if (!fs.statSync(real).isDirectory()) throw no('is not a directory');
    if (real === '/') throw no('is the whole file system: environments see it read-only but for /tmp, as Lambda\'s');
    const under = own.find((o) => isUnder(real, o));
    if (under) throw no(`is ${real === under ? '' : 'under '}${under}, which every environment has of its own`);
    return real;
  });
  return [...new Set(found)].filter((f) => !found.some((g) => g !== f && isUnder(f, g)));
}

/**
 * Where a program is installed: the directory above its bin/ (node's and python's prefix, with
 * their lib/), else its own directory. Kept visible when it lies under what an environment hides.
 */
export function installPrefix(program: string): string {
  const dir = path.dirname(program);
  return path.basename(dir) === 'bin' ? path.dirname(dir) : dir;
}

/**
 * An fd of a regular file holding `text` whose name is already gone (the caller closes it),
 * readable too: the exec shim preads ENV_FD.
 */
function unlinkedFile(text: string): number {
  const fd = openUnlinked('mounts');
  try {
    fs.writeFileSync(fd, text);
    return fd;
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/**
 * Namespaces + cgroup v1 + a uid per environment. The launcher joins the environment's cgroups
 * before anything else runs, then becomes `setpriv --pdeathsig KILL unshare ... --kill-child`:
 * if the server dies (even SIGKILL) unshare is killed, which kills the namespace's pid 1, which
 * makes the kernel kill everything in the pid namespace. Inside, as root in the new mount
 * namespace: the host's file system read-only (read-only.ts) but for the shared directories, a
 * private /tmp (ephemeral storage size), an empty read-only /dev/shm and /opt (Lambda's holds
 * layers), /var/tmp and /run/lock (see mountTable), host paths that must stay visible under them
 * bound back, `ulimit -n 1024` and `-u 1024`, then the runtime runs.
 *
 * All of those mounts are made by one `mount -a` from a mount table passed as TABLE_FD (an unlinked
 * file): one exec instead of a mount and a mkdir per path (a cold start without the pool spent
 * ~10 ms here on those execs when three host paths were under /tmp).
 *
 * Every process of an environment runs under SCHED_BATCH (`chrt --batch 0` before setpriv, where
 * the host has chrt): the same CPU share and limits, but a function woken (by its next event, a
 * timer) does not preempt the task running on that CPU; it runs when that task sleeps or its slice
 * ends. Under load that task is mostly the server, whose writes wake the functions: preempted in
 * the middle of its work at each one, it served 7-15% fewer invocations a second at 16
 * concurrent (9 of 10 pairs of rounds, policies switched between rounds on the same
 * environments). A function woken on an idle CPU runs at once, as before; the exec costs an
 * unpooled cold start ~0.8 ms (pooled runtimes are launched beforehand).
 */
export class NamespaceDriver implements SandboxDriver {
  readonly name = 'namespace' as const;
  readonly verifiesPeers = true;
  readonly logFd = LOG_FD;
  readonly apiFd = API_FD;
  private readonly tree: CgroupTree;
  private readonly uids: UidAllocator;
  private readonly handles = new Set<NamespaceHandle>();
  readonly bins: { sh: string; setpriv: string; unshare: string; mount: string; bash: string | null; env: string | null; sleep: string | null; chrt: string | null };

  /** Per-uid copies of the host's /etc/passwd with that uid's entry (see `passwdFor`). */
  private etcDir: string | null = null;
  private hostPasswd: string | null = null;
  /** What is bound over /bin/sh inside environments (the host's bash), or null. */
  private readonly shell: string | null;
  /** Host directories hidden under an empty read-only tmpfs (hostDirsToHide). */
  private readonly hide: string[];
  /** What starts the command inside (see exec.ts), or null: setpriv's execvp then does. */
  private readonly shim: ExecShim | null;
  /** Whether cgroup moves skip the RCU grace period wait (see favorDynmods); set by init(). */
  private dynmods: DynmodsState | null = null;
  /** What binds a pooled runtime's code at /var/task, or why there is none; set by init(). */
  private mounter: TaskMounter | string = 'not started';
  /** What makes environments' /tmp volumes, or why /tmp is a tmpfs; set by init(). */
  private volumes: EphemeralVolumes | string = 'not started';
  /** Whether RUNTIME_ROOT exists on the host to bind runtimes on, or why it does not. */
  private readonly runtimeMount: true | string;
  /** Whether OPT_ROOT exists on the host to bind layers on, or why it does not. */
  private readonly optMount: true | string;
  /** Environments whose /tmp volume could not be made, so that got a tmpfs (with the last reason). */
  private readonly volumeFailures = { count: 0, last: '' };
  /** Whether environments see the host's file system read-only, or why not; set by init(). */
  private readOnly: true | string = 'not started';
  /** Host directories every environment may write to (real paths; see sharedDirs). */
  private readonly shared: string[];

  constructor(private readonly opts: { favorDynmods?: boolean; python?: string | null; ephemeralDir?: string; defaultEphemeralMB?: number; sharedDirs?: readonly string[] } = {}) {
    this.tree = new CgroupTree();
    this.uids = new UidAllocator();
    this.bins = {
      sh: findExecutable('sh')!, setpriv: findExecutable('setpriv')!, unshare: findExecutable('unshare')!, mount: findExecutable('mount')!,
      bash: findExecutable('bash'), env: findExecutable('env'), sleep: findExecutable('sleep'), chrt: findExecutable('chrt'),
    };
    this.shell = this.bins.bash && fs.existsSync('/bin/sh') ? this.bins.bash : null;
    // /opt first, made if need be: hidden under an empty tmpfs whatever the host keeps there,
    // with a function's layers bound over that (the mounter waits for the tmpfs, see task-root.ts).
    this.optMount = mountPoint(OPT_ROOT);
    this.hide = hostDirsToHide();
    this.shared = sharedDirs(opts.sharedDirs ?? [], this.hide);
    this.shim = ExecShim.install();
    this.runtimeMount = mountPoint(RUNTIME_ROOT);
  }

  async init(): Promise<number> {
    const dir = this.opts.ephemeralDir;
    [this.dynmods, this.mounter, this.volumes, this.readOnly] = await Promise.all([
      favorDynmods(this.bins, this.opts.favorDynmods ?? true),
      TaskMounter.start(this.opts.python ?? null),
      dir ? EphemeralVolumes.start(dir, this.opts.python ?? null, this.opts.defaultEphemeralMB ?? 512) : 'no directory for /tmp volumes was given',
      probeReadOnlyRemount(this.bins),
    ]);
    return this.tree.cleanStale();
  }

  /** The /tmp volumes once init() has started them; null when there are none (this.volumes says why). */
  private get tmpVolumes(): EphemeralVolumes | null {
    return typeof this.volumes === 'string' ? null : this.volumes;
  }

  /** The mounter once init() has started it; null when there is none (this.mounter says why). */
  private get taskMounter(): TaskMounter | null {
    return typeof this.mounter === 'string' ? null : this.mounter;
  }

  /** Whether the host has a /root to mount KEPT_ROOT's tmpfs on (see mountTable). */
  private readonly keptRootExists = (() => {
    try { return fs.lstatSync(KEPT_ROOT).isDirectory(); } catch { return false; }
  })();

  /** /var/runtime where it could be made on the host (the mount point of each environment's bind). */
  runtimeRoot(): string | null {
    return this.runtimeMount === true ? RUNTIME_ROOT : null;
  }

  /** /var/task once init() has the mounter: every environment of this driver then sees its code there. */
  taskRoot(codeDir: string): string {
    return this.taskMounter ? TASK_ROOT : codeDir;
  }

  /** /opt once init() has the mounter (and /opt could be made on the host), as /var/task. */
  optRoot(layersDir?: string): string {
    return this.layersAt ?? layersDir ?? OPT_ROOT;
  }

  /** Where environments' layers are bound (OPT_ROOT), or null when they stay at their real paths. */
  private get layersAt(): typeof OPT_ROOT | null {
    return this.taskMounter && this.optMount === true ? OPT_ROOT : null;
  }

  describe(): SandboxDescription {
    const [lo, hi] = this.uids.range;
    return {
      driver: 'namespace',
      isolation: [
        `own uid per environment (${lo}-${hi}), never the server's; no capabilities, no_new_privs`,
        `mount, pid, ipc and uts namespaces; ${this.readOnly === true ? `the host's file system read-only (its mounts remounted read-only in the environment's namespace, as Lambda's is but /tmp)${this.shared.length ? `, but for the shared directories ${this.shared.join(', ')}` : ''}; ` : ''}`
          + `private ${this.tmpVolumes ? '/tmp on an ext4 volume of its own (ephemeral storage size, a loop device over a file of that size in the data dir; not counted as memory)' : 'tmpfs /tmp (ephemeral storage size)'}; empty read-only /dev/shm (Lambda has none: no POSIX shared memory or semaphores)${this.hide.length ? `, ${this.hide.join(', ')} (the host's /opt, where the function's layers go, and its standard shared writable directories)` : ''}`,
        'cgroup v1 per environment: memory (limit = memory size), cpu (1769 MB = 1 vCPU), pids.max 1024; fd limit 1024',
        'Runtime API listener per environment, connections only from sockets its own processes hold (and its uid made)',
        'PR_SET_PDEATHSIG + pid namespace: no environment process outlives the server',
        ...(this.dynmods?.holder ? [this.dynmods.line] : []),
        ...(this.taskMounter ? [`the function's code read-only at ${TASK_ROOT}${this.optMount === true ? `, its layers read-only at ${OPT_ROOT}` : ''}`] : []),
        ...(this.runtimeMount === true ? [`the runtime's files read-only at ${RUNTIME_ROOT}`] : []),
      ],
      warnings: [
        'no network namespace: functions can reach loopback services of the host (as in Lambda, they reach the network)',
        ...(typeof this.mounter === 'string' ? [`code is presented at its real path (<dataDir>/code/<sha>), not /var/task: ${this.mounter}`] : []),
        ...(typeof this.runtimeMount === 'string' ? [`runtimes run from their host paths, not ${RUNTIME_ROOT}: ${this.runtimeMount}`] : []),
        ...(this.taskMounter && typeof this.optMount === 'string' ? [`layers are presented at their real paths (<dataDir>/code/layers-<sha>), not ${OPT_ROOT}: ${this.optMount}`] : []),
        ...(typeof this.readOnly === 'string' ? [`the host's file system is not made read-only in environments (a write outside /tmp fails only where the function's uid may not write: EACCES, not Lambda's EROFS): ${this.readOnly}`] : []),
        ...(typeof this.volumes === 'string' ? [`/tmp is a tmpfs, so what a function writes there counts against its memory: ${this.volumes}`] : []),
        ...(this.volumeFailures.count ? [`${this.volumeFailures.count} environment(s) got a tmpfs /tmp because their volume could not be made: ${this.volumeFailures.last}`] : []),
        ...(this.shim ? [] : [noShimWarning('a shell (which also takes its variables: a shell\'s own, such as UID, cannot be set)')]),
        ...(this.dynmods && !this.dynmods.holder ? [this.dynmods.line] : []),
      ],
    };
  }

  /**
   * A passwd file naming the environment's uid (sbx_user<uid>, home /home/sbx_user<uid>, as
   * Lambda's sandbox users are), bound over /etc/passwd inside the environment: without an entry,
   * node's os.homedir() and os.userInfo() throw, and with them the AWS SDK's config loading when
   * HOME is unset (it is, as in Lambda). Null when it cannot be written: the environment then
   * sees the host's.
   */
  private passwdFor(uid: number): string | null {
    try {
      if (this.hostPasswd === null) this.hostPasswd = fs.readFileSync('/etc/passwd', 'utf8');
      if (this.etcDir === null) {
        removeStale(os.tmpdir(), 'stratus-etc');
        this.etcDir = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-etc-${process.pid}-`));
        fs.chmodSync(this.etcDir, 0o711);
      }
      const file = path.join(this.etcDir, `passwd-${uid}`);
      if (!fs.existsSync(file)) {
        const host = this.hostPasswd.endsWith('\n') || this.hostPasswd === '' ? this.hostPasswd : `${this.hostPasswd}\n`;
        fs.writeFileSync(file, `${host}sbx_user${uid}:x:${uid}:${uid}::/home/sbx_user${uid}:/sbin/nologin\n`, { mode: 0o644 });
      }
      return file;
    } catch {
      return null;
    }
  }

  launch(spec: LaunchSpec): SandboxHandle {
    // A shipped runtime's interpreter's installation too (node or python under /opt, say), when
    // it is hidden. Not a custom runtime's, nor a wrapper script's: those are the function's (a
    // bootstrap symlinked out of its code, or a wrapper named anywhere, must not bring a host
    // directory in).
    const interpreter = (spec.shipped ?? !spec.dropPrivileges) ? spec.interpreter ?? spec.command[0] : undefined;
    const program = interpreter ? installPrefix(realpathOr(interpreter)) : null;
    // Layers go over /opt: an interpreter installed there would vanish from under the runtime.
    const layersAt = this.layersAt;
    const clash = layersAt && program && isUnder(program, OPT_ROOT) ? program : null;
    if (spec.layers && layersAt && clash) {
      spec.bequest?.release();
      throw new Error(layersClash(clash));
    }
    // A reset's successor: the /tmp of the environment it replaces, and that one's uid, which
    // owns what is in it (see bequeath()).
    const bequest = spec.bequest instanceof NamespaceBequest ? spec.bequest.take(spec.limits.ephemeralMB) : null;
    if (!bequest) spec.bequest?.release();
    const uid = bequest?.uid ?? this.uids.allocate();
    const volumes = this.tmpVolumes;
    let volume: Volume | null = bequest?.volume ?? null;
    // The uid and the /tmp volume back to their pools: if the launch fails, once the environment
    // is gone, or once the successor it leaves them to (a reset) does not come.
    const free = () => {
      this.uids.release(uid);
      if (volume) volumes?.release(volume);
    };
    let cg: EnvCgroup;
    try {
      cg = this.tree.create(spec.envId);
    } catch (e) {
      free();
      throw e;
    }
    cg.setMemory(spec.limits.memoryMB);
    cg.setCpu(spec.deferCpuLimit ? null : spec.limits.memoryMB);
    const kept = [...new Set([...spec.keepPaths.map(realpathOr), ...(program ? [program] : [])])].filter((p) => this.hidden(p));
    // Where the code, layers and runtime are bound at /var/task, /opt and /var/runtime, the kept
    // paths but the interpreter's installation are only the sources of those binds: out of sight.
    const relocate = this.taskMounter !== null && layersAt !== null && this.runtimeMount === true && this.keptRootExists;
    const relocated = kept.map((p) => relocate && p !== program);
    const inner = this.innerScript(spec, uid, kept);
    const b = this.bins;
    // SCHED_BATCH (see the class comment): set by chrt, which then execs setpriv; inherited by every process of the environment.
    const outer = `s=$1; shift; for f; do echo $$ > "$f" || exit 125; done; exec ${b.chrt ? `${b.chrt} --batch 0 ` : ''}${b.setpriv} --pdeathsig KILL ${b.unshare} --mount --pid --ipc --uts --fork --kill-child --mount-proc ${b.sh} -c "$s" stratus-env`;
    let child: import('node:child_process').ChildProcess;
    let table: number | undefined;
    let report: ExecReport | null = null;
    volume ??= volumes?.take(spec.limits.ephemeralMB) ?? null;
    // No volume ready: the launcher waits for the one made now (without a free fd to wait on, a tmpfs).
    const gated = volumes !== null && volume === null && kept.length <= GATE_FD - KEPT_FD;
    if (volumes && !volume && !gated) this.noteVolumeFailure(spec.envId, `${kept.length} host paths kept visible leave no descriptor to wait for a volume on`);
    const root: { readOnly: MountEntry[]; shared: readonly string[] } = { readOnly: [], shared: this.shared };
    const tableFor = (tmp: Volume | null) => mountTable(tmp?.device ?? spec.limits.ephemeralMB, kept, this.passwdFor(uid) ?? undefined, this.shell ?? undefined, this.hide,
      this.taskMounter && spec.code ? realpathOr(spec.code) : undefined, this.runtimeMount === true ? spec.runtimeDir ?? null : undefined,
      layersAt && spec.layers ? realpathOr(spec.layers) : undefined, relocated, root);
    // A custom runtime's launch runs as root on the host until setpriv: the function's
    // variables (LD_PRELOAD, GLIBC_TUNABLES, ...) are for its bootstrap only. The launch itself
    // gets none; the exec shim starts the bootstrap with them, from ENV_FD (or, without a shim,
    // a shell sources them once privileges are dropped: see innerScript).
    let envFile: number | undefined;
    try {
      root.readOnly = this.hostMountsNow();
      if (spec.dropPrivileges) {
        envFile = unlinkedFile(this.shim ? environBlock(spec.env) : exportScript(spec.env));
        fs.fchownSync(envFile, uid, uid);
        fs.fchmodSync(envFile, 0o400);
      }
      table = unlinkedFile(gated ? '' : tableFor(volume));
      // fds 4-9 in between are /dev/null until the inner script uses or closes them.
      const stdio = launchStdio(spec, ['pipe', 'pipe', 'pipe', table], LOG_FD, API_FD);
      if (gated) {
        while (stdio.length < GATE_FD) stdio.push('ignore');
        stdio[GATE_FD] = 'pipe';
      }
      if (this.shim) report = this.shim.attach(stdio, spec.command[0]!);
      if (envFile !== undefined) {
        while (stdio.length <= ENV_FD) stdio.push('ignore');
        stdio[ENV_FD] = envFile;
      }
      child = spawn(b.sh, ['-c', outer, 'stratus-launch', gated ? `read -r _ <&${GATE_FD} || exit 126\n${inner}` : inner, ...cg.procsFiles()],
        { env: spec.dropPrivileges ? {} : spec.env, stdio });
    } catch (e) {
      report?.close();
      if (table !== undefined) fs.closeSync(table);
      void cg.remove();
      free();
      throw e;
    } finally {
      if (envFile !== undefined) fs.closeSync(envFile);
    }
    if (!gated) fs.closeSync(table);
    const h = new NamespaceHandle(child, uid, cg, spec.limits, kept, (p) => this.hidden(p), launchedStreams(child, LOG_FD, API_FD), report, (keep) => {
      this.handles.delete(h);
      // Every process of the uid is gone: its /tmp may go to a successor with it.
      if (keep && volume) return new NamespaceBequest(uid, volume, spec.limits.ephemeralMB, free);
      free();
      return null;
    }, this.taskMounter, { layersAt, clash, relocated }, this.bins.sleep !== null);
    if (gated) {
      const fd = table;
      const gate = (child.stdio as unknown as Array<import('node:net').Socket | null>)[GATE_FD]!;
      gate.on('error', () => { /* the launcher is gone */ });
      void volumes!.make(spec.limits.ephemeralMB).then((v) => v, (e: Error) => {
        if (!h.destroyed) this.noteVolumeFailure(spec.envId, e.message);
        return null;
      }).then((v) => {
        try {
          if (h.destroyed) {
            if (v) volumes!.release(v);
            gate.destroy();
            return;
          }
          volume = v;
          fs.writeSync(fd, tableFor(v), 0);
          gate.end('\n');
        } catch {
          void h.destroy();
        } finally {
          fs.closeSync(fd);
        }
      });
    }
    this.handles.add(h);
    return h;
  }

  /**
   * The host's mounts a launch makes read-only (read-only.ts), from the server's own mount table:
   * the environment's namespace starts as its copy. Read at every launch, as mounts come and go.
   */
  private hostMountsNow(): MountEntry[] {
    if (this.readOnly !== true) return [];
    return readOnlyMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'), ['/tmp', '/dev/shm', ...this.hide, ...this.shared]);
  }

  /** An environment gets a tmpfs /tmp after all: said on stderr and in describe(). */
  private noteVolumeFailure(envId: string, why: string): void {
    this.volumeFailures.count++;
    this.volumeFailures.last = why;
    console.error(`stratus: environment ${envId} gets a tmpfs /tmp, counted against its memory: ${why}`);
  }

  /** Whether an environment sees `p` only if it is kept (under /tmp, /dev/shm or a hidden directory). */
  private hidden(p: string): boolean {
    return isUnder(p, '/tmp') || isUnder(p, '/dev/shm') || this.hide.some((d) => isUnder(p, d));
  }

  /** TABLE_FD holds the mount table (mountTable); kept paths are opened from KEPT_FD on before /tmp is hidden. */
  private innerScript(spec: LaunchSpec, uid: number, kept: string[]): string {
    const lines: string[] = [];
    kept.forEach((p, i) => lines.push(`exec ${i + KEPT_FD}<${sq(p)} || exit 126`));
    // -c: the bind sources are /proc/self/fd/N, which must not be resolved to their (hidden) paths.
    lines.push(`${this.bins.mount} -a -c -T /proc/self/fd/${TABLE_FD} || exit 126`);
    // Every single-digit fd past stderr: the table, the kept paths, the /dev/null fillers.
    lines.push('exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-');
    lines.push(`ulimit -n ${FD_LIMIT} || exit 126`);
    // Lambda's quota of processes and threads, as getrlimit(RLIMIT_NPROC) and `ulimit -u` show it
    // (the uid is the environment's alone, so it counts what pids.max counts; pids.max enforces
    // it either way). bash names it -u, dash and ash -p.
    lines.push(`ulimit -u ${PIDS_MAX} 2>/dev/null || ulimit -p ${PIDS_MAX} 2>/dev/null`);
    if (spec.cwd) lines.push(`cd ${sq(spec.cwd)} || exit 126`);
    // sh exports PWD (the server's working directory, where it started) and `cd` adds OLDPWD:
    // neither is the runtime's. Its environment is spec.env alone, as Lambda's is (a shell
    // bootstrap sets its own PWD, the task root).
    lines.push('unset OLDPWD PWD');
    // From here on, what this sh itself would print ("Killed" when the runtime dies of a signal)
    // goes nowhere: the runtime gets the real stderr back (kept on fd 9) in a subshell that
    // becomes it. (dash applies a command's own redirections in itself while it waits, so
    // `cmd 2>&9` would let its "Killed" through.)
    lines.push('exec 9>&2 2>/dev/null');
    // setpriv runs the shim (SHIM_FD, see exec.ts), which starts the command with one execve
    // and reports what the kernel refused; never a shell fallback.
    const cmd = [...(this.shim ? [`/proc/self/fd/${SHIM_FD}`] : []), ...spec.command].map(sq).join(' ');
    const sp = this.bins.setpriv;
    let run: string;
    if (spec.dropPrivileges) {
      const groups = spec.groups.length ? `--groups=${spec.groups.join(',')}` : '--clear-groups';
      const drop = `${sp} --reuid=${uid} --regid=${uid} ${groups} --inh-caps=-all --bounding-set=-all --no-new-privs --`;
      if (this.shim) {
        // The shim starts the command with the environment on ENV_FD (launch()).
        run = `${drop} ${cmd}`;
      } else {
        // No shim: as the environment's uid, a shell sources the variables from ENV_FD (the
        // file is that uid's, mode 0400) and becomes the command. Inside, sh is bash where the
        // host has one (mountTable): it exports PWD and SHLVL of its own (SHLVL even when unset),
        // and can close ENV_FD; a shell's own variables (UID, PPID, ...) cannot be set so.
        const clean = this.shell && this.bins.env && !('SHLVL' in spec.env) ? `${this.bins.env} -u SHLVL ` : '';
        const env = `unset PWD OLDPWD; . /proc/self/fd/${ENV_FD} && ${this.shell ? `exec ${ENV_FD}<&- && ` : ''}exec ${clean}"$@"`;
        run = `${drop} ${this.bins.sh} -c ${sq(env)} stratus-env ${cmd}`;
      }
    } else {
      // Root inside the namespaces until the runtime drops to its uid on assignment: only the
      // capabilities needed for that remain.
      run = `${sp} --inh-caps=-all --bounding-set=-all,+setuid,+setgid --no-new-privs -- ${cmd}`;
    }
    // SIGUSR1 (terminateRuntime) asks it to outlive the runtime: at a shutdown the runtime gets
    // SIGTERM and may exit while its extensions still handle their SHUTDOWN. (A trap runs once
    // the runtime has exited; the subshell resets it, so the runtime never has it.)
    if (this.bins.sleep) lines.push("trap 'linger=1' USR1");
    lines.push(`(exec 2>&9 9>&-; exec ${run})`);
    // This sh stays pid 1 of the namespace (root, never changes credentials, so the parent-death
    // signal --kill-child gave it survives): when it dies the kernel kills the whole namespace.
    // The runtime's exit status comes back as sh reports it (128+N for signal N).
    if (this.bins.sleep) lines.push(`s=$?; [ -z "$linger" ] || exec ${this.bins.sleep} 3600; exit $s`);
    else lines.push('exit $?');
    return lines.join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.handles].map((h) => h.destroy()));
    await this.tree.removeAll();
    this.uids.close();
    if (this.etcDir) fs.rmSync(this.etcDir, { recursive: true, force: true });
    this.shim?.remove();
    await Promise.all([
      this.taskMounter?.stop(),
      this.tmpVolumes?.stop(),
      this.dynmods?.holder ? stopResident(this.dynmods.holder) : null,
    ]);
  }
}

class NamespaceHandle implements SandboxHandle {
  private destroying: Promise<SandboxBequest | null> | null = null;
  /** Memory kills in the environment's cgroup that happened before its last invocation ended (see peakMemoryMB). */
  private oomBase = 0;
  readonly gid: number;
  readonly logStream: import('node:stream').Readable | null;
  readonly apiChannel: import('node:net').Socket | null;
  constructor(
    readonly child: import('node:child_process').ChildProcess,
    readonly uid: number,
    private readonly cg: EnvCgroup,
    private limits: SandboxLimits,
    private readonly kept: string[],
    private readonly hidden: (p: string) => boolean,
    streams: ReturnType<typeof launchedStreams>,
    private readonly report: ExecReport | null,
    private readonly onGone: (keep: boolean) => SandboxBequest | null,
    private readonly mounter: TaskMounter | null,
    /** Where presentCode binds layers (null: they stay at their paths), and the runtime installation under it, if any. */
    private readonly opt: { layersAt: typeof OPT_ROOT | null; clash: string | null; relocated: boolean[] },
    /** Whether pid 1 can outlive the runtime (SIGUSR1, see innerScript). */
    private readonly lingers: boolean,
  ) {
    this.gid = uid;
    this.logStream = streams.logStream;
    this.apiChannel = streams.apiChannel;
  }

  async presentCode(codeDir: string, layersDir?: string): Promise<void> {
    if (!this.mounter) return;
    if (layersDir && this.opt.layersAt && this.opt.clash) throw new Error(layersClash(this.opt.clash));
    // The launched process (unshare) made the namespace and stays in it, as its pid 1's parent;
    // once it has exited, its pid may be another process's.
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) {
      throw new Error('the environment exited before its code was bound at /var/task');
    }
    // Both requests at once: the mounter answers them in turn, without a round trip between.
    const pid = this.child.pid;
    // The directories as the environment sees them (relocated kept paths: see mountTable).
    const at = (dir: string) => keptPathIn(this.kept, this.opt.relocated, realpathOr(dir));
    await Promise.all([
      this.mounter.present(pid, at(codeDir)),
      ...(layersDir && this.opt.layersAt ? [this.mounter.present(pid, at(layersDir), this.opt.layersAt)] : []),
    ]);
  }

  setLimits(limits: SandboxLimits): void {
    if (limits.memoryMB !== this.limits.memoryMB) this.cg.setMemory(limits.memoryMB);
    this.limits = { ...limits, ephemeralMB: this.limits.ephemeralMB };
  }

  applyCpuLimit(): void {
    this.cg.setCpu(this.limits.memoryMB);
  }

  signal(signal: NodeJS.Signals): boolean {
    if (this.destroying) return false;
    for (const pid of this.inside()) { try { process.kill(pid, signal); } catch { /* gone */ } }
    return true;
  }

  terminateRuntime(graceMs: number): Promise<void> {
    // Without `sleep` pid 1 cannot outlive the runtime (innerScript): its exit would end the
    // extensions in the middle of their SHUTDOWN, which they get as before, without the SIGTERM.
    if (this.destroying || !this.lingers) return Promise.resolve();
    // pid 1 (sh) is the child of the launcher (unshare) and the runtime its first child; later
    // ones are processes of the function's that outlived their parents.
    const members = this.cg.members().map((pid) => ({ pid, st: procStat(pid) }));
    const pid1 = members.find((m) => m.st?.ppid === this.child.pid);
    const runtime = members.filter((m) => pid1 && m.st?.ppid === pid1.pid).sort((a, b) => a.st!.start - b.st!.start || a.pid - b.pid)[0];
    if (!pid1 || !runtime) return Promise.resolve();
    try {
      process.kill(pid1.pid, 'SIGUSR1');
      process.kill(runtime.pid, 'SIGTERM');
    } catch { return Promise.resolve(); }
    return untilGone(runtime.pid, graceMs);
  }

  /**
   * The processes of the environment's namespace (its cgroup's members), not the one outside it
   * that made it: its parent, the server, would be told it stopped, and it runs none of the
   * function's code.
   */
  readonly members = (): number[] => this.cg.members();

  private inside(): number[] {
    const outside = this.child.pid;
    return this.cg.members().filter((pid) => pid !== outside);
  }

  resetPeakMemory(): void {
    this.cg.resetPeak();
  }

  /**
   * The environment's peak memory, as Lambda's REPORT counts it: everything its processes had
   * resident. The memory cgroup's peak leaves out the pages of files its processes share with
   * other environments (node's or python's own code, its libraries: in the page cache, charged to
   * whoever read them first), which Lambda, one micro-VM per environment, counts: a Node.js hello
   * world reported 8 MB here with 45 MB resident. So the peak is the larger of the cgroup's and of
   * the largest peak resident size (VmHWM) among its processes, at most the memory size (summed,
   * pages processes share after a fork counted once each: 4 sleeping children of a 150 MB Python
   * made 812 MB). Their /proc files are read when the cgroup's peak has grown by a megabyte (what
   * REPORT counts in), or a second after the last reading, not at every invocation: the peak grows
   * by a few pages at most invocations of a warm environment (socket buffers, page tables), and
   * reading the files each time cost 5 us of the server's time per invocation.
   */
  peakMemoryMB(): number {
    const charged = this.cg.peakBytes();
    // Near its limit, a process of the environment may have been killed for its memory (a child
    // the runtime lives on after): that kill is not the runtime's, if the runtime dies later.
    // (Only where the kernel counts kills: failcnt, the fallback, counts every time the limit was hit.)
    if (charged >= (this.limits.memoryMB - 1) * MIB) this.oomBase = this.cg.countedOomKills() ?? this.oomBase;
    const now = performance.now();
    if (charged >= this.residentAt.charged + MIB || now - this.residentAt.time > 1000) {
      this.residentAt = { charged, time: now };
      this.residentPeakKB = Math.max(this.residentPeakKB, ...this.inside().map(peakResidentKB));
    }
    const bytes = Math.max(charged, this.residentPeakKB * 1024);
    return Math.min(this.limits.memoryMB, Math.ceil(bytes / (1024 * 1024)));
  }

  private residentPeakKB = 0;
  private residentAt = { charged: -1, time: 0 };

  oomKilled(): boolean {
    return this.cg.oomKills() > this.oomBase;
  }

  exitStatus(code: number | null, signal: NodeJS.Signals | null): { code: number | null; signal: NodeJS.Signals | null } {
    // pid 1 (sh) reports a runtime killed by signal N as exit status 128+N
    if (signal === null && code !== null && code > 128 && code < 128 + 32) {
      const name = Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0] as NodeJS.Signals | undefined;
      if (name) return { code: null, signal: name };
    }
    return { code, signal };
  }

  execError(): string | null {
    return this.report?.error() ?? null;
  }

  fits(limits: SandboxLimits, paths: string[]): boolean {
    if (limits.ephemeralMB !== this.limits.ephemeralMB) return false;
    return paths.every((p) => {
      const r = realpathOr(p);
      if (!this.hidden(r)) return true;
      return this.kept.some((k) => isUnder(r, k));
    });
  }

  get destroyed(): boolean {
    return this.destroying !== null;
  }

  destroy(): Promise<void> {
    return this.end(false).then(() => undefined);
  }

  bequeath(): Promise<SandboxBequest | null> {
    return this.end(true);
  }

  private end(keep: boolean): Promise<SandboxBequest | null> {
    if (!this.destroying) {
      this.destroying = (async () => {
        this.report?.close();
        try { this.child.kill('SIGKILL'); } catch { /* gone */ }
        await this.cg.remove();
        return this.onGone(keep);
      })();
    }
    return this.destroying;
  }
}

/**
 * A reset environment's /tmp volume (still attached: held by its descriptor) and the uid its
 * files belong to, both out of their pools until the successor's launch takes them or they are
 * released.
 */
class NamespaceBequest implements SandboxBequest {
  private done = false;
  constructor(readonly uid: number, readonly volume: Volume, private readonly ephemeralMB: number, private readonly free: () => void) {}

  /** For a launch with /tmp of `ephemeralMB`: this, once; null (and released) when it does not fit. */
  take(ephemeralMB: number): NamespaceBequest | null {
    if (this.done) return null;
    if (ephemeralMB !== this.ephemeralMB) { this.release(); return null; }
    this.done = true;
    return this;
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.free();
  }
}
