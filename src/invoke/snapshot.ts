import type { AliasRecord, FunctionSnapshot, VersionRecord } from '../core/model.js';
import type { ChangeEvent, ControlSnapshot, FunctionStore } from '../ports/index.js';

/**
 * In-memory view of functions, versions and aliases for the hot path. Loaded once at start;
 * each change event reloads just the function it names. Refreshes are serialized so they
 * apply in the order the changes were published.
 */
export class MemorySnapshot implements ControlSnapshot {
  private readonly byName = new Map<string, FunctionSnapshot>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly store: FunctionStore, private readonly onDeleted: (name: string) => void) {}

  async load(): Promise<void> {
    const all = await this.store.loadAll();
    this.byName.clear();
    for (const fn of all.functions) this.byName.set(fn.name, { fn, versions: new Map(), aliases: new Map() });
    for (const v of all.versions) this.byName.get(v.functionName)?.versions.set(v.version, v);
    for (const a of all.aliases) this.byName.get(a.functionName)?.aliases.set(a.name, a);
  }

  get(name: string): FunctionSnapshot | undefined {
    return this.byName.get(name);
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** Applies a change; the returned promise resolves once it (and all earlier ones) applied. */
  apply(event: ChangeEvent): Promise<void> {
    if (event.kind === 'resource') return this.chain;
    this.pending++;
    const next = this.chain.then(async () => {
      try {
        if (event.kind === 'function-deleted') {
          this.byName.delete(event.name);
          this.onDeleted(event.name);
          return;
        }
        const loaded = await this.store.loadFunction(event.name);
        if (!loaded) {
          if (this.byName.delete(event.name)) this.onDeleted(event.name);
          return;
        }
        this.byName.set(event.name, {
          fn: loaded.fn,
          versions: new Map(loaded.versions.map((v: VersionRecord) => [v.version, v])),
          aliases: new Map(loaded.aliases.map((a: AliasRecord) => [a.name, a])),
        });
      } finally {
        this.pending--;
      }
    });
    this.chain = next.catch(() => undefined);
    return this.chain;
  }

  settle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : this.chain;
  }
}
