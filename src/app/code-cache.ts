import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { unpackZip } from '../code/index.js';
import { Errors } from '../core/errors.js';
import type { BlobStore } from '../ports/index.js';
import { claimBlock } from '../environments/index.js';

/** First group id handed to unpacked code directories (far above ordinary system groups). */
const GID_BASE = 1_900_000_000;
/** Group ids per server (a block claimed host-wide) and blocks: 1.9e9 + 256 * 65536 stays below 2^31. */
const GIDS_PER_BLOCK = 65_536;
const GID_BLOCKS = 256;

/**
 * Unpacks each code zip once, into <dataDir>/code/<hexsha>/, and keeps it there. When running
 * as root each directory gets its own group (0750 root:<gid>): an environment is given that
 * group and so can read its own code and no other function's.
 */
export class CodeCache {
  private readonly root: string;
  private readonly inflight = new Map<string, Promise<{ dir: string; gid: number | null }>>();
  private readonly ready = new Map<string, { dir: string; gid: number | null }>();
  private nextGid = GID_BASE;
  private gidEnd = GID_BASE + GIDS_PER_BLOCK;
  /** Group ids of this block that a directory has (running as root): a swept directory's is free again. */
  private readonly usedGids = new Set<number>();
  private gidLock: string | null = null;
  private readonly privileged = process.getuid?.() === 0;

  constructor(dataDir: string, private readonly blobs: BlobStore) {
    this.root = path.join(dataDir, 'code');
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    fs.chmodSync(this.root, 0o711);
    if (this.privileged) {
      // Group ids no other Stratus server on this host hands out: an environment of another
      // server given the same group could read these directories (and this one's, theirs).
      const claimed = claimBlock(fs.existsSync('/run') ? '/run/stratus-gids' : '/var/tmp/stratus-gids', GID_BLOCKS);
      if (!claimed) throw Errors.service('no free group id block for code directories');
      this.gidLock = claimed.lockFile;
      this.nextGid = GID_BASE + claimed.block * GIDS_PER_BLOCK;
      this.gidEnd = this.nextGid + GIDS_PER_BLOCK;
    }
    const outside: string[] = [];
    for (const name of fs.readdirSync(this.root)) {
      if (name.startsWith('.')) {
        fs.rmSync(path.join(this.root, name), { recursive: true, force: true }); // interrupted unpack
        continue;
      }
      const st = fs.statSync(path.join(this.root, name));
      if (!this.privileged) continue;
      if (st.gid >= this.gidEnd - GIDS_PER_BLOCK && st.gid < this.gidEnd) {
        this.usedGids.add(st.gid);
      } else {
        outside.push(name);
      }
    }
    // Directories from a time this data dir had another block: given groups of this one's.
    for (const name of outside) this.seal(path.join(this.root, name));
  }

  /** Gives the group id block back (the server is stopping). */
  close(): void {
    if (this.gidLock) {
      try { fs.unlinkSync(this.gidLock); } catch { /* gone */ }
      this.gidLock = null;
    }
  }

  /**
   * The layers of a function merged into one directory, what it sees at /opt: each layer's
   * archive extracted in order, a later layer's files replacing an earlier one's (Lambda's merge
   * order). Kept as <root>/layers-<sha256 of the keys in order>, with a group of its own as code
   * directories have.
   */
  layersDirFor(codeKeys: readonly string[]): Promise<{ dir: string; gid: number | null }> {
    const name = layersName(codeKeys);
    return this.once(name, () => this.merge(name, codeKeys));
  }

  private once(name: string, make: () => Promise<{ dir: string; gid: number | null }>): Promise<{ dir: string; gid: number | null }> {
    const hit = this.ready.get(name);
    if (hit) return Promise.resolve(hit);
    let p = this.inflight.get(name);
    if (!p) {
      p = make().finally(() => this.inflight.delete(name));
      this.inflight.set(name, p);
    }
    return p;
  }

  private async merge(name: string, codeKeys: readonly string[]): Promise<{ dir: string; gid: number | null }> {
    const dir = path.join(this.root, name);
    if (!fs.existsSync(dir)) {
      const layers = [];
      for (const key of codeKeys) layers.push(await this.dirFor(key));
      const tmp = path.join(this.root, `.${name}.${process.pid}.${Date.now()}`);
      try {
        fs.mkdirSync(tmp, { mode: 0o755 });
        for (const l of layers) overlay(l.dir, tmp);
        this.seal(tmp);
        fs.renameSync(tmp, dir);
      } catch (e) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    }
    return this.remember(name, dir);
  }

  /** A directory in place, with the group that may read it (running as root), kept for next time. */
  private remember(name: string, dir: string): { dir: string; gid: number | null } {
    const entry = { dir, gid: this.privileged ? fs.statSync(dir).gid : null };
    this.ready.set(name, entry);
    return entry;
  }

  /** Readable to its own group only when running as root (0750 root:<new gid>), else to all. */
  private seal(dir: string): void {
    if (this.privileged) {
      fs.chownSync(dir, 0, this.freeGid());
      fs.chmodSync(dir, 0o750);
    } else {
      fs.chmodSync(dir, 0o755);
    }
  }

  /**
   * A group id of the block no directory has, the one after the last handed out first: a swept
   * directory's comes back only once the others were used (no environment of its code is left by
   * then either: the sweep removes only what none uses).
   */
  private freeGid(): number {
    const start = this.gidEnd - GIDS_PER_BLOCK;
    for (let n = 0; n < GIDS_PER_BLOCK; n++) {
      const gid = start + ((this.nextGid - start + n) % GIDS_PER_BLOCK);
      if (this.usedGids.has(gid)) continue;
      this.usedGids.add(gid);
      this.nextGid = gid + 1;
      return gid;
    }
    throw Errors.service('group ids for code directories exhausted');
  }

  dirFor(codeKey: string): Promise<{ dir: string; gid: number | null }> {
    return this.once(codeKey, () => this.unpack(codeKey));
  }

  private async unpack(codeKey: string): Promise<{ dir: string; gid: number | null }> {
    if (!/^[0-9a-f]{64}$/.test(codeKey)) throw Errors.service(`Bad code key ${codeKey}`);
    const dir = path.join(this.root, codeKey);
    if (fs.existsSync(dir)) return this.remember(codeKey, dir);
    const tmp = path.join(this.root, `.${codeKey}.${process.pid}.${Date.now()}`);
    try {
      const local = this.blobs.localPath?.(codeKey);
      if (local) await unpackZip({ path: local }, tmp);
      else {
        const data = await this.blobs.get(codeKey);
        if (!data) throw Errors.service(`Code blob ${codeKey} is missing`);
        await unpackZip(data, tmp);
      }
      this.seal(tmp);
      fs.renameSync(tmp, dir);
      return this.remember(codeKey, dir);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Unpacked code that no longer has a use goes: a name (a code key, or a merged layers
   * directory, see `namesOf`) that is not in `inUse` at this sweep and was not at the one before
   * either is moved aside at once and removed in the background. Two sweeps, not one: an
   * invocation that found its version just before the version was deleted is counted among the
   * live ones that `inUse` holds only once the execution service has it (its cold start, from
   * before its code is asked for), and gets the time between two sweeps to be. Returns the names
   * removed.
   */
  sweep(inUse: ReadonlySet<string>): string[] {
    const unused = new Set<string>();
    for (const name of fs.readdirSync(this.root)) {
      if (name.startsWith('.') || inUse.has(name) || this.inflight.has(name)) continue;
      unused.add(name);
    }
    const removed: string[] = [];
    for (const name of unused) {
      if (!this.unusedBefore.has(name)) continue;
      const trash = path.join(this.root, `.trash-${name}-${process.pid}-${Date.now()}`);
      let gid: number;
      try {
        gid = fs.statSync(path.join(this.root, name)).gid;
        fs.renameSync(path.join(this.root, name), trash);
      } catch { continue; /* gone already */ }
      // Its group no longer reads anything (the trash is root's: 0750 and the group's no more).
      try { fs.chownSync(trash, 0, 0); } catch { /* being removed */ }
      if (this.privileged) this.usedGids.delete(gid);
      this.ready.delete(name);
      removed.push(name);
      unused.delete(name);
      void fs.promises.rm(trash, { recursive: true, force: true }).catch(() => undefined);
    }
    this.unusedBefore = unused;
    return removed;
  }

  private unusedBefore = new Set<string>();

  /** The names of what a version's environments see: its code and, if it has layers, each layer's and their merge. */
  static namesOf(codeKey: string, layerKeys: readonly string[]): string[] {
    return layerKeys.length ? [codeKey, ...layerKeys, layersName(layerKeys)] : [codeKey];
  }
}

/** The directory name of a list of layers merged in order (CodeCache.layersDirFor). */
function layersName(codeKeys: readonly string[]): string {
  return `layers-${createHash('sha256').update(codeKeys.join('\n')).digest('hex')}`;
}

/**
 * Copies the tree `src` into `dest` (an unpacked archive: directories, files, symlinks), replacing
 * what is there: a file or link over a file, link or directory; a directory's entries merged into
 * a directory of the same name. Symlinks are copied as links, never followed: their targets (any
 * path, /opt/... say) are for the environment to resolve, not the host.
 */
function overlay(src: string, dest: string): void {
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    const to = path.join(dest, entry.name);
    let existing: fs.Stats | null = null;
    try {
      existing = fs.lstatSync(to);
    } catch { /* none */ }
    if (entry.isDirectory()) {
      if (existing && !existing.isDirectory()) fs.rmSync(to, { force: true });
      if (!existing?.isDirectory()) fs.mkdirSync(to, { mode: 0o755 });
      overlay(from, to);
    } else {
      if (existing) fs.rmSync(to, { recursive: true, force: true });
      if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
      else {
        fs.copyFileSync(from, to);
        const st = fs.lstatSync(from);
        fs.chmodSync(to, (st.mode & 0o755) | 0o600); // as unpacked (code/walk.ts): written by no one else
        fs.utimesSync(to, st.atime, st.mtime); // what Python's cached bytecode is checked against
      }
    }
  }
}
