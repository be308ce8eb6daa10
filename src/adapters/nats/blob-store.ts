import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  consumerOpts,
  StorageType,
  type JetStreamManager,
  type JetStreamSubscription,
  type JsMsg,
  type NatsConnection,
  type NatsError,
  type ObjectStore,
} from 'nats';
import type { BlobStore } from '../../ports/blobs.js';
import { FsBlobStore } from '../fs/blob-store.js';

const KEY = /^[0-9a-f]{64}$/;
/** JetStream's "wrong last sequence": the object's metadata changed since we looked. */
const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's "no message found" (as opposed to "stream not found"). */
const NO_MESSAGE_FOUND = 10037;
/** A fetch that receives nothing for this long has stalled (its chunks were purged: a delete). */
const FETCH_IDLE_MS = 15_000;
/** How long an operation waits for the bucket's watcher to catch up (it re-creates its consumer after a disconnect). */
const CATCH_UP_MS = 30_000;

interface Entry {
  size: number;
  /** Stream sequence of the object's latest metadata message (the revision a rewrite must name). */
  revision: number;
  deleted: boolean;
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The cluster's blob store: a JetStream object store bucket `stratus-blobs-<clusterId>` (file
 * storage) holds every blob, named by its hex sha256 key, and a local FsBlobStore under
 * `<dataDir>/blob-cache` keeps copies of the blobs this node wrote or read.
 *
 * The bucket's state is followed by a watcher (an ordered consumer over the object metadata
 * subjects): for each object its size, its latest revision and whether it is deleted, and the
 * running total of live sizes. Before answering, an operation asks the bucket for the sequence of
 * its latest metadata message (one small request) and waits until the watcher has applied it, so
 * has(), get() and totalSize() are exact cluster-wide, and a node's own put or delete is visible
 * to it when the call returns. totalSize() is therefore a running figure: O(1) per call, not a
 * walk over the objects.
 *
 * put() writes an object only when the bucket has no live one under that key, naming the
 * revision it expects (none, or the deletion it saw): of two nodes putting the same bytes at once
 * one writes and the other, refused, finds the object there; nothing is rewritten, no chunk left
 * behind. get() answers from the local copy, else fetches from the bucket and keeps a copy; a
 * deletion (by any node) drops the local copy too. localPath() is the local copy's path while the
 * blob is live and copied here, undefined otherwise (the caller then uses get(), which fetches).
 */
export class NatsBlobStore implements BlobStore {
  /** Opens (creating it if missing) the cluster's bucket and catches up with its state. */
  static async open(nc: NatsConnection, clusterId: string, dataDir: string): Promise<NatsBlobStore> {
    if (!/^[A-Za-z0-9_-]+$/.test(clusterId)) throw new Error(`Invalid cluster id for a NATS bucket: ${clusterId}`);
    const bucket = `stratus-blobs-${clusterId}`;
    let jsm: JetStreamManager;
    let os: ObjectStore;
    try {
      jsm = await nc.jetstreamManager();
      os = await nc.jetstream().views.os(bucket, { storage: StorageType.File });
      await os.status(); // views.os does not report every failure to create the bucket
    } catch (e) {
      throw new Error(`NATS object store bucket ${bucket} cannot be opened: ${(e as Error).message}`);
    }
    const store = new NatsBlobStore(nc, jsm, os, bucket, new FsBlobStore(path.join(dataDir, 'blob-cache')));
    await store.start();
    return store;
  }

  private readonly stream: string;
  private readonly metaSubjects: string;
  private readonly objects = new Map<string, Entry>();
  private total = 0;
  /** Highest stream sequence the watcher has applied. */
  private seen = 0;
  private readonly waiters = new Set<Waiter>();
  private watcher: JetStreamSubscription | undefined;
  private failure: Error | undefined;
  /** Puts in flight per key on this node (concurrent puts of the same bytes write once). */
  private readonly writing = new Map<string, Promise<void>>();
  /** Fetches in flight per key (concurrent gets of a blob not copied here fetch it once). */
  private readonly fetching = new Map<string, Promise<Buffer | undefined>>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly os: ObjectStore,
    private readonly bucket: string,
    private readonly cache: FsBlobStore,
  ) {
    this.stream = `OBJ_${bucket}`;
    this.metaSubjects = `$O.${bucket}.M.>`;
  }

  private async start(): Promise<void> {
    const opts = consumerOpts()
      .orderedConsumer()
      .deliverLastPerSubject()
      // Its consumer is re-created when two heartbeats are missed (after a reconnect): 2 s, not 10.
      .idleHeartbeat(1_000)
      .callback((err, m) => this.onMeta(err, m));
    this.watcher = await this.nc.jetstream().subscribe(this.metaSubjects, opts);
    await this.sync();
  }

  async put(data: Buffer): Promise<string> {
    const key = createHash('sha256').update(data).digest('hex');
    let p = this.writing.get(key);
    if (!p) {
      // Registered before any await: a concurrent put of the same bytes joins this one.
      const mine = this.store(key, data);
      p = mine;
      this.writing.set(key, mine);
      const done = () => this.writing.delete(key);
      mine.then(done, done);
    }
    await p;
    return key;
  }

  private async store(key: string, data: Buffer): Promise<void> {
    await this.sync();
    for (let attempt = 1; ; attempt++) {
      const entry = this.objects.get(key);
      if (entry && !entry.deleted) break; // in the bucket already: not rewritten
      try {
        const info = await this.os.putBlob({ name: key }, data, { previousRevision: entry?.revision ?? 0 });
        await this.caughtUp(info.revision);
        break;
      } catch (e) {
        // Another node wrote (or deleted) it since we looked: look again.
        if ((e as NatsError).api_error?.err_code !== WRONG_LAST_SEQUENCE || attempt >= 5) throw e;
        await this.sync();
      }
    }
    await this.cache.put(data);
  }

  async get(key: string): Promise<Buffer | undefined> {
    if (!KEY.test(key)) return undefined;
    try {
      await this.sync();
    } catch (e) {
      // NATS unreachable: a copy kept here still answers (a key's content never changes).
      const local = this.live(key) ? await this.cache.get(key) : undefined;
      if (local) return local;
      throw e;
    }
    if (!this.live(key)) {
      await this.cache.delete(key);
      return undefined;
    }
    const local = await this.cache.get(key);
    if (local) return local;
    let p = this.fetching.get(key);
    if (!p) {
      const mine = this.fetch(key);
      p = mine;
      this.fetching.set(key, mine);
      const done = () => this.fetching.delete(key);
      mine.then(done, done);
    }
    return p;
  }

  private async fetch(key: string): Promise<Buffer | undefined> {
    const r = await this.os.get(key);
    if (!r) return undefined; // deleted since
    const failed = r.error.then(
      (e) => e,
      (e: Error) => e,
    );
    const reader = r.data.getReader();
    const parts: Uint8Array[] = [];
    try {
      for (;;) {
        const { done, value } = await idle(reader.read(), FETCH_IDLE_MS);
        if (done) break;
        parts.push(value);
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (e === STALLED) {
        await this.sync();
        if (!this.live(key)) return undefined; // deleted while we read
        throw new Error(`fetching blob ${key} from NATS bucket ${this.bucket} stalled`);
      }
      throw e;
    }
    const error = await failed;
    if (error) throw error;
    const data = Buffer.concat(parts);
    if (createHash('sha256').update(data).digest('hex') !== key) {
      throw new Error(`blob ${key} in NATS bucket ${this.bucket} does not hold the bytes its name says`);
    }
    await this.cache.put(data);
    return data;
  }

  async has(key: string): Promise<boolean> {
    if (!KEY.test(key)) return false;
    await this.sync();
    return this.live(key);
  }

  async delete(key: string): Promise<void> {
    if (!KEY.test(key)) return;
    await this.writing.get(key)?.catch(() => undefined);
    await this.sync();
    if (this.live(key)) {
      await this.os.delete(key);
      await this.sync();
    }
    await this.cache.delete(key);
  }

  localPath(key: string): string | undefined {
    if (!KEY.test(key) || !this.live(key)) return undefined;
    return this.cache.localPath(key);
  }

  /** Sum of the live objects' sizes in the bucket (every node's), from the running figure. */
  async totalSize(): Promise<number> {
    await this.sync();
    return this.total;
  }

  /** Stops following the bucket (the connection, shared, stays open). */
  async close(): Promise<void> {
    this.failure ??= new Error(`NatsBlobStore for bucket ${this.bucket} is closed`);
    this.watcher?.unsubscribe();
    this.rejectWaiters(this.failure);
  }

  private live(key: string): boolean {
    const entry = this.objects.get(key);
    return entry !== undefined && !entry.deleted;
  }

  /** Waits until the watcher has applied the bucket's latest metadata message. */
  private async sync(): Promise<void> {
    if (this.failure) throw this.failure;
    let last: number;
    try {
      last = (await this.jsm.streams.getMessage(this.stream, { last_by_subj: this.metaSubjects })).seq;
    } catch (e) {
      if ((e as NatsError).api_error?.err_code === NO_MESSAGE_FOUND) return; // an empty bucket
      throw e;
    }
    await this.caughtUp(last);
  }

  private caughtUp(seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.seen >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        seq,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`NATS bucket ${this.bucket}: its watcher has not caught up with sequence ${seq} in ${CATCH_UP_MS / 1000} s`));
        }, CATCH_UP_MS),
      };
      this.waiters.add(waiter);
    });
  }

  private onMeta(err: NatsError | null, m: JsMsg | null): void {
    if (err) {
      // The ordered consumer could not be re-created: this store no longer follows the bucket.
      this.failure ??= new Error(`NATS bucket ${this.bucket}: ${err.message}`);
      this.rejectWaiters(this.failure);
      return;
    }
    if (!m?.data) return;
    try {
      this.apply(m.seq, m.json<{ name?: unknown; size?: unknown; deleted?: unknown }>());
    } catch {
      // not object metadata we can read: skipped
    }
    if (m.seq > this.seen) this.seen = m.seq;
    for (const w of this.waiters) {
      if (w.seq > this.seen) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve();
    }
  }

  private apply(seq: number, info: { name?: unknown; size?: unknown; deleted?: unknown }): void {
    const name = info.name;
    if (typeof name !== 'string' || !KEY.test(name)) return;
    const prev = this.objects.get(name);
    if (prev && prev.revision >= seq) return;
    if (prev && !prev.deleted) this.total -= prev.size;
    const deleted = info.deleted === true;
    const size = deleted ? 0 : Number(info.size) || 0;
    this.objects.set(name, { size, revision: seq, deleted });
    if (!deleted) this.total += size;
    else if (this.cache.localPath(name)) void this.cache.delete(name).catch(() => undefined); // deleted by any node: drop our copy
  }

  private rejectWaiters(e: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }
}

const STALLED = Symbol('stalled');

function idle<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(STALLED), ms);
  });
  return Promise.race([p, stalled]).finally(() => clearTimeout(timer));
}
