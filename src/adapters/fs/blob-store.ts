import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BlobStore } from '../../ports/blobs.js';

const KEY = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = '.tmp-';

/**
 * Content-addressed blobs as files: `<dataDir>/blobs/<first 2 hex>/<hex sha256>`, mode 0600.
 * A blob is written to a temp file, fsynced and renamed into place (then the directory is
 * fsynced), so a reader never sees a torn blob, even after a crash. put is idempotent.
 * totalSize() is a running sum, computed once by walking the directory at construction.
 */
export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private total = 0;
  /** Puts in flight per key: concurrent puts of the same bytes write once and count once. */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'blobs');
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.root, 0o700);
    for (const shard of fs.readdirSync(this.root)) {
      const dir = path.join(this.root, shard);
      if (shard.startsWith(TEMP_PREFIX)) {
        fs.rmSync(dir, { force: true }); // an interrupted put
        continue;
      }
      if (!/^[0-9a-f]{2}$/.test(shard) || !fs.statSync(dir).isDirectory()) continue;
      for (const name of fs.readdirSync(dir)) {
        const file = path.join(dir, name);
        if (name.startsWith(TEMP_PREFIX)) {
          fs.rmSync(file, { force: true });
          continue;
        }
        if (KEY.test(name) && name.startsWith(shard)) this.total += fs.statSync(file).size;
      }
    }
  }

  private pathOf(key: string): string {
    return path.join(this.root, key.slice(0, 2), key);
  }

  async put(data: Buffer): Promise<string> {
    const key = crypto.createHash('sha256').update(data).digest('hex');
    let p = this.writing.get(key);
    if (!p) {
      // Registered before any await: a concurrent put of the same bytes joins this one.
      const mine = (async () => {
        if (!(await this.has(key))) await this.write(key, data);
      })();
      p = mine;
      this.writing.set(key, mine);
      mine.then(
        () => this.writing.delete(key),
        () => this.writing.delete(key),
      );
    }
    await p;
    return key;
  }

  private async write(key: string, data: Buffer): Promise<void> {
    const dir = path.dirname(this.pathOf(key));
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
    const fh = await fs.promises.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await fs.promises.rename(tmp, this.pathOf(key));
    await syncDir(dir);
    this.total += data.length;
  }

  async get(key: string): Promise<Buffer | undefined> {
    if (!KEY.test(key)) return undefined;
    try {
      return await fs.promises.readFile(this.pathOf(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async has(key: string): Promise<boolean> {
    if (!KEY.test(key)) return false;
    try {
      await fs.promises.access(this.pathOf(key));
      return true;
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    if (!KEY.test(key)) return;
    await this.writing.get(key)?.catch(() => undefined);
    const file = this.pathOf(key);
    let size: number;
    try {
      size = (await fs.promises.stat(file)).size;
      await fs.promises.unlink(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    this.total -= size;
  }

  localPath(key: string): string | undefined {
    if (!KEY.test(key)) return undefined;
    const file = this.pathOf(key);
    return fs.existsSync(file) ? file : undefined;
  }

  async totalSize(): Promise<number> {
    return this.total;
  }
}

/** Makes a rename durable (the directory entry), where the platform allows opening a directory. */
async function syncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // not supported here (e.g. some platforms refuse fsync on a directory)
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
