/**
 * Group commit: items added in the same turn of the event loop are written by one flush (one
 * statement / transaction), and each caller resolves once its item is durable. No I/O of its own:
 * the flush is the caller's (the event queue and the SQS store use it).
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private active = false;

  constructor(private readonly flush: (items: T[]) => Promise<R[]>, private readonly maxBatch = 400) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.active) {
        this.active = true;
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i]!));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.active = false;
  }
}
