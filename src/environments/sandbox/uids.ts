import fs from 'node:fs';
import path from 'node:path';
import { procStartTime } from './cgroups.js';

/** First uid Stratus hands to environments; far above any real account. */
export const UID_BASE = 1_000_000;
export const UIDS_PER_BLOCK = 4096;
const BLOCKS = 256;

/** True for a uid Stratus hands to environments (any Stratus server's on this host). */
export function isEnvironmentUid(uid: number): boolean {
  return uid >= UID_BASE && uid < UID_BASE + BLOCKS * UIDS_PER_BLOCK;
}

/**
 * Environment uids. Each Stratus process claims a block of uids with an exclusive lock file
 * (so two servers on one host never share a uid), then allocates and recycles inside it.
 * A uid goes back to the free list only once every process of its environment is gone.
 */
export class UidAllocator {
  private readonly free: number[] = [];
  private nextFresh: number;
  private readonly end: number;
  private readonly lockFile: string;

  constructor(lockDir = fs.existsSync('/run') ? '/run/stratus-uids' : '/var/tmp/stratus-uids') {
    const claimed = claimBlock(lockDir, BLOCKS);
    if (!claimed) throw new Error('no free uid block for execution environments');
    this.lockFile = claimed.lockFile;
    this.nextFresh = UID_BASE + claimed.block * UIDS_PER_BLOCK;
    this.end = this.nextFresh + UIDS_PER_BLOCK;
  }

  get range(): [number, number] {
    return [this.end - UIDS_PER_BLOCK, this.end - 1];
  }

  /**
   * A uid never handed out before, while the block has one; then the one released longest ago. A
   * uid goes from one function to another, and what the kernel keeps per uid outlives its
   * processes (its user keyrings, sockets it made that were handed elsewhere): the longer
   * before a uid is handed out again, the less of that is left for the next function to find.
   */
  allocate(): number {
    if (this.nextFresh < this.end) return this.nextFresh++;
    const u = this.free[this.head];
    if (u === undefined) throw new Error('environment uids exhausted');
    this.free[this.head++] = -1;
    if (this.head > 1024 && this.head * 2 > this.free.length) {
      this.free.splice(0, this.head);
      this.head = 0;
    }
    return u;
  }

  release(uid: number): void {
    this.free.push(uid);
  }

  /** Released uids not handed out again yet, oldest first (the free list is a queue: `head` its front). */
  private head = 0;

  close(): void {
    try { fs.unlinkSync(this.lockFile); } catch { /* gone */ }
  }
}

/**
 * Claims one of `blocks` numbered blocks host-wide with an exclusive lock file in `lockDir`
 * (`block-N`, holding the claimant's pid and start time; a dead claimant's is taken over). The
 * caller unlinks the lock file when done. Null when every block is taken.
 */
export function claimBlock(lockDir: string, blocks: number): { block: number; lockFile: string } | null {
  fs.mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  const me = `${process.pid} ${procStartTime(process.pid) ?? '0'}`;
  for (let b = 0; b < blocks; b++) {
    const file = path.join(lockDir, `block-${b}`);
    if (tryClaim(file, me)) return { block: b, lockFile: file };
  }
  return null;
}

function tryClaim(file: string, me: string): boolean {
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(file, me, { flag: 'wx', mode: 0o600 });
      return true;
    } catch {
      // taken: reclaim it when its owner is dead
      let owner = '';
      try { owner = fs.readFileSync(file, 'utf8'); } catch { continue; }
      const [pid, start] = owner.split(' ');
      if (pid && procStartTime(Number(pid)) === start) return false;
      try { fs.unlinkSync(file); } catch { /* raced */ }
    }
  }
  return false;
}
