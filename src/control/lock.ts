/**
 * Serialises read-modify-write sequences per key (a function name) on this node, so two
 * requests that change the same function cannot interleave and lose one write. Precondition
 * checks in the store (RevisionId, lastVersion) still guard against other nodes.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
