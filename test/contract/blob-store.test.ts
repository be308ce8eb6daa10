import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsBlobStore } from '../../src/adapters/fs/blob-store.js';
import type { BlobStore } from '../../src/ports/blobs.js';

/**
 * BlobStore contract. One adapter today (files, embedded); the cluster's NATS object store
 * adapter joins the `adapters` list when it exists.
 */
interface Adapter {
  name: string;
  /** A store over fresh storage; `reopen` gives a new instance over the same storage. */
  open(): { store: BlobStore; reopen(): BlobStore; root: string };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-blobs-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

const adapters: Adapter[] = [
  {
    name: 'FsBlobStore',
    open() {
      const dataDir = path.join(tmp, `data-${++n}`);
      return { store: new FsBlobStore(dataDir), reopen: () => new FsBlobStore(dataDir), root: dataDir };
    },
  },
];

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

for (const adapter of adapters) {
  describe(`BlobStore contract [${adapter.name}]`, () => {
    let store: BlobStore;
    let reopen: () => BlobStore;
    before(() => {
      ({ store, reopen } = adapter.open());
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
      const again = reopen();
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
