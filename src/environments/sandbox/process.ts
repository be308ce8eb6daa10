import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { ExecShim, SHIM_FD, noShimWarning, type ExecReport } from './exec.js';
import { OPT_ROOT } from './task-root.js';
import { findExecutable, launchedStreams, launchStdio, peakResidentKB, untilGone } from './shell.js';
import type { LaunchSpec, SandboxDescription, SandboxDriver, SandboxHandle, SandboxLimits } from './types.js';

const POLL_MS = 100;

function rssKB(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)/.exec(s);
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

function tree(pid: number, out: number[], depth = 0): number[] {
  out.push(pid);
  if (depth > 32 || out.length > 4096) return out;
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const kids = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean);
      for (const k of kids) tree(Number(k), out, depth + 1);
    }
  } catch { /* gone */ }
  return out;
}

/**
 * Fallback when the host has no root, namespaces or cgroups: a plain child process (its own
 * process group) of the server's uid. Memory is enforced by polling the tree's RSS; nothing
 * else is isolated, and describe() says so.
 */
export class ProcessDriver implements SandboxDriver {
  readonly name = 'process' as const;
  readonly verifiesPeers = false;
  readonly logFd = 3;
  readonly apiFd = 4;
  private readonly handles = new Set<ProcessHandle>();
  private timer: NodeJS.Timeout | null = null;
  private readonly setpriv = findExecutable('setpriv');
  /** What starts the command (see exec.ts), or null: setpriv's execvp (or node's spawn) then does. */
  private readonly shim = ExecShim.install();

  constructor(private readonly reasons: string[]) {}

  describe(): SandboxDescription {
    return {
      driver: 'process',
      isolation: ['plain child process per environment, environment variables built from scratch', `memory limit by polling RSS every ${POLL_MS} ms`],
      warnings: [
        `SANDBOX DISABLED: functions run as plain processes under the server's own uid (${process.getuid?.() ?? '?'}) — ${this.reasons.join('; ')}`,
        'functions can read the data dir, other functions\' code and signal or debug the server; run only trusted code',
        'no CPU, pids or /tmp limits; memory enforced by polling only (a process may go past it between two polls, 100 ms apart); processes that leave their process group can outlive environments, and processes a runtime started outlive a server killed with SIGKILL (the runtime itself does not)',
        'the host\'s file system as the server\'s uid sees it: writable wherever it may write (Lambda\'s is read-only but /tmp), /tmp and /dev/shm shared with the host and other functions',
        'code and layers at their paths in the data dir, not /var/task and /opt (module paths point there, and a bootstrap or wrapper script named or linked under them is started from there; a function that opens /opt itself, or a link of its to /opt, finds the host\'s)',
        ...(this.shim ? [] : [noShimWarning('execvp')]),
      ],
    };
  }

  /** A plain process sees the host's filesystem: the code at its own path. */
  taskRoot(codeDir: string): string {
    return codeDir;
  }

  /** No mounts: the layers at their own path (a function without layers sees the host's /opt). */
  optRoot(layersDir?: string): string {
    return layersDir ?? OPT_ROOT;
  }

  /** A plain process sees the host's filesystem: the runtime at its own path. */
  runtimeRoot(): string | null {
    return null;
  }

  launch(spec: LaunchSpec): SandboxHandle {
    spec.bequest?.release();
    // The shim by its descriptor (SHIM_FD), as the namespace driver runs it: its file may go.
    const run = this.shim ? [`/proc/self/fd/${SHIM_FD}`, ...spec.command] : spec.command;
    const cmd = this.setpriv ? [this.setpriv, '--pdeathsig', 'KILL', '--', ...run] : run;
    const stdio = launchStdio(spec, ['pipe', 'pipe', 'pipe'], this.logFd, this.apiFd);
    const report = this.shim ? this.shim.attach(stdio, spec.command[0]!) : null;
    let child: ChildProcess;
    try {
      child = spawn(cmd[0]!, cmd.slice(1), { env: spec.env, cwd: spec.cwd, stdio, detached: true });
    } catch (e) {
      report?.close();
      throw e;
    }
    const h = new ProcessHandle(child, spec.limits, launchedStreams(child, this.logFd, this.apiFd), report, () => this.handles.delete(h));
    this.handles.add(h);
    if (!this.timer) {
      this.timer = setInterval(() => { for (const x of this.handles) x.poll(); }, POLL_MS);
      this.timer.unref();
    }
    return h;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.handles].map((h) => h.destroy()));
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.shim?.remove();
  }
}

class ProcessHandle implements SandboxHandle {
  readonly uid = null;
  readonly gid = null;
  /** Plain processes have no uid of their own to check connections against. */
  readonly members = (): number[] => [];
  private peakKB = 0;
  private oom = false;
  private destroying: Promise<void> | null = null;
  readonly logStream: import('node:stream').Readable | null;
  readonly apiChannel: import('node:net').Socket | null;
  constructor(
    readonly child: ChildProcess,
    private limits: SandboxLimits,
    streams: ReturnType<typeof launchedStreams>,
    private readonly report: ExecReport | null,
    private readonly onGone: () => void,
  ) {
    this.logStream = streams.logStream;
    this.apiChannel = streams.apiChannel;
  }

  execError(): string | null {
    return this.report?.error() ?? null;
  }

  poll(): void {
    const pid = this.child.pid;
    if (!pid || this.child.exitCode !== null || this.child.signalCode !== null) return;
    let kb = 0;
    for (const p of tree(pid, [])) kb += rssKB(p);
    if (kb > this.peakKB) this.peakKB = kb;
    if (kb > this.limits.memoryMB * 1024) {
      this.oom = true;
      this.killGroup();
    }
  }

  private killGroup(): void {
    const pid = this.child.pid;
    if (!pid) return;
    try { process.kill(-pid, 'SIGKILL'); } catch { try { this.child.kill('SIGKILL'); } catch { /* gone */ } }
  }

  setLimits(limits: SandboxLimits): void { this.limits = limits; }

  signal(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (!pid || this.destroying) return false;
    try { process.kill(-pid, signal); return true; } catch { return false; }
  }
  terminateRuntime(graceMs: number): Promise<void> {
    const pid = this.child.pid;
    if (!pid || this.destroying || this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    try { process.kill(pid, 'SIGTERM'); } catch { return Promise.resolve(); }
    return untilGone(pid, graceMs);
  }
  applyCpuLimit(): void { /* not enforceable */ }
  resetPeakMemory(): void {
    this.peakKB = 0;
    const pid = this.child.pid;
    if (pid) { try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* not allowed */ } }
  }

  /**
   * At most the memory size, as Lambda's REPORT (and the namespace driver's) never says more:
   * between two polls a process may go past it, and is killed at the next one, or not at all
   * when it gives the memory back first (the warning says memory is enforced by polling only).
   */
  peakMemoryMB(): number {
    const pid = this.child.pid;
    const kb = Math.max(this.peakKB, pid ? peakResidentKB(pid) : 0);
    return Math.min(this.limits.memoryMB, Math.ceil(kb / 1024));
  }

  oomKilled(): boolean { return this.oom; }
  exitStatus(code: number | null, signal: NodeJS.Signals | null) { return { code, signal }; }
  /** No /tmp of its own and no mounts: any function fits. */
  fits(): boolean { return true; }

  async presentCode(): Promise<void> { /* the code is at its own path */ }

  destroy(): Promise<void> {
    if (!this.destroying) {
      this.report?.close();
      this.killGroup();
      this.destroying = Promise.resolve().then(() => this.onGone());
    }
    return this.destroying;
  }

  /** The host's /tmp is every process's here: nothing to keep. */
  bequeath(): Promise<null> {
    return this.destroy().then(() => null);
  }
}
