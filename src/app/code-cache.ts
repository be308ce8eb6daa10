import fs from 'node:fs';
import path from 'node:path';
import { unpackZip } from '../code/index.js';
import { Errors } from '../core/errors.js';
import type { BlobStore } from '../ports/index.js';

/** First group id handed to unpacked code directories (far above ordinary system groups). */
const GID_BASE = 1_900_000_000;

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
  private readonly privileged = process.getuid?.() === 0;

  constructor(dataDir: string, private readonly blobs: BlobStore) {
    this.root = path.join(dataDir, 'code');
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    fs.chmodSync(this.root, 0o711);
    for (const name of fs.readdirSync(this.root)) {
      if (name.startsWith('.')) {
        fs.rmSync(path.join(this.root, name), { recursive: true, force: true }); // interrupted unpack
        continue;
      }
      const st = fs.statSync(path.join(this.root, name));
      if (st.gid >= this.nextGid) this.nextGid = st.gid + 1;
    }
  }

  dirFor(codeKey: string): Promise<{ dir: string; gid: number | null }> {
    const hit = this.ready.get(codeKey);
    if (hit) return Promise.resolve(hit);
    let p = this.inflight.get(codeKey);
    if (!p) {
      p = this.unpack(codeKey).finally(() => this.inflight.delete(codeKey));
      this.inflight.set(codeKey, p);
    }
    return p;
  }

  private async unpack(codeKey: string): Promise<{ dir: string; gid: number | null }> {
    if (!/^[0-9a-f]{64}$/.test(codeKey)) throw Errors.service(`Bad code key ${codeKey}`);
    const dir = path.join(this.root, codeKey);
    if (fs.existsSync(dir)) {
      const gid = this.privileged ? fs.statSync(dir).gid : null;
      const entry = { dir, gid };
      this.ready.set(codeKey, entry);
      return entry;
    }
    const tmp = path.join(this.root, `.${codeKey}.${process.pid}.${Date.now()}`);
    try {
      const local = this.blobs.localPath?.(codeKey);
      if (local) await unpackZip({ path: local }, tmp);
      else {
        const data = await this.blobs.get(codeKey);
        if (!data) throw Errors.service(`Code blob ${codeKey} is missing`);
        await unpackZip(data, tmp);
      }
      let gid: number | null = null;
      if (this.privileged) {
        gid = this.nextGid++;
        fs.chownSync(tmp, 0, gid);
        fs.chmodSync(tmp, 0o750);
      } else {
        fs.chmodSync(tmp, 0o755);
      }
      fs.renameSync(tmp, dir);
      const entry = { dir, gid };
      this.ready.set(codeKey, entry);
      return entry;
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Removes unpacked code no version references any more. */
  prune(inUse: Set<string>): void {
    for (const name of fs.readdirSync(this.root)) {
      if (name.startsWith('.') || inUse.has(name)) continue;
      this.ready.delete(name);
      fs.rmSync(path.join(this.root, name), { recursive: true, force: true });
    }
  }
}
