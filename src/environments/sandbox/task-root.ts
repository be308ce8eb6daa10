import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
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
 */
const MOUNTER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
NEWNS = 0x20000
BIND, REMOUNT, RO, NOSUID, NODEV = 4096, 32, 1, 2, 4
home = os.open('/proc/self/ns/mnt', os.O_RDONLY)
sys.stdout.write('ready\\n'); sys.stdout.flush()
for line in sys.stdin:
    rid, pid, src = line.rstrip('\\n').split(' ', 2)
    err = 0
    try:
        ns = os.open('/proc/%s/ns/mnt' % pid, os.O_RDONLY)
    except OSError as e:
        err = e.errno
    else:
        if libc.setns(ns, NEWNS) != 0:
            err = ctypes.get_errno()
        else:
            if libc.mount(src.encode(), b'${TASK_ROOT}', None, BIND, None) != 0 or libc.mount(None, b'${TASK_ROOT}', None, REMOUNT | BIND | RO | NOSUID | NODEV, None) != 0:
                err = ctypes.get_errno()
            if libc.setns(home, NEWNS) != 0:
                sys.exit(3)
        os.close(ns)
    sys.stdout.write('%s %d\\n' % (rid, err)); sys.stdout.flush()
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
   * the mounter, or to why there is none.
   */
  static async start(python: string | null): Promise<TaskMounter | string> {
    if (!python) return 'no python3 to bind code at /var/task in pooled runtimes';
    try {
      fs.mkdirSync(TASK_ROOT, { recursive: true, mode: 0o755 });
      if (!fs.statSync(TASK_ROOT).isDirectory()) return `${TASK_ROOT} on the host is not a directory`;
    } catch (e) {
      return `cannot make ${TASK_ROOT} on the host: ${(e as Error).message}`;
    }
    const r = await startResident(python, ['-S', '-c', MOUNTER]);
    return typeof r === 'string' ? `the /var/task mounter did not start: ${r}` : new TaskMounter(r);
  }

  /** Binds `codeDir` at /var/task, read-only, in the mount namespace of process `pid`. */
  present(pid: number, codeDir: string): Promise<void> {
    if (this.dead) return Promise.reject(new Error('the /var/task mounter is gone'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (errno) => {
        if (errno === 0) resolve();
        else reject(new Error(errno < 0 ? 'the /var/task mounter is gone' : `binding the code at ${TASK_ROOT} failed: errno ${errno}`));
      });
      this.child.stdin!.write(`${id} ${pid} ${codeDir}\n`);
    });
  }

  stop(): Promise<void> {
    return stopResident(this.child);
  }
}
