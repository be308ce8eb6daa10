import fs from 'node:fs';
import path from 'node:path';
import { Errors } from '../core/errors.js';
import { walkZip, type FileSink, type ZipSource, type ZipVisitor } from './walk.js';

/** Validates a zip completely without writing anything (see walkZip for every check). */
export function inspectZip(data: Buffer): Promise<{ entries: number; unpackedSize: number }> {
  return walkZip(data, {
    dir: async () => undefined,
    file: async () => DISCARD,
    symlink: async () => undefined,
  });
}

const DISCARD: FileSink = { write: async () => undefined, close: async () => undefined, abort: async () => undefined };

/**
 * Unpacks a zip into `dest`, which must not exist (it is created, 0755), enforcing every check
 * of inspectZip again while writing. Files get 0644, or 0755 when executable (see walk.ts);
 * directories 0755; symlinks stay symlinks, whatever their target (they are the environment's to
 * resolve: the server never follows them). Nothing is ever written through a symlink or over an
 * existing file (O_EXCL). On any failure `dest` is removed completely and the error is thrown.
 */
export async function unpackZip(source: ZipSource, dest: string): Promise<void> {
  const root = path.resolve(dest);
  await fs.promises.mkdir(path.dirname(root), { recursive: true });
  try {
    await fs.promises.mkdir(root, { mode: 0o755 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw Errors.service(`Cannot unpack code into ${dest}: it already exists`);
    throw Errors.service(`Cannot unpack code into ${dest}: ${(e as Error).message}`);
  }
  try {
    await fs.promises.chmod(root, 0o755);
    await walkZip(source, new DirectoryWriter(root));
  } catch (e) {
    await fs.promises.rm(root, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Writes entries under the root. The filesystem calls are synchronous on purpose: each is a
 * few microseconds, while their async forms cost a thread-pool round trip each, which made a
 * 100,000-file archive take ~30 s to unpack; the walker still yields to the event loop between
 * entries (reading the archive is asynchronous).
 */
class DirectoryWriter implements ZipVisitor {
  /** Directories known to exist as real directories (created by us), relative paths. */
  private readonly dirs = new Set<string>(['']);

  constructor(private readonly root: string) {}

  private abs(segments: string[]): string {
    return path.join(this.root, ...segments);
  }

  private ensureDir(segments: string[]): void {
    for (let i = 1; i <= segments.length; i++) {
      const rel = segments.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const abs = this.abs(segments.slice(0, i));
      try {
        fs.mkdirSync(abs, { mode: 0o755 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // walkZip never lets a file or symlink take a directory's path; double-check anyway.
        if (!fs.lstatSync(abs).isDirectory()) throw new Error(`${rel} exists and is not a directory`);
      }
      fs.chmodSync(abs, 0o755); // the umask applied at mkdir
      this.dirs.add(rel);
    }
  }

  async dir(segments: string[]): Promise<void> {
    this.ensureDir(segments);
  }

  private prepare(segments: string[], replaces: boolean): string {
    this.ensureDir(segments.slice(0, -1));
    const abs = this.abs(segments);
    if (replaces) {
      try {
        fs.unlinkSync(abs);
      } catch {
        // already gone
      }
    }
    return abs;
  }

  async file(segments: string[], mode: number, replaces: boolean, mtime: Date): Promise<FileSink> {
    const abs = this.prepare(segments, replaces);
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    const fd = fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    let open = true;
    return {
      async write(chunk: Buffer) {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      },
      async close() {
        open = false;
        try {
          fs.fchmodSync(fd, mode); // the umask applied at open
          // As unzip keeps it: Python's cached bytecode (__pycache__) is valid only for a source
          // with the modification time it was compiled from, and /var/task and /opt are read-only.
          fs.futimesSync(fd, mtime, mtime);
        } finally {
          fs.closeSync(fd);
        }
      },
      async abort() {
        if (open) {
          open = false;
          fs.closeSync(fd);
        }
      },
    };
  }

  async symlink(segments: string[], target: string, replaces: boolean): Promise<void> {
    fs.symlinkSync(target, this.prepare(segments, replaces));
  }
}
