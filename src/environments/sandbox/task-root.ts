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
 * A pooled runtime is handed out as soon as it is spawned: its launcher may not have made its
 * namespace yet (it is the server's until unshare(2)), or not yet made its mounts private (unshare
 * does right after). So the mounter never mounts in its own namespace: it waits (5 s) for
 * the process to be in another one, and there it makes every mount private before the bind, so
 * nothing can propagate back to the host.
 */
const MOUNTER = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
NEWNS = 0x20000
BIND, REMOUNT, RO, NOSUID, NODEV, REC, PRIVATE = 4096, 32, 1, 2, 4, 16384, 262144
EAGAIN = 11
home = os.open('/proc/self/ns/mnt', os.O_RDONLY)
home_id = (os.fstat(home).st_dev, os.fstat(home).st_ino)

WAIT_MS = int(sys.argv[1])

def other_ns(pid):
    for _ in range(WAIT_MS):
        ns = os.open('/proc/%s/ns/mnt' % pid, os.O_RDONLY)
        st = os.fstat(ns)
        if (st.st_dev, st.st_ino) != home_id:
            return ns
        os.close(ns)
        time.sleep(0.001)
    return None

def present(pid, src):
    try:
        ns = other_ns(pid)
    except OSError as e:
        return e.errno
    if ns is None:
        return EAGAIN
    try:
        if libc.setns(ns, NEWNS) != 0:
            return ctypes.get_errno()
        err = 0
        if (libc.mount(None, b'/', None, REC | PRIVATE, None) != 0
                or libc.mount(src.encode(), b'${TASK_ROOT}', None, BIND, None) != 0
                or libc.mount(None, b'${TASK_ROOT}', None, REMOUNT | BIND | RO | NOSUID | NODEV, None) != 0):
            err = ctypes.get_errno()
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

export class TaskMounter {
  private next = 1;
  private readonly pending = new Map<number, (errno: number) => void>();
  private buf = '';
  private dead = false;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const [id, errno] = this.buf.slice(0, nl).split(' ');
        this.buf = this.buf.slice(nl + 1);
        const done = this.pending.get(Number(id));
        this.pending.delete(Number(id));
        if (this.pending.size === 0) this.hold(false);
        done?.(Number(errno));
      }
    });
    child.on('exit', () => {
      this.dead = true;
      for (const done of this.pending.values()) done(-1);
      this.pending.clear();
    });
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
    const r = await startResident(python, ['-S', '-c', MOUNTER, String(waitMs)]);
    return typeof r === 'string' ? `the /var/task mounter did not start: ${r}` : new TaskMounter(r);
  }

  /** Binds `codeDir` at /var/task, read-only, in the mount namespace of process `pid`. */
  present(pid: number, codeDir: string): Promise<void> {
    if (this.dead) return Promise.reject(new Error('the /var/task mounter is gone'));
    const id = this.next++;
    if (this.pending.size === 0) this.hold(true);
    return new Promise((resolve, reject) => {
      this.pending.set(id, (errno) => {
        if (errno === 0) resolve();
        else reject(new Error(errno < 0 ? 'the /var/task mounter is gone' : `binding the code at ${TASK_ROOT} failed: ${os.constants.errno.EAGAIN === errno ? 'the environment has no mount namespace of its own' : `errno ${errno}`}`));
      });
      this.child.stdin!.write(`${id} ${pid} ${codeDir}\n`);
    });
  }

  /** An answer awaited keeps this process running (the mounter's pipes are unref'd otherwise). */
  private hold(on: boolean): void {
    const out = this.child.stdout as unknown as { ref?: () => void; unref?: () => void };
    if (on) out.ref?.();
    else out.unref?.();
  }

  stop(): Promise<void> {
    return stopResident(this.child);
  }
}
