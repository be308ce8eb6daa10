import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection } from 'nats';
import { FsBlobStore } from '../../src/adapters/fs/blob-store.js';
import { NatsBlobStore, openNats } from '../../src/adapters/nats/index.js';
import type { BlobStore } from '../../src/ports/blobs.js';
import { freshClusterId, natsProxy, natsSuite, natsUrl } from './nats.js';

/**
 * BlobStore contract, against every adapter: files (embedded) and the NATS object store
 * (cluster; when NATS is reachable, see ./nats.ts).
 */
interface Adapter {
  name: string;
  /** describe() options (a missing service skips the suite). */
  suite?: { skip?: string };
  /** A store over fresh storage; `reopen` gives a new instance over the same storage. */
  open(): Promise<{ store: BlobStore; reopen(): Promise<BlobStore>; root: string; dispose(): Promise<void> }>;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-blobs-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** NATS stores over one fresh cluster id (bucket), each with its own local cache directory. */
async function natsCluster(name = 'stratus-test') {
  const nc = await openNats(natsUrl(), name);
  const id = freshClusterId();
  const stores: NatsBlobStore[] = [];
  return {
    nc,
    id,
    bucket: `stratus-blobs-${id}`,
    async node(dataDir = path.join(tmp, `nats-${++n}`)): Promise<NatsBlobStore> {
      const store = await NatsBlobStore.open(nc, id, dataDir);
      stores.push(store);
      return store;
    },
    async dispose() {
      for (const s of stores) await s.close();
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(`OBJ_stratus-blobs-${id}`).catch(() => undefined);
      await nc.close();
    },
  };
}

const adapters: Adapter[] = [
  {
    name: 'FsBlobStore',
    async open() {
      const dataDir = path.join(tmp, `data-${++n}`);
      return { store: new FsBlobStore(dataDir), reopen: async () => new FsBlobStore(dataDir), root: dataDir, dispose: async () => undefined };
    },
  },
  {
    name: 'NatsBlobStore',
    suite: natsSuite,
    async open() {
      const cluster = await natsCluster();
      const dataDir = path.join(tmp, `nats-${++n}`);
      // reopen: another node of the same cluster (its own, empty, local cache).
      return { store: await cluster.node(dataDir), reopen: () => cluster.node(), root: dataDir, dispose: () => cluster.dispose() };
    },
  },
];

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

for (const adapter of adapters) {
  describe(`BlobStore contract [${adapter.name}]`, adapter.suite ?? {}, () => {
    let store: BlobStore;
    let reopen: () => Promise<BlobStore>;
    let dispose: (() => Promise<void>) | undefined;
    before(async () => {
      ({ store, reopen, dispose } = await adapter.open());
    });
    after(async () => {
      await dispose?.();
    });

    it('put returns the hex sha256 and get/has find the bytes', async () => {
      const data = Buffer.from('hello blob store');
      const key = await store.put(data);
      assert.equal(key, sha(data));
      assert.match(key, /^[0-9a-f]{64}$/);
      assert.equal(await store.has(key), true);
      assert.deepEqual(await store.get(key), data);
      const empty = await store.put(Buffer.alloc(0));
      assert.equal(empty, sha(Buffer.alloc(0)));
      assert.deepEqual(await store.get(empty), Buffer.alloc(0));
    });

    it('missing and malformed keys are simply absent', async () => {
      const missing = sha(Buffer.from('never stored'));
      assert.equal(await store.has(missing), false);
      assert.equal(await store.get(missing), undefined);
      await store.delete(missing);
      for (const bad of ['', '../../etc/passwd', 'ABCDEF'.padEnd(64, '0'), 'zz'.repeat(32)]) {
        assert.equal(await store.has(bad), false);
        assert.equal(await store.get(bad), undefined);
        assert.equal(store.localPath?.(bad), undefined);
      }
    });

    it('put is idempotent and totalSize counts each blob once, even under concurrent puts', async () => {
      const before = await store.totalSize();
      const data = crypto.randomBytes(10_000);
      const keys = await Promise.all(Array.from({ length: 8 }, () => store.put(data)));
      assert.equal(new Set(keys).size, 1);
      assert.equal(await store.put(data), keys[0]);
      assert.equal(await store.totalSize(), before + data.length);
      const other = crypto.randomBytes(333);
      await store.put(other);
      assert.equal(await store.totalSize(), before + data.length + other.length);
    });

    it('delete removes the blob and its size', async () => {
      const data = crypto.randomBytes(5000);
      const key = await store.put(data);
      const size = await store.totalSize();
      await store.delete(key);
      assert.equal(await store.has(key), false);
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.totalSize(), size - data.length);
      await store.delete(key); // twice is fine
      assert.equal(await store.totalSize(), size - data.length);
      // And it can come back.
      assert.equal(await store.put(data), key);
      assert.equal(await store.totalSize(), size);
    });

    it('localPath, when the adapter has one, holds exactly the blob', async () => {
      if (!store.localPath) return;
      const data = crypto.randomBytes(2048);
      const key = await store.put(data);
      const p = store.localPath(key)!;
      assert.ok(p);
      assert.deepEqual(fs.readFileSync(p), data);
      await store.delete(key);
      assert.equal(store.localPath(key), undefined);
    });

    it('survives reopen: same blobs, same totalSize', async () => {
      const data = crypto.randomBytes(4321);
      const key = await store.put(data);
      const total = await store.totalSize();
      const again = await reopen();
      assert.deepEqual(await again.get(key), data);
      assert.equal(await again.totalSize(), total);
    });
  });
}

describe('FsBlobStore specifics', () => {
  it('lays blobs out as blobs/<2 hex>/<sha256>, files 0600, directory 0700', async () => {
    const dataDir = path.join(tmp, 'layout');
    const store = new FsBlobStore(dataDir);
    const data = Buffer.from('layout');
    const key = await store.put(data);
    const file = path.join(dataDir, 'blobs', key.slice(0, 2), key);
    assert.equal(store.localPath(key), file);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dataDir, 'blobs')).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), [key], 'no temp file left behind');
  });

  it('an interrupted put (a leftover temp file) is cleaned up and not counted at reopen', async () => {
    const dataDir = path.join(tmp, 'torn');
    const store = new FsBlobStore(dataDir);
    const key = await store.put(Buffer.from('whole'));
    const shard = path.join(dataDir, 'blobs', key.slice(0, 2));
    fs.writeFileSync(path.join(shard, '.tmp-999-deadbeef'), Buffer.alloc(100_000));
    const again = new FsBlobStore(dataDir);
    assert.equal(await again.totalSize(), 'whole'.length);
    assert.deepEqual(fs.readdirSync(shard), [key]);
  });
});

describe('NatsBlobStore specifics', natsSuite, () => {
  let cluster: Awaited<ReturnType<typeof natsCluster>>;
  before(async () => {
    cluster = await natsCluster();
  });
  after(async () => {
    await cluster?.dispose();
  });

  it('keeps blobs in the JetStream object store bucket stratus-blobs-<clusterId>, on file storage, named by their key', async () => {
    const a = await cluster.node();
    const data = Buffer.from('in the bucket');
    const key = await a.put(data);
    const jsm = await cluster.nc.jetstreamManager();
    assert.equal((await jsm.streams.info(`OBJ_${cluster.bucket}`)).config.storage, 'file');
    const bucket = await cluster.nc.jetstream().views.os(cluster.bucket);
    assert.deepEqual(Buffer.from((await bucket.getBlob(key))!), data);
  });

  it('two nodes: a blob put on one is got on the other (cached there by get), a delete on one is gone for both', async () => {
    const a = await cluster.node();
    const b = await cluster.node();
    const data = crypto.randomBytes(300_000); // several chunks
    const key = await a.put(data);
    assert.deepEqual(fs.readFileSync(a.localPath(key)!), data, 'the writer keeps a local copy');
    assert.equal(b.localPath(key), undefined);
    assert.equal(await b.has(key), true);
    assert.equal(b.localPath(key), undefined, 'has() fetches nothing');
    assert.equal(await a.totalSize(), await b.totalSize());
    assert.deepEqual(await b.get(key), data);
    const cached = b.localPath(key);
    assert.ok(cached);
    assert.deepEqual(fs.readFileSync(cached), data);
    assert.deepEqual(await b.get(key), data);

    const total = await b.totalSize();
    await a.delete(key);
    assert.equal(await b.has(key), false);
    assert.equal(b.localPath(key), undefined);
    assert.equal(await b.get(key), undefined);
    assert.equal(fs.existsSync(cached), false, "the other node's copy is gone too");
    assert.equal(await b.totalSize(), total - data.length);
    assert.equal(await a.totalSize(), await b.totalSize());

    // And back, from the other side.
    assert.equal(await b.put(data), key);
    assert.equal(await a.totalSize(), total);
    assert.deepEqual(await a.get(key), data);
  });

  it('a blob the bucket has is not rewritten, even when two nodes put it at once', async () => {
    const own = await natsCluster();
    try {
      const a = await own.node();
      const b = await own.node();
      const data = crypto.randomBytes(400_000);
      const [k1, k2] = await Promise.all([a.put(data), b.put(data)]);
      assert.equal(k1, k2);
      const bucket = await own.nc.jetstream().views.os(own.bucket);
      const info = (await bucket.info(k1))!;
      assert.equal(info.size, data.length);
      await a.put(data);
      await b.put(data);
      assert.equal((await bucket.info(k1))!.revision, info.revision, 'not rewritten');
      // Nothing left over from the put that lost the race: the object's chunks and its metadata.
      const jsm = await own.nc.jetstreamManager();
      assert.equal((await jsm.streams.info(`OBJ_${own.bucket}`)).state.messages, info.chunks + 1);
      assert.equal(await a.totalSize(), data.length);
      assert.equal(await b.totalSize(), data.length);
    } finally {
      await own.dispose();
    }
  });

  it('a node that was away forgets its copies of blobs deleted meanwhile', async () => {
    const dir = path.join(tmp, 'away');
    let a = await cluster.node(dir);
    const b = await cluster.node();
    const data = crypto.randomBytes(1000);
    const key = await a.put(data);
    assert.ok(a.localPath(key));
    await a.close();
    await b.delete(key);
    a = await cluster.node(dir);
    assert.equal(a.localPath(key), undefined);
    assert.equal(await a.has(key), false);
    assert.equal(await a.get(key), undefined);
  });

  it('rides out a lost connection: its copies still answer get(), and it catches up once back', async () => {
    const proxy = await natsProxy();
    const nc = await openNats(proxy.url, 'stratus-test-away');
    const a = await NatsBlobStore.open(nc, cluster.id, path.join(tmp, 'flaky'));
    try {
      const b = await cluster.node();
      const kept = crypto.randomBytes(2000);
      const keptKey = await a.put(kept);
      const doomed = crypto.randomBytes(3000);
      const doomedKey = await a.put(doomed);
      const reconnected = (async () => {
        for await (const s of nc.status()) if (s.type === 'reconnect') return;
      })();
      proxy.cut();
      assert.deepEqual(await a.get(keptKey), kept, 'answered from the local copy');
      assert.ok(a.localPath(keptKey));
      await b.delete(doomedKey);
      proxy.restore();
      await reconnected;
      assert.equal(await a.has(doomedKey), false);
      assert.equal(a.localPath(doomedKey), undefined);
      assert.equal(await a.totalSize(), await b.totalSize());
      assert.equal(await a.has(keptKey), true);
    } finally {
      await a.close();
      await nc.close();
      await proxy.close();
    }
  });
});
