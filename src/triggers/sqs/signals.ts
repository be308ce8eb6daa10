/**
 * In-process wakeups for long polling. Each queue has a version that every change which may
 * make a message receivable bumps (send, visibility change, delete on FIFO, move to a DLQ). A
 * receiver notes the version before looking, and waits only if it is unchanged: no lost wakeups,
 * no busy loops.
 */
export class QueueSignals {
  private readonly versions = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  version(queue: string): number {
    return this.versions.get(queue) ?? 0;
  }

  notify(queue: string): void {
    this.versions.set(queue, this.version(queue) + 1);
    const ws = this.waiters.get(queue);
    if (!ws) return;
    this.waiters.delete(queue);
    for (const w of ws) w();
  }

  /**
   * Resolves when the queue's version differs from `seen`, at `until` (epoch ms), when `signal`
   * aborts, or when closed. Returns true when woken by a change.
   */
  wait(queue: string, seen: number, until: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    if (this.version(queue) !== seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(queue);
      if (!set) this.waiters.set(queue, (set = new Set()));
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.get(queue)?.delete(wake);
        resolve(changed);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), Math.max(0, until - Date.now()));
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wakes every waiter (shutdown). */
  close(): void {
    this.closed = true;
    for (const q of [...this.waiters.keys()]) this.notify(q);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }
}
