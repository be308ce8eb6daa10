/**
 * Group commit: items added in the same turn of the event loop are written by one flush (one
 * statement / transaction), and each caller resolves once its item is durable. No I/O of its own:
 * the flush is the caller's (the event queue and the SQS store use it).
 *
 * With `lingerMs`, a flush waits that long for more items (or until `maxBatch` are pending):
 * for writes nobody waits on with a client in hand (acknowledgements), bigger batches for a few
 * milliseconds of delay.
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private active = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 400,
    private readonly lingerMs = 0,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.active) return;
      if (this.lingerMs <= 0) {
        this.active = true;
        setImmediate(() => void this.run());
      } else if (this.pending.length >= this.maxBatch) {
        this.start();
      } else {
        this.timer ??= setTimeout(() => this.start(), this.lingerMs);
      }
    });
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.active) return;
    this.active = true;
    void this.run();
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
