import { LATEST, type AliasRecord, type FunctionConfig, type FunctionRecord, type FunctionSnapshot, type VersionRecord } from '../core/model.js';
import type { ChangeEvent, ControlSnapshot, FunctionStore } from '../ports/index.js';

/**
 * In-memory view of functions, versions and aliases for the hot path. Loaded once at start;
 * each change event reloads just the function it names. Refreshes are serialized so they
 * apply in the order the changes were published.
 *
 * It holds every function, so its records are kept small (10,000 idle functions must cost
 * little): identical configurations are one shared object, repeated strings (names, code
 * keys, states) are one instance, a function without aliases or tags shares one empty value.
 * Records in the snapshot are read-only: nothing on the data plane changes them (the control
 * plane writes the store and announces the change).
 */
export class MemorySnapshot implements ControlSnapshot {
  private readonly byName = new Map<string, FunctionSnapshot>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly intern = new Interner();

  /**
   * `shared`: the store is shared with other nodes (a cluster), whose changes reach this one over
   * the change feed, a little later: lookup() reads a missing function again from the store.
   */
  constructor(private readonly store: FunctionStore, private readonly onDeleted: (name: string) => void, private readonly shared = false) {}

  async load(): Promise<void> {
    const all = await this.store.loadAll();
    this.byName.clear();
    const versions = groupBy(all.versions, (v) => v.functionName);
    const aliases = groupBy(all.aliases, (a) => a.functionName);
    for (const fn of all.functions) {
      this.byName.set(fn.name, this.compact(fn, versions.get(fn.name) ?? [], aliases.get(fn.name) ?? []));
    }
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
    if (event.kind === 'resync') return this.reloadAll();
    return this.queue(async () => {
      this.changes.set(event.name, (this.changes.get(event.name) ?? 0) + 1);
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
      const entry = this.compact(loaded.fn, loaded.versions, loaded.aliases);
      this.byName.set(entry.fn.name, entry); // the record's own name string as the key: one instance
    });
  }

  /** Runs `work` after every change queued before it; resolves once it (and they) ran. */
  private queue(work: () => Promise<void>): Promise<void> {
    this.pending++;
    const next = this.chain.then(async () => {
      try {
        await work();
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

  /** Every function read again (a resync): the ones gone meanwhile are deleted (onDeleted). */
  private reloadAll(): Promise<void> {
    return this.queue(async () => {
      const before = new Set(this.byName.keys());
      await this.load();
      for (const name of before) if (!this.byName.has(name)) this.onDeleted(name);
    });
  }

  async lookup(name: string, wants?: (f: FunctionSnapshot) => boolean): Promise<FunctionSnapshot | undefined> {
    const found = () => {
      const f = this.byName.get(name);
      return f && (!wants || wants(f)) ? f : undefined;
    };
    let f = found();
    if (f) return f;
    await this.settle();
    f = found();
    if (f || !this.shared) return f ?? this.byName.get(name);
    // Read outside the chain of changes (a caller naming a function that does not exist must not
    // queue reads in front of them), once for every caller looking for it at the same time; a
    // change to it applied meanwhile is newer than this read and stays.
    let read = this.reading.get(name);
    if (!read) {
      const seen = this.changes.get(name) ?? 0;
      read = this.store.loadFunction(name).then((loaded) => {
        if (loaded && (this.changes.get(name) ?? 0) === seen) this.byName.set(loaded.fn.name, this.compact(loaded.fn, loaded.versions, loaded.aliases));
      }, () => undefined).finally(() => this.reading.delete(name));
      this.reading.set(name, read);
    }
    await read;
    f = found();
    // The read was set aside for a change that came in meanwhile (the change's own read may have
    // begun first, but it is applied in order): what it brings is awaited, not answered without.
    if (!f && this.pending > 0) {
      await this.settle();
      f = found();
    }
    return f ?? this.byName.get(name);
  }

  /** Lookups reading a function from the store, by name. */
  private readonly reading = new Map<string, Promise<void>>();
  /** Changes applied, by function name (a lookup's read started before one is stale). */
  private readonly changes = new Map<string, number>();

  /** The snapshot entry of one function, its records compacted (see the class comment). */
  private compact(fn: FunctionRecord, versions: VersionRecord[], aliases: AliasRecord[]): FunctionSnapshot {
    const { intern } = this;
    // Names are unique: one instance per function (record, versions, aliases), not interned.
    const name = fn.name;
    const record: FunctionRecord = {
      name,
      createdAt: fn.createdAt,
      tags: isEmpty(fn.tags) ? EMPTY_TAGS : fn.tags,
      reservedConcurrency: fn.reservedConcurrency,
      recursiveLoop: fn.recursiveLoop,
      lastVersion: fn.lastVersion,
    };
    const byVersion = new VersionTable();
    for (const v of versions) {
      const version = intern.string(v.version);
      byVersion.put({
        functionName: name,
        version,
        config: intern.config(v.config),
        codeSha256: intern.string(v.codeSha256),
        codeKey: intern.string(v.codeKey),
        codeSize: v.codeSize,
        revisionId: v.revisionId,
        lastModified: v.lastModified,
        state: intern.string(v.state) as VersionRecord['state'],
        stateReason: v.stateReason === null ? null : intern.string(v.stateReason),
        stateReasonCode: v.stateReasonCode === null ? null : intern.string(v.stateReasonCode),
        lastUpdateStatus: intern.string(v.lastUpdateStatus) as VersionRecord['lastUpdateStatus'],
        lastUpdateStatusReason: v.lastUpdateStatusReason === null ? null : intern.string(v.lastUpdateStatusReason),
        lastUpdateStatusReasonCode: v.lastUpdateStatusReasonCode === null ? null : intern.string(v.lastUpdateStatusReasonCode),
      });
    }
    let byAlias: Map<string, AliasRecord> = EMPTY_ALIASES;
    if (aliases.length > 0) {
      byAlias = new Map();
      for (const a of aliases) {
        byAlias.set(a.name, {
          ...a,
          functionName: name,
          functionVersion: intern.string(a.functionVersion),
          additionalVersionWeights: isEmpty(a.additionalVersionWeights) ? EMPTY_WEIGHTS : a.additionalVersionWeights,
        });
      }
    }
    return { fn: record, versions: byVersion, aliases: byAlias };
  }
}

/**
 * The versions of one function, read-only, as the Map the snapshot's type promises. Most
 * functions have only $LATEST: that one is a field, and a Map is allocated only for published
 * versions (a Map's table costs more than the version record it would hold).
 */
class VersionTable implements Map<string, VersionRecord> {
  private latest: VersionRecord | undefined;
  private published: Map<string, VersionRecord> | undefined;

  /** Filling, while the snapshot builds the table. */
  put(v: VersionRecord): void {
    if (v.version === LATEST) this.latest = v;
    else (this.published ??= new Map()).set(v.version, v);
  }

  get(version: string): VersionRecord | undefined {
    return version === LATEST ? this.latest : this.published?.get(version);
  }

  has(version: string): boolean {
    return this.get(version) !== undefined;
  }

  get size(): number {
    return (this.latest ? 1 : 0) + (this.published?.size ?? 0);
  }

  *entries(): MapIterator<[string, VersionRecord]> {
    if (this.latest) yield [LATEST, this.latest];
    if (this.published) yield* this.published.entries();
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<VersionRecord> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, VersionRecord]> {
    return this.entries();
  }

  forEach(fn: (value: VersionRecord, key: string, map: Map<string, VersionRecord>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
  }

  set(): this {
    throw new Error('the snapshot is read-only');
  }

  delete(): boolean {
    throw new Error('the snapshot is read-only');
  }

  clear(): void {
    throw new Error('the snapshot is read-only');
  }
}

/** A Map that stays empty: shared by every function that has no alias. */
class EmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('the snapshot is read-only');
  }
}

const EMPTY_ALIASES: Map<string, AliasRecord> = new EmptyMap<string, AliasRecord>();
const EMPTY_TAGS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const EMPTY_WEIGHTS: Record<string, number> = Object.freeze({}) as Record<string, number>;

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Entries beyond which the string table starts afresh (values that churn cannot grow it forever). */
const STRING_TABLE_LIMIT = 200_000;

/**
 * One instance per distinct value. Strings: a plain table, restarted past a bound (records
 * keep the instances they hold). Configurations: keyed by their JSON text, held weakly, so a
 * configuration no version uses any more is collected with its entry.
 */
class Interner {
  private strings = new Map<string, string>();
  private readonly configs = new Map<string, WeakRef<FunctionConfig>>();
  private readonly gone = new FinalizationRegistry<string>((key) => {
    const ref = this.configs.get(key);
    if (ref && ref.deref() === undefined) this.configs.delete(key);
  });

  string(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    if (this.strings.size >= STRING_TABLE_LIMIT) this.strings = new Map();
    this.strings.set(s, s);
    return s;
  }

  config(c: FunctionConfig): FunctionConfig {
    const key = JSON.stringify(c);
    const hit = this.configs.get(key)?.deref();
    if (hit) return hit;
    const shared: FunctionConfig = {
      ...c,
      runtime: c.runtime === null ? null : this.string(c.runtime),
      handler: c.handler === null ? null : this.string(c.handler),
      role: this.string(c.role),
      architectures: c.architectures.map((a) => this.string(a)),
    };
    this.configs.set(key, new WeakRef(shared));
    this.gone.register(shared, key);
    return shared;
  }
}
