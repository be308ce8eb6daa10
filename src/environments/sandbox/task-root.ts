import fs from 'node:fs';
import os from 'node:os';
import { ResidentClient } from './resident.js';

/** Where a function finds its code in Lambda (LAMBDA_TASK_ROOT, the working directory, stack traces). */
export const TASK_ROOT = '/var/task';

/** Where Lambda extracts a function's layers, in order (NODE_PATH, sys.path, PATH and LD_LIBRARY_PATH name it). */
export const OPT_ROOT = '/opt';

/** Where Lambda keeps its runtime (LAMBDA_RUNTIME_DIR; node's module paths and stack frames). */
export const RUNTIME_ROOT = '/var/runtime';

/**
 * `dir` made on the host if need be (empty: an environment's view of /var is the host's), to bind
 * on inside environments; true, or why it cannot be.
 */
export function mountPoint(dir: string): true | string {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    // A directory itself, not a link to one: a bind on a link lands on what it points to.
    return fs.lstatSync(dir).isDirectory() ? true : `${dir} on the host is not a directory`;
  } catch (e) {
    return `cannot make ${dir} on the host: ${(e as Error).message}`;
  }
}

/**
 * The mounter: binds a function's code read-only at /var/task (and its layers at /opt) inside the
 * mount namespace of a running environment (a pooled runtime, launched before its function was
 * known). Node cannot enter a namespace or mount, and mount(8) takes ~2.5 ms to start here, more
 * than a third of a pooled cold start; this stays running and answers in a fraction of a
 * millisecond. One request per line, "<id> <pid> <target> <dir>" (target /var/task or /opt),
 * answered "<id> <errno>": setns(2) into /proc/<pid>/ns/mnt (the namespace's, whose /proc is its
 * own: the descriptor is opened first), mount(2) MS_BIND of the dir (as the environment sees it:
 * under a kept path, see namespace.ts mountTable) on the target, a read-only remount of that bind, setns(2) back to
 * the server's namespace.
 *
 * It never mounts in its own namespace (EAGAIN): a pooled runtime is handed out as soon as it is
 * spawned, and its launcher is in the server's namespace until unshare(2); `present` waits for
 * that before it asks. In the environment's namespace it first makes every mount private (unshare
 * does so right after it made it), so nothing can propagate back to the host. And the process
 * must be the server's own child (ESRCH otherwise), checked once its namespace is open: a pid
 * that was reused cannot pass.
 */
const MOUNTER = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
NEWNS = 0x20000
BIND, REMOUNT, RO, NOSUID, NODEV, REC, PRIVATE = 4096, 32, 1, 2, 4, 16384, 262144
EAGAIN, ESRCH, DETACH, ENOENT, ETIMEDOUT = 11, 3, 2, 2, 110
home = os.open('/proc/self/ns/mnt', os.O_RDONLY)
home_id = (os.fstat(home).st_dev, os.fstat(home).st_ino)
server = os.getppid()

def parent(pid):
    with open('/proc/%s/stat' % pid) as f:
        s = f.read()
    return int(s[s.rindex(')') + 2:].split(' ')[1])

def opt_hidden(pid):
    # Whether the namespace's /opt is the read-only tmpfs its mount table puts over the host's:
    # a bind made before it would end up under it.
    last = None
    with open('/proc/%s/mountinfo' % pid) as f:
        for line in f:
            fields = line.split(' ')
            if fields[4] == '${OPT_ROOT}':
                last = fields
    if last is None:
        return False
    rest = last[last.index('-') + 1:]
    return rest[1] == 'stratus-hide' and last[5].split(',')[0] == 'ro'

def present(pid, target, src):
    if target == b'${OPT_ROOT}':
        try:
            for _ in range(5000):
                if opt_hidden(pid):
                    break
                time.sleep(0.001)
            else:
                return ETIMEDOUT
        except OSError as e:
            return e.errno
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
        if libc.mount(None, b'/', None, REC | PRIVATE, None) != 0:
            err = ctypes.get_errno()
        else:
            # The namespace's mount table may still be going up: the code's path (under a kept
            # path) not bound yet, for a few milliseconds.
            for _ in range(500):
                err = 0 if libc.mount(src.encode(), target, None, BIND, None) == 0 else ctypes.get_errno()
                if err != ENOENT:
                    break
                time.sleep(0.001)
        if err == 0 and libc.mount(None, target, None, REMOUNT | BIND | RO | NOSUID | NODEV, None) != 0:
            err = ctypes.get_errno()
            libc.umount2(target, DETACH)
        if libc.setns(home, NEWNS) != 0:
            sys.exit(3)
        return err
    finally:
        os.close(ns)

sys.stdout.write('ready\\n'); sys.stdout.flush()
for line in sys.stdin:
    rid, pid, target, src = line.rstrip('\\n').split(' ', 3)
    err = present(pid, target.encode(), src) if target in ('${TASK_ROOT}', '${OPT_ROOT}') else 22
    sys.stdout.write('%s %d\\n' % (rid, err)); sys.stdout.flush()
`;

/** How the mounter is started (with a python3 that the server runs as root). */
const MOUNTER_ARGS = ['-S', '-c', MOUNTER];

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

export class TaskMounter {
  /** The server's own mount namespace. */
  private readonly home = mountNs('self');

  private constructor(private readonly helper: ResidentClient, private readonly waitMs: number) {}

  /**
   * Starts the mounter with `python` (null: there is none), once /var/task exists on the host to
   * mount on (made empty if need be: an environment's view of /var is the host's). Resolves to
   * the mounter, or to why there is none. `waitMs`: how long a request waits for its process to
   * be in a mount namespace of its own.
   */
  static async start(python: string | null, waitMs = 5000): Promise<TaskMounter | string> {
    if (!python) return 'no python3 to bind code at /var/task in pooled runtimes';
    const made = mountPoint(TASK_ROOT);
    if (made !== true) return made;
    const r = await ResidentClient.start(python, MOUNTER_ARGS, 'the /var/task mounter');
    return typeof r === 'string' ? r : new TaskMounter(r, waitMs);
  }

  /**
   * Binds `dir` at `target` (/var/task: the code; /opt: the layers), read-only, in the mount
   * namespace of process `pid` (the server's child), once that process is in a namespace of its
   * own (up to `waitMs`).
   */
  async present(pid: number, dir: string, target: typeof TASK_ROOT | typeof OPT_ROOT = TASK_ROOT): Promise<void> {
    for (let waited = 0; mountNs(pid) === this.home && waited < this.waitMs; waited++) await sleep(1);
    const { errno } = await this.helper.request(`${pid} ${target} ${dir}`);
    if (errno === 0) return;
    const why = errno < 0 ? 'the mounter died or hung'
      : errno === os.constants.errno.EAGAIN ? 'the environment has no mount namespace of its own'
      : errno === os.constants.errno.ESRCH ? 'the environment\'s process is gone'
      : `errno ${errno}`;
    throw new Error(`binding the ${target === TASK_ROOT ? 'code' : 'layers'} at ${target} failed: ${why}`);
  }

  /** The pid of the running mounter (tests). */
  get pid(): number | undefined {
    return this.helper.pid;
  }

  stop(): Promise<void> {
    return this.helper.stop();
  }
}
