import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
 * volume is a copy of it (its few hundred KB of metadata, the rest allocated but unwritten: the
 * disk space is the environment's from the start) attached to a free loop device with direct I/O
 * (no second copy in the host's page cache) and autoclear by the helper below, and the file is
 * unlinked at once. The server then opens the device and checks that it is that file's: from
 * then on its descriptor keeps the device attached, and the environment's mount does once it is
 * mounted. When both are gone (the environment's mount namespace ends, the server closes it or
 * dies, even by SIGKILL), the kernel detaches the device and frees the file's blocks: nothing is
 * left to clean up.
 */

/** The mount options of a volume (inode tables stay uninitialised: the file system lives as long as its environment). */
export const VOLUME_OPTIONS = 'nosuid,nodev,noinit_itable';

/**
 * Volumes of the default size kept attached and ready, so that a cold start does not wait for
 * one (other sizes are made when asked for: ~2 ms, a 10 GB one ~20 ms).
 */
const READY = 2;

/**
 * The helper: python3 -S with ctypes, as root, in a private mount namespace of its own (it
 * mounts a template once, to remove lost+found and open its root to every user). Its files are
 * in the directory it is given, named after the server's pid, as EphemeralVolumes names them too
 * (requests carry numbers, never paths: a data dir may have spaces in its name). Requests: "<id> make <MB> <n>"
 * copies the template of that size to volume file n, attaches it and unlinks it, answered
 * "<id> 0 /dev/loopN", and holds the device open until "0 release /dev/loopN" (no answer);
 * "<id> fixup <MB>" prepares the template (made by mkfs.ext4). Errors: "<id> <errno> <message>".
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
            try:
                lfd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENXIO):
                    continue
                raise
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
            # Every block of the volume is the environment's from the start: a full disk shows as
            # no volume (a tmpfs instead, and why), never as a write error inside the function.
            os.posix_fallocate(d, 0, size)
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
    except Exception as e:
        sys.stdout.write('%s %d %s\n' % (w[0], errno.EIO, e))
    sys.stdout.flush()
`;

/**
 * mkfs.ext4 options of a template: no journal (nothing outlives the environment), no blocks
 * reserved for root, no room kept for growing, ext4's usual inode per 16 KiB (32,768 for 512 MB:
 * a function may unpack many small files there), nothing initialised that the kernel does not
 * need (lazy_itable_init: no zeroed inode tables written).
 */
const MKFS_ARGS = ['-q', '-F', '-O', '^has_journal,^resize_inode', '-m', '0',
  '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0'];

/**
 * The size of a volume's file for `sizeMB` of free space: its inode tables and other metadata
 * take 1.6% of it, and ext4 keeps 2% of the blocks (at most 16 MiB) out of what df shows as
 * available.
 */
export function imageMiB(sizeMB: number): number {
  const small = sizeMB / (0.984 - 0.02);
  return (small < 800 ? Math.ceil(small) : Math.ceil((sizeMB + 16) / 0.984)) + 2;
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
 * The disk space /tmp volumes leave free on the data dir's disk: 5% of it, at least 512 MiB and
 * at most 4 GiB. An environment that would go under it gets a tmpfs /tmp (counted against its
 * memory) instead, and the server says so.
 */
export function diskReserveMiB(diskMiB: number): number {
  return Math.round(Math.min(4096, Math.max(512, diskMiB * 0.05)));
}

/** A volume ready for an environment: its device, held attached by the server's descriptor. */
export interface Volume {
  device: string;
  fd: number;
}

export class EphemeralVolumes {
  /** Attached volumes of the default size no environment has yet. */
  private readonly ready: Volume[] = [];
  private readonly templates = new Map<number, Promise<string>>();
  private refilling = false;
  private stopped = false;
  private made = 0;

  private constructor(private readonly dir: string, private readonly scratch: string, private readonly helper: ResidentClient,
    private readonly mkfs: string, private readonly defaultMB: number) {}

  /**
   * Starts the volumes' helper with `python` and checks that a volume of `defaultMB` can be made
   * (files in `dir`, a directory on disk). Resolves to why not when /tmp cannot be a volume here.
   */
  static async start(dir: string, python: string | null, defaultMB: number): Promise<EphemeralVolumes | string> {
    if (!python) return 'no python3 to attach loop devices';
    const mkfs = findExecutable('mkfs.ext4');
    if (!mkfs) return 'mkfs.ext4 not found (e2fsprogs)';
    if (!fs.existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control)';
    let real: string;
    let scratch: string;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      real = fs.realpathSync(dir);
      // In memory, the volumes' files would be memory outside every environment's limit.
      const type = fs.statfsSync(real).type;
      if (type === TMPFS_MAGIC || type === RAMFS_MAGIC) return `the data dir is in memory (${type === TMPFS_MAGIC ? 'tmpfs' : 'ramfs'}), not on a disk`;
      for (const p of ['stratus-tpl', 'stratus-vol', 'stratus-scratch']) removeStale(real, p);
      // Where the helper (this process's child) mounts a template to prepare it.
      scratch = path.join(real, `stratus-scratch-${process.pid}`);
      fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
    } catch (e) {
      return `cannot use ${dir}: ${(e as Error).message}`;
    }
    const helper = await ResidentClient.start(python, ['-S', '-c', HELPER, real], 'the /tmp volume helper');
    if (typeof helper === 'string') return helper;
    const v = new EphemeralVolumes(real, scratch, helper, mkfs, defaultMB);
    try {
      v.release(await v.make(defaultMB));
    } catch (e) {
      await v.stop();
      return (e as Error).message;
    }
    v.refill();
    return v;
  }

  /** A ready volume of `sizeMB`, or null when none is: then `make` one. */
  take(sizeMB: number): Volume | null {
    if (sizeMB !== this.defaultMB) return null;
    const v = this.ready.pop() ?? null;
    this.refill();
    return v;
  }

  /** Makes a volume of `sizeMB` (its template first, the first time, and again if it was removed). */
  async make(sizeMB: number): Promise<Volume> {
    try {
      return await this.makeFrom(sizeMB);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT' || this.stopped) throw e;
      this.templates.delete(sizeMB);
      return this.makeFrom(sizeMB);
    }
  }

  private async makeFrom(sizeMB: number): Promise<Volume> {
    // Counted from the check until the volume's blocks are allocated (or it failed): volumes
    // made at the same time each see the others' share as taken.
    const need = this.checkRoom(sizeMB);
    this.claimedMiB += need;
    try {
      return await this.allocate(sizeMB);
    } finally {
      this.claimedMiB -= need;
    }
  }

  /** MiB of disk that volumes being made will take, not allocated yet. */
  private claimedMiB = 0;

  private async allocate(sizeMB: number): Promise<Volume> {
    await this.template(sizeMB);
    const n = ++this.made;
    const a = await this.helper.request(`make ${sizeMB} ${n}`);
    if (a.errno !== 0) {
      const e = new Error(`a /tmp volume of ${sizeMB} MB could not be made: ${a.errno < 0 ? 'its helper died or hung' : a.rest}`);
      if (a.errno === os.constants.errno.ENOENT) Object.assign(e, { code: 'ENOENT' });
      throw e;
    }
    const device = a.rest;
    // Held by this descriptor from here on, the device cannot be detached and given to another
    // file: the one it names is this volume's (the helper held it until now; had the helper died
    // first, the number could be another file's by now, which the check below refuses).
    let fd: number;
    try {
      fd = fs.openSync(device, 'r');
    } finally {
      this.helper.tell(`release ${device}`);
    }
    let backing = '';
    try { backing = fs.readFileSync(`/sys/block/${path.basename(device)}/loop/backing_file`, 'utf8').trim(); } catch { /* detached */ }
    const file = path.join(this.dir, `stratus-vol-${process.pid}-${n}`);
    if (backing !== `${file} (deleted)` && backing !== file) {
      fs.closeSync(fd);
      throw new Error(`a /tmp volume of ${sizeMB} MB was lost before it was held (${device} is ${backing || 'detached'})`);
    }
    return { device, fd };
  }

  /**
   * Refuses a volume that would leave the disk under its reserve (diskReserveMiB): volumes hold
   * their whole size, and a few environments of a 10 GB function would otherwise take the last of
   * the disk the server's own data lives on (its database: events accepted, logs, queues).
   */
  private checkRoom(sizeMB: number): number {
    const need = imageMiB(sizeMB);
    let st: fs.StatsFs;
    try { st = fs.statfsSync(this.dir); } catch { return need; }
    const mib = 1024 * 1024;
    const freeMiB = Math.floor((st.bavail * st.bsize) / mib) - this.claimedMiB;
    const reserve = diskReserveMiB((st.blocks * st.bsize) / mib);
    if (freeMiB - need < reserve) {
      throw new Error(`a /tmp volume of ${sizeMB} MB takes ${need} MiB of disk, and the disk of ${this.dir} has ${freeMiB} MiB free, `
        + `of which ${reserve} MiB are kept for the server's own data`);
    }
    return need;
  }

  /**
   * Lets go of a volume, once: when no environment has it mounted (at once if none does), its
   * device is detached and its blocks freed.
   */
  release(v: Volume): void {
    try { fs.closeSync(v.fd); } catch { /* closed */ }
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
      t.catch(() => { if (this.templates.get(sizeMB) === t) this.templates.delete(sizeMB); });
    }
    return t;
  }

  /** Makes volumes of the default size, one at a time, until READY are. */
  private refill(): void {
    if (this.refilling || this.stopped) return;
    this.refilling = true;
    void (async () => {
      try {
        while (this.ready.length < READY && !this.stopped) {
          const v = await this.make(this.defaultMB);
          if (this.stopped) this.release(v);
          else this.ready.push(v);
        }
      } catch {
        // The next take() tries again; a launch that finds none ready makes its own and says why it failed.
      } finally {
        this.refilling = false;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const v of this.ready.splice(0)) this.release(v);
    await this.helper.stop();
    for (const t of this.templates.values()) await t.then((f) => fs.rmSync(f, { force: true }), () => undefined);
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
