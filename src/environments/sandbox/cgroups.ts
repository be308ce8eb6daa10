import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { isLive, procStat, sq, startResident } from './shell.js';

/** cgroup v1 controllers each environment gets a group in. */
export const CONTROLLERS = ['memory', 'cpu', 'pids', 'freezer'] as const;
type Ctrl = (typeof CONTROLLERS)[number];

export const PIDS_MAX = 1024;
/** Lambda: 1769 MB of memory buys one full vCPU. */
export const MB_PER_CPU = 1769;
const CFS_PERIOD = 100_000;

export function cpuQuotaUs(memoryMB: number): number {
  return Math.max(1000, Math.round((CFS_PERIOD * memoryMB) / MB_PER_CPU));
}

export function cgroupsAvailable(root = '/sys/fs/cgroup'): { ok: boolean; missing: string[] } {
  const missing: string[] = [];
  for (const c of CONTROLLERS) {
    const probe = c === 'memory' ? 'memory.limit_in_bytes' : c === 'cpu' ? 'cpu.cfs_quota_us' : c === 'pids' ? 'pids.max' : 'freezer.state';
    // the root group has no freezer.state / pids.max: look for the files a child group would get
    const file = path.join(root, c, c === 'pids' || c === 'freezer' ? 'cgroup.procs' : probe);
    try { fs.accessSync(file, fs.constants.W_OK); } catch { missing.push(c); }
  }
  return { ok: missing.length === 0, missing };
}

/**
 * Start time of a process (jiffies since boot), to tell a live owner from a reused pid; null when
 * it is gone, or has exited and is not reaped yet.
 */
export function procStartTime(pid: number): string | null {
  const st = procStat(pid);
  return st && isLive(st) && Number.isFinite(st.start) ? String(st.start) : null;
}

function writeQuiet(file: string, value: string): boolean {
  try { fs.writeFileSync(file, value); return true; } catch { return false; }
}

function readPids(file: string): number[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch { return []; }
}

function killAll(pids: number[]): void {
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Removes one group directory (all controllers), first killing any member left behind. The
 * freezer stops a fork race while the members are killed.
 */
async function removeGroup(paths: Record<Ctrl, string>): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const members = readPids(path.join(paths.pids, 'cgroup.procs'));
    if (members.length > 0) {
      writeQuiet(path.join(paths.freezer, 'freezer.state'), 'FROZEN');
      killAll(readPids(path.join(paths.pids, 'cgroup.procs')));
      writeQuiet(path.join(paths.freezer, 'freezer.state'), 'THAWED');
    }
    let left = 0;
    for (const c of CONTROLLERS) {
      try { fs.rmdirSync(paths[c]); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left++; }
    }
    if (left === 0) return;
    await sleep(attempt < 10 ? 5 : 50);
  }
}

/** One environment's groups. */
export class EnvCgroup {
  private peakFd: number | null = null;
  constructor(readonly paths: Record<Ctrl, string>, private readonly hasMemsw: boolean, private readonly onRemoved: () => void = () => {}) {}

  /** The files to write the launcher's pid into. */
  procsFiles(): string[] {
    return CONTROLLERS.map((c) => path.join(this.paths[c], 'cgroup.procs'));
  }

  setMemory(memoryMB: number): void {
    const bytes = String(memoryMB * 1024 * 1024);
    const lim = path.join(this.paths.memory, 'memory.limit_in_bytes');
    const sw = path.join(this.paths.memory, 'memory.memsw.limit_in_bytes');
    // memsw must stay >= limit: the write order depends on the direction; retrying covers both.
    const ok = writeQuiet(lim, bytes);
    if (this.hasMemsw) writeQuiet(sw, bytes);
    if (!ok) writeQuiet(lim, bytes);
  }

  setCpu(memoryMB: number | null): void {
    writeQuiet(path.join(this.paths.cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD));
    writeQuiet(path.join(this.paths.cpu, 'cpu.cfs_quota_us'), memoryMB === null ? '-1' : String(cpuQuotaUs(memoryMB)));
  }

  setPids(max: number): void {
    writeQuiet(path.join(this.paths.pids, 'pids.max'), String(max));
  }

  resetPeak(): void {
    try {
      if (this.peakFd === null) this.peakFd = fs.openSync(path.join(this.paths.memory, 'memory.max_usage_in_bytes'), 'r+');
      fs.writeSync(this.peakFd, '0');
    } catch { /* group gone */ }
  }

  private readonly numBuf = Buffer.alloc(32);

  peakBytes(): number {
    try {
      if (this.peakFd === null) this.peakFd = fs.openSync(path.join(this.paths.memory, 'memory.max_usage_in_bytes'), 'r+');
      const n = fs.readSync(this.peakFd, this.numBuf, 0, 32, 0);
      return Number(this.numBuf.toString('latin1', 0, n));
    } catch { return 0; }
  }

  oomKills(): number {
    try {
      const n = this.countedOomKills();
      if (n !== null) return n;
      return Number(fs.readFileSync(path.join(this.paths.memory, 'memory.failcnt'), 'utf8')) > 0 ? 1 : 0;
    } catch { return 0; }
  }

  /** The group's OOM kills as the kernel counts them (oom_control's oom_kill), null where it does not (before Linux 4.13). */
  countedOomKills(): number | null {
    try {
      const m = /oom_kill (\d+)/.exec(fs.readFileSync(path.join(this.paths.memory, 'memory.oom_control'), 'utf8'));
      return m ? Number(m[1]) : null;
    } catch { return null; }
  }

  members(): number[] {
    return readPids(path.join(this.paths.pids, 'cgroup.procs'));
  }

  async remove(): Promise<void> {
    if (this.peakFd !== null) { try { fs.closeSync(this.peakFd); } catch { /* closed */ } this.peakFd = null; }
    await removeGroup(this.paths);
    this.onRemoved();
  }
}

/**
 * This server's subtree: /sys/fs/cgroup/<ctrl>/stratus/<pid>-<starttime>/<envId>. The owner's pid
 * and start time in the name let a later run remove what a crashed run left, without touching
 * the groups of another live Stratus on the same host.
 */
export class CgroupTree {
  readonly instance: string;
  private readonly hasMemsw: boolean;
  /** The groups this tree made: another execution service in the same process shares the instance directory. */
  private readonly mine = new Set<string>();

  constructor(private readonly root = '/sys/fs/cgroup') {
    this.instance = `${process.pid}-${procStartTime(process.pid) ?? '0'}`;
    this.hasMemsw = fs.existsSync(path.join(root, 'memory', 'memory.memsw.limit_in_bytes'));
    for (const c of CONTROLLERS) fs.mkdirSync(path.join(root, c, 'stratus', this.instance), { recursive: true });
  }

  private base(c: Ctrl): string {
    return path.join(this.root, c, 'stratus', this.instance);
  }

  create(envId: string): EnvCgroup {
    const paths = {} as Record<Ctrl, string>;
    for (const c of CONTROLLERS) {
      paths[c] = path.join(this.base(c), envId);
      fs.mkdirSync(paths[c], { recursive: true });
    }
    this.mine.add(envId);
    const g = new EnvCgroup(paths, this.hasMemsw, () => this.mine.delete(envId));
    g.setPids(PIDS_MAX);
    return g;
  }

  /** Removes groups of Stratus runs that are no longer alive (after a crash or SIGKILL). */
  async cleanStale(): Promise<number> {
    let removed = 0;
    const seen = new Set<string>();
    for (const c of CONTROLLERS) {
      let names: string[] = [];
      // Directories only: the hierarchy's own files (cgroup.procs, tasks, ...) are there too.
      try { names = fs.readdirSync(path.join(this.root, c, 'stratus'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name); } catch { continue; }
      for (const n of names) seen.add(n);
    }
    for (const inst of seen) {
      if (inst === this.instance) continue;
      const [pid, start] = inst.split('-');
      if (pid && procStartTime(Number(pid)) === start) continue; // owner alive
      await this.removeInstance(inst);
      removed++;
    }
    return removed;
  }

  private async removeInstance(inst: string, only?: Set<string>): Promise<void> {
    const envs = new Set<string>();
    for (const c of CONTROLLERS) {
      try { for (const e of fs.readdirSync(path.join(this.root, c, 'stratus', inst), { withFileTypes: true })) if (e.isDirectory()) envs.add(e.name); } catch { /* none */ }
    }
    if (only) for (const e of envs) if (!only.has(e)) envs.delete(e);
    for (const e of envs) {
      const paths = {} as Record<Ctrl, string>;
      for (const c of CONTROLLERS) paths[c] = path.join(this.root, c, 'stratus', inst, e);
      await removeGroup(paths);
    }
    for (const c of CONTROLLERS) { try { fs.rmdirSync(path.join(this.root, c, 'stratus', inst)); } catch { /* busy or gone */ } }
  }

  async removeAll(): Promise<void> {
    // Only this tree's groups; the instance directory goes once no other tree has groups in it.
    await this.removeInstance(this.instance, this.mine);
    this.mine.clear();
  }
}

/** The named, controller-less cgroup v1 hierarchy whose mount option turns the mode on. */
const DYNMODS_HIERARCHY = 'stratus-dynmods';

export interface DynmodsState {
  /** The process holding the mount, while it does. */
  holder: ChildProcess | null;
  /** One line for describe(): what is in effect, or why not. */
  line: string;
}

/**
 * Moving a process into a cgroup v1 group takes the kernel's cgroup_threadgroup_rwsem for
 * writing, which waits for an RCU grace period unless the rwsem is kept in its slow-reader mode.
 * On this 2-vCPU guest the first of an environment's four moves waited 16–21 ms when moves are
 * rare (so: every cold start without the pool). The mode is the `favordynmods` mount option of
 * cgroup v1 and v2 (Linux 6.0+; the cost is a slower fork and exit, by a memory barrier). One
 * mount of any hierarchy with it turns it on for all: this holds a named hierarchy without
 * controllers mounted in a private mount namespace of a process that reads its stdin. When the
 * server stops or exits, even by SIGKILL, the pipe closes, the process and its namespace go, and
 * with them the mount (some kernels, 6.18 here, keep the mode on once it was on, and say so in
 * dmesg). `enabled` false leaves the kernel as it is.
 */
export async function favorDynmods(bins: { sh: string; unshare: string; mount: string }, enabled: boolean): Promise<DynmodsState> {
  if (!enabled) return { holder: null, line: 'cgroup favordynmods not used (STRATUS_CGROUP_FAVORDYNMODS=0): a cold start without the pool can wait 10–20 ms for an RCU grace period' };
  const script = `${sq(bins.mount)} -t cgroup -o none,name=${DYNMODS_HIERARCHY},favordynmods ${DYNMODS_HIERARCHY} /tmp || exit 3; echo ready; read x`;
  const r = await startResident(bins.unshare, ['--mount', '--propagation', 'private', bins.sh, '-c', script], 5000);
  if (typeof r === 'string') return { holder: null, line: `cgroup favordynmods unavailable (${r}): moving an environment into its cgroups can wait for an RCU grace period, 10–20 ms of a cold start without the pool` };
  return { holder: r, line: 'cgroup v1 moves without an RCU grace period wait (favordynmods, held while the server runs)' };
}
