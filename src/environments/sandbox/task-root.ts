import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { startResident, stopResident } from './shell.js';

/** Where a function finds its code in Lambda (LAMBDA_TASK_ROOT, the working directory, stack traces). */
export const TASK_ROOT = '/var/task';

/**
 * The mounter: binds a function's code read-only at /var/task inside the mount namespace of a
 * running environment (a pooled runtime, launched before its function was known). Node cannot
 * enter a namespace or mount, and mount(8) takes ~2.5 ms to start here, more than a third of a
 * pooled cold start; this stays running and answers in a fraction of a millisecond. One request
 * per line, "<id> <pid> <code dir>", answered "<id> <errno>": setns(2) into /proc/<pid>/ns/mnt
 * (the namespace's, whose /proc is its own: the descriptor is opened first), mount(2) MS_BIND of
 * the code dir (the environment sees it at its real path, a kept path) on /var/task, a read-only
 * remount of that bind, setns(2) back to the server's namespace.
 *
 * It never mounts in its own namespace (EAGAIN): a pooled runtime is handed out as soon as it is
 * spawned, and its launcher is in the server's namespace until unshare(2); `present` waits for
 * that before it asks. In the environment's namespace it first makes every mount private (unshare
 * does so right after it made it), so nothing can propagate back to the host. And the process
 * must be the server's own child (ESRCH otherwise), checked once its namespace is open: a pid
 * that was reused cannot pass.
 */
const MOUNTER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
NEWNS = 0x20000
BIND, REMOUNT, RO, NOSUID, NODEV, REC, PRIVATE = 4096, 32, 1, 2, 4, 16384, 262144
EAGAIN, ESRCH, DETACH = 11, 3, 2
home = os.open('/proc/self/ns/mnt', os.O_RDONLY)
home_id = (os.fstat(home).st_dev, os.fstat(home).st_ino)
server = os.getppid()

def parent(pid):
    with open('/proc/%s/stat' % pid) as f:
        s = f.read()
    return int(s[s.rindex(')') + 2:].split(' ')[1])

def present(pid, src):
    try:
        ns = os.open('/proc/%s/ns/mnt' % pid, os.O_RDONLY)
    except OSError as e:
        return e.errno
    try:
        try:
            if parent(pid) != server:
                return ESRCH
        except (OSError, ValueError):
            return ESRCH
        st = os.fstat(ns)
        if (st.st_dev, st.st_ino) == home_id:
            return EAGAIN
        if libc.setns(ns, NEWNS) != 0:
            return ctypes.get_errno()
        err = 0
        if (libc.mount(None, b'/', None, REC | PRIVATE, None) != 0
                or libc.mount(src.encode(), b'${TASK_ROOT}', None, BIND, None) != 0):
            err = ctypes.get_errno()
        elif libc.mount(None, b'${TASK_ROOT}', None, REMOUNT | BIND | RO | NOSUID | NODEV, None) != 0:
            err = ctypes.get_errno()
            libc.umount2(b'${TASK_ROOT}', DETACH)
        if libc.setns(home, NEWNS) != 0:
            sys.exit(3)
        return err
    finally:
        os.close(ns)

sys.stdout.write('ready\\n'); sys.stdout.flush()
for line in sys.stdin:
    rid, pid, src = line.rstrip('\\n').split(' ', 2)
    sys.stdout.write('%s %d\\n' % (rid, present(pid, src))); sys.stdout.flush()
`;

/** How the mounter is started (with a python3 that the server runs as root). */
const MOUNTER_ARGS = ['-S', '-c', MOUNTER];

/** How long a request may take before the mounter is taken for hung, killed and started again. */
const ANSWER_MS = 10_000;

/** The mount namespace of `pid` (its nsfs device and inode), or null when the process is gone. */
function mountNs(pid: number | 'self'): string | null {
  try {
    const st = fs.statSync(`/proc/${pid}/ns/mnt`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The mounter's process and its requests awaiting an answer. */
interface Mounter {
  child: ChildProcess;
  pending: Map<number, (errno: number) => void>;
  dead: boolean;
}

export class TaskMounter {
  private next = 1;
  private current: Mounter;
  /** A replacement being started after the mounter died (killed by hand, say). */
  private restarting: Promise<Mounter | string> | null = null;
  private stopped = false;
  /** The server's own mount namespace. */
  private readonly home = mountNs('self');

  private constructor(child: ChildProcess, private readonly python: string, private readonly waitMs: number) {
    this.current = TaskMounter.serve(child);
  }

  private static serve(child: ChildProcess): Mounter {
    const m: Mounter = { child, pending: new Map(), dead: false };
    child.stdin!.on('error', () => { /* it died: its exit fails what is pending */ });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [id, errno] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        const done = m.pending.get(Number(id));
        m.pending.delete(Number(id));
        if (m.pending.size === 0) hold(m, false);
        done?.(Number(errno));
      }
    });
    child.on('exit', () => {
      m.dead = true;
      for (const done of m.pending.values()) done(-1);
      m.pending.clear();
    });
    return m;
  }

  /**
   * Starts the mounter with `python` (null: there is none), once /var/task exists on the host to
   * mount on (made empty if need be: an environment's view of /var is the host's). Resolves to
   * the mounter, or to why there is none. `waitMs`: how long a request waits for its process to
   * be in a mount namespace of its own.
   */
  static async start(python: string | null, waitMs = 5000): Promise<TaskMounter | string> {
    if (!python) return 'no python3 to bind code at /var/task in pooled runtimes';
    try {
      fs.mkdirSync(TASK_ROOT, { recursive: true, mode: 0o755 });
      if (!fs.statSync(TASK_ROOT).isDirectory()) return `${TASK_ROOT} on the host is not a directory`;
    } catch (e) {
      return `cannot make ${TASK_ROOT} on the host: ${(e as Error).message}`;
    }
    const r = await startResident(python, MOUNTER_ARGS);
    return typeof r === 'string' ? `the /var/task mounter did not start: ${r}` : new TaskMounter(r, python, waitMs);
  }

  /** The running mounter: a new one if it died. */
  private async alive(): Promise<Mounter> {
    if (!this.current.dead) return this.current;
    if (this.stopped) throw new Error('the /var/task mounter is stopped');
    this.restarting ??= startResident(this.python, MOUNTER_ARGS).then((r) => {
      this.restarting = null;
      if (typeof r === 'string') return r;
      if (this.stopped) { void stopResident(r); return 'the /var/task mounter is stopped'; }
      return (this.current = TaskMounter.serve(r));
    });
    const m = await this.restarting;
    if (typeof m === 'string') throw new Error(`the /var/task mounter did not start again: ${m}`);
    return m;
  }

  /**
   * Binds `codeDir` at /var/task, read-only, in the mount namespace of process `pid` (the
   * server's child), once that process is in a namespace of its own (up to `waitMs`).
   */
  async present(pid: number, codeDir: string): Promise<void> {
    for (let waited = 0; mountNs(pid) === this.home && waited < this.waitMs; waited++) await sleep(1);
    const m = await this.alive();
    const id = this.next++;
    if (m.pending.size === 0) hold(m, true);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => m.child.kill('SIGKILL'), ANSWER_MS);
      m.pending.set(id, (errno) => {
        clearTimeout(timer);
        if (errno === 0) return resolve();
        const why = errno < 0 ? 'the mounter died or hung'
          : errno === os.constants.errno.EAGAIN ? 'the environment has no mount namespace of its own'
          : errno === os.constants.errno.ESRCH ? 'the environment\'s process is gone'
          : `errno ${errno}`;
        reject(new Error(`binding the code at ${TASK_ROOT} failed: ${why}`));
      });
      m.child.stdin!.write(`${id} ${pid} ${codeDir}\n`);
    });
  }

  /** The pid of the running mounter (tests). */
  get pid(): number | undefined {
    return this.current.child.pid;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return stopResident(this.current.child);
  }
}

/** An answer awaited keeps this process running (the mounter's pipes are unref'd otherwise). */
function hold(m: Mounter, on: boolean): void {
  const out = m.child.stdout as unknown as { ref?: () => void; unref?: () => void };
  if (on) out.ref?.();
  else out.unref?.();
}
