import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ResidentClient } from './resident.js';
import { findExecutable, removeStale } from './shell.js';

/**
 * Ephemeral storage: each environment's /tmp is a file system of its own on disk, of the
 * function's EphemeralStorage size, as Lambda's /tmp is: what a function writes there is not
 * memory (a tmpfs /tmp counted against the memory cgroup, and a 128 MB function that wrote
 * 100 MB to /tmp was killed for it). Its page cache is charged to the environment like any
 * file's, and is reclaimed under the memory limit instead of killing.
 *
 * A volume is an ext4 file system in a sparse file, attached to a loop device. Per size, one
 * template is made with mkfs.ext4 (no journal, no reserved blocks, no lost+found, root 1777); a
 * volume is a sparse copy of it (its few hundred KB of metadata) attached to a free loop device
 * with direct I/O (no second copy in the host's page cache) and autoclear, and the file is
 * unlinked at once. The helper below holds each device open until `release`: the environment's
 * mount then holds it, and when the environment's mount namespace goes, the kernel detaches the
 * device and frees the file's blocks. Nothing is left to clean up, even when the server is killed
 * (the helper dies with it, and its descriptors with it).
 */

/** The mount options of a volume (inode tables stay uninitialised: the file system lives as long as its environment). */
export const VOLUME_OPTIONS = 'nosuid,nodev,noinit_itable';

/** Volumes of the default size kept attached and ready, so that a cold start does not wait for one. */
const READY_DEFAULT = 2;
/** Of any other size a function asked for. */
const READY_OTHER = 1;

/**
 * The helper: python3 -S with ctypes, as root, in a private mount namespace of its own (it
 * mounts a template once, to remove lost+found and open its root to every user). Its files are
 * in the directory it is given, named after the server's pid. Requests: "<id> make <MB> <n>"
 * copies the template of that size to volume file n, attaches it and unlinks it, answered
 * "<id> 0 /dev/loopN"; "<id> fixup <MB>" prepares the template (made by mkfs.ext4);
 * "0 release /dev/loopN" closes the device (no answer). Errors: "<id> <errno> <message>".
 */
const HELPER = String.raw`
import ctypes, errno, fcntl, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
NEWNS, REC, PRIVATE = 0x20000, 16384, 262144
CTL_GET_FREE, CONFIGURE, SET_FD, SET_STATUS64, CLR_FD = 0x4C82, 0x4C0A, 0x4C00, 0x4C04, 0x4C01
AUTOCLEAR, DIRECT_IO = 4, 16
base = sys.argv[1]
server = os.getppid()
scratch = os.path.join(base, 'stratus-scratch-%d' % server).encode()
template = lambda size: os.path.join(base, 'stratus-tpl-%d-%s' % (server, size))
if libc.unshare(NEWNS) != 0 or libc.mount(None, b'/', None, REC | PRIVATE, None) != 0:
    sys.stderr.write('no private mount namespace: errno %d\n' % ctypes.get_errno())
    sys.exit(1)
held = {}

def info(flags):
    return struct.pack('=QQQQQIIII64s64s32sQQ', 0, 0, 0, 0, 0, 0, 0, 0, flags, b'', b'', b'', 0, 0)

def configure(lfd, backing):
    try:
        fcntl.ioctl(lfd, CONFIGURE, struct.pack('=II', backing, 4096) + info(AUTOCLEAR | DIRECT_IO) + bytes(64))
        return
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
        if e.errno == errno.EINVAL:
            try:
                fcntl.ioctl(lfd, CONFIGURE, struct.pack('=II', backing, 0) + info(AUTOCLEAR) + bytes(64))
                return
            except OSError as e2:
                if e2.errno not in (errno.EINVAL, errno.ENOTTY):
                    raise
    fcntl.ioctl(lfd, SET_FD, backing)
    try:
        fcntl.ioctl(lfd, SET_STATUS64, info(AUTOCLEAR))
    except OSError:
        fcntl.ioctl(lfd, CLR_FD, 0)
        raise

def attach(path):
    ctl = os.open('/dev/loop-control', os.O_RDWR | os.O_CLOEXEC)
    backing = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(50):
            dev = '/dev/loop%d' % fcntl.ioctl(ctl, CTL_GET_FREE)
            lfd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
            try:
                configure(lfd, backing)
                return dev, lfd
            except OSError as e:
                os.close(lfd)
                if e.errno != errno.EBUSY:
                    raise
        raise OSError(errno.EBUSY, 'no free loop device')
    finally:
        os.close(backing)
        os.close(ctl)

def copy_sparse(src, dst):
    s = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        d = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(s).st_size
            pos = 0
            while pos < size:
                try:
                    start = os.lseek(s, pos, os.SEEK_DATA)
                except OSError as e:
                    if e.errno == errno.ENXIO:
                        break
                    raise
                end = os.lseek(s, start, os.SEEK_HOLE)
                while start < end:
                    n = os.copy_file_range(s, d, end - start, start, start)
                    if n <= 0:
                        raise OSError(errno.EIO, 'short copy')
                    start += n
                pos = end
            os.ftruncate(d, size)
        finally:
            os.close(d)
    finally:
        os.close(s)

def make(tpl, path):
    try:
        copy_sparse(tpl, path)
        dev, lfd = attach(path)
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    held[dev] = lfd
    return dev

def fixup(tpl):
    dev, lfd = attach(tpl)
    try:
        if libc.mount(dev.encode(), scratch, b'ext4', 0, b'noinit_itable') != 0:
            raise OSError(ctypes.get_errno(), 'mount')
        try:
            os.rmdir(os.path.join(scratch, b'lost+found'))
            os.chmod(scratch, 0o1777)
        finally:
            libc.umount2(scratch, 0)
    finally:
        os.close(lfd)
    return '-'

sys.stdout.write('ready\n')
sys.stdout.flush()
for line in sys.stdin:
    w = line.split()
    if w[1] == 'release':
        fd = held.pop(w[2], None)
        if fd is not None:
            os.close(fd)
        continue
    try:
        if w[1] == 'make':
            out = make(template(int(w[2])), os.path.join(base, 'stratus-vol-%d-%d' % (server, int(w[3]))))
        else:
            out = fixup(template(int(w[2])))
        sys.stdout.write('%s 0 %s\n' % (w[0], out))
    except OSError as e:
        sys.stdout.write('%s %d %s\n' % (w[0], e.errno or errno.EIO, e.strerror or e))
    sys.stdout.flush()
`;

/**
 * mkfs.ext4 options of a template: no journal (nothing outlives the environment), no blocks
 * reserved for root, no room kept for growing, an inode per 64 KiB, nothing initialised that
 * the kernel does not need (lazy_itable_init: no zeroed inode tables written).
 */
const MKFS_ARGS = ['-q', '-F', '-O', '^has_journal,^resize_inode', '-m', '0', '-i', '65536',
  '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0'];

/**
 * The size of a volume's file for `sizeMB` of free space: ext4 keeps 2% of the blocks (at most
 * 16 MiB) out of what df shows as available, and spends about 0.6% on its metadata.
 */
export function imageMiB(sizeMB: number): number {
  return sizeMB + Math.ceil(Math.min((sizeMB * 0.02) / 0.98, 16)) + Math.ceil(sizeMB * 0.006) + 2;
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${path.basename(file)}: ${err.trim() || `exit ${code ?? signal}`}`))));
  });
}

/**
 * An attached volume: its device, and which helper process holds it. A device that a helper no
 * longer holds (it died) may be detached and attached again to another volume: it is never
 * handed out or released again (see `take` and `release`).
 */
export interface Volume {
  device: string;
  generation: number;
}

export class EphemeralVolumes {
  /** Attached volumes no environment has yet, per size (MB). */
  private readonly ready = new Map<number, Volume[]>();
  /** How many volumes of each size to keep ready. */
  private readonly targets = new Map<number, number>();
  private readonly templates = new Map<number, Promise<string>>();
  private refilling = false;
  private stopped = false;
  private made = 0;

  private constructor(private readonly dir: string, private readonly scratch: string, private readonly helper: ResidentClient, private readonly mkfs: string) {}

  /**
   * Starts the volumes' helper with `python` and checks that a volume of `defaultMB` can be made
   * (files in `dir`, a directory on disk). Resolves to why not when /tmp cannot be a volume here.
   */
  static async start(dir: string, python: string | null, defaultMB: number): Promise<EphemeralVolumes | string> {
    if (!python) return 'no python3 to attach loop devices';
    const mkfs = findExecutable('mkfs.ext4');
    if (!mkfs) return 'mkfs.ext4 not found (e2fsprogs)';
    if (!fs.existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control)';
    const scratch = path.join(dir, `stratus-scratch-${process.pid}`); // the helper's (its parent's pid)
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const p of ['stratus-tpl', 'stratus-vol', 'stratus-scratch']) removeStale(dir, p);
      fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
    } catch (e) {
      return `cannot use ${dir}: ${(e as Error).message}`;
    }
    const helper = await ResidentClient.start(python, ['-S', '-c', HELPER, dir], 'the /tmp volume helper');
    if (typeof helper === 'string') return helper;
    const v = new EphemeralVolumes(dir, scratch, helper, mkfs);
    try {
      v.release(await v.make(defaultMB));
    } catch (e) {
      await v.stop();
      return (e as Error).message;
    }
    v.targets.set(defaultMB, READY_DEFAULT);
    v.refill();
    return v;
  }

  /** A ready volume of `sizeMB`, or null when none is: then `make` one. */
  take(sizeMB: number): Volume | null {
    const list = this.ready.get(sizeMB);
    let v: Volume | null = null;
    while (list?.length && !v) {
      const x = list.pop()!;
      if (this.helper.holds(x.generation)) v = x;
    }
    if (!this.targets.has(sizeMB)) this.targets.set(sizeMB, READY_OTHER);
    this.refill();
    return v;
  }

  /** Makes a volume of `sizeMB` (its template first, the first time). */
  async make(sizeMB: number): Promise<Volume> {
    await this.template(sizeMB);
    const a = await this.helper.request(`make ${sizeMB} ${++this.made}`);
    if (a.errno !== 0) throw new Error(`a /tmp volume of ${sizeMB} MB could not be made: ${a.errno < 0 ? 'its helper died or hung' : a.rest}`);
    return { device: a.rest, generation: a.generation };
  }

  /**
   * Lets go of a volume, once: when no environment has it mounted (at once if none does), its
   * device is detached and its blocks freed. One whose helper died is already let go of.
   */
  release(v: Volume): void {
    if (this.helper.holds(v.generation)) this.helper.tell(`release ${v.device}`);
  }

  private template(sizeMB: number): Promise<string> {
    let t = this.templates.get(sizeMB);
    if (!t) {
      const file = path.join(this.dir, `stratus-tpl-${process.pid}-${sizeMB}`);
      t = (async () => {
        fs.rmSync(file, { force: true });
        await run(this.mkfs, [...MKFS_ARGS, file, `${imageMiB(sizeMB)}M`]);
        const a = await this.helper.request(`fixup ${sizeMB}`);
        if (a.errno !== 0) throw new Error(`the /tmp template of ${sizeMB} MB could not be prepared: ${a.errno < 0 ? 'its helper died or hung' : a.rest}`);
        return file;
      })();
      this.templates.set(sizeMB, t);
      t.catch(() => this.templates.delete(sizeMB));
    }
    return t;
  }

  /** Makes volumes, one at a time, until every size has as many ready as it should. */
  private refill(): void {
    if (this.refilling || this.stopped) return;
    this.refilling = true;
    void (async () => {
      try {
        for (;;) {
          const size = [...this.targets].find(([s, n]) => this.readyCount(s) < n)?.[0];
          if (size === undefined) break;
          const v = await this.make(size);
          if (this.stopped) { this.release(v); break; }
          let list = this.ready.get(size);
          if (!list) this.ready.set(size, (list = []));
          list.push(v);
        }
      } catch {
        // The next take() tries again; a launch that finds none ready makes its own and says why it failed.
      } finally {
        this.refilling = false;
      }
    })();
  }

  /** Ready volumes of `sizeMB` that the running helper holds (those of a dead one are dropped). */
  private readyCount(sizeMB: number): number {
    const list = this.ready.get(sizeMB);
    if (!list) return 0;
    const live = list.filter((v) => this.helper.holds(v.generation));
    if (live.length !== list.length) this.ready.set(sizeMB, live);
    return live.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // The helper's exit closes every device it holds: the ready ones are detached at once.
    await this.helper.stop();
    for (const t of this.templates.values()) await t.then((f) => fs.rmSync(f, { force: true }), () => undefined);
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}
