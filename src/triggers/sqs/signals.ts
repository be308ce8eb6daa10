/**
 * In-process wakeups for long polling. Every change which may make a message receivable (send,
 * visibility change, delete on FIFO, move to a DLQ) bumps one generation, whatever the queue,
 * and wakes that queue's waiters. A receiver notes the generation before looking, and waits only
 * if it is unchanged: no lost wakeups, no busy loops (a change to another queue in between costs
 * one more look). One counter, not one per queue: queues this node only heard of (another node's
 * notices) or that were deleted would otherwise each keep an entry for good.
 */
export class QueueSignals {
  private generation = 0;
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  version(_queue: string): number {
    return this.generation;
  }

  notify(queue: string): void {
    this.generation++;
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
    if (this.generation !== seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(queue);
      if (!set) this.waiters.set(queue, (set = new Set()));
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.waiters.get(queue);
        if (set?.delete(wake) && set.size === 0) this.waiters.delete(queue);
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

  /** Queues with a waiter: what this holds in memory. */
  get queuesWaitedOn(): number {
    return this.waiters.size;
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }
}
