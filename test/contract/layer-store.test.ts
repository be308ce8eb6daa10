import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { SqlLayerStore } from '../../src/adapters/sql/layer-store.js';
import type { LayerVersionRecord } from '../../src/core/model.js';
import type { LayerStore } from '../../src/ports/layers.js';
import { describeEachDatabase } from './db.js';

function rec(layerName: string, over: Partial<LayerVersionRecord> = {}): Omit<LayerVersionRecord, 'version' | 'policy'> {
  const key = layerName.padEnd(64, '0').slice(0, 64).replace(/[^0-9a-f]/g, 'b');
  return {
    layerName, description: '', createdDate: '2026-12-06T10:00:00.000+0000', compatibleRuntimes: null, compatibleArchitectures: [],
    licenseInfo: null, codeSha256: Buffer.from(key, 'hex').toString('base64'), codeKey: key, codeSize: 99, unpackedSize: 120, ...over,
  };
}

describeEachDatabase('LayerStore contract', (db) => {
  let store: LayerStore;
  before(() => {
    store = new SqlLayerStore(db().sql);
  });

  it('numbers versions from 1, never reuses a number, keeps null and empty lists apart', async () => {
    const v1 = await store.publish(rec('num', { compatibleRuntimes: ['python3.12'], licenseInfo: 'MIT', description: 'héllo ✓' }));
    const v2 = await store.publish(rec('num'));
    assert.deepEqual([v1.version, v2.version], [1, 2]);
    const got = await store.getVersion('num', 1);
    assert.deepEqual(got, { ...rec('num', { compatibleRuntimes: ['python3.12'], licenseInfo: 'MIT', description: 'héllo ✓' }), version: 1, policy: null });
    assert.equal((await store.getVersion('num', 2))?.compatibleRuntimes, null);
    assert.deepEqual((await store.getVersion('num', 2))?.compatibleArchitectures, []);
    assert.equal((await store.deleteVersion('num', 1))?.version, 1);
    assert.equal(await store.deleteVersion('num', 1), undefined);
    await store.deleteVersion('num', 2);
    assert.deepEqual(await store.listVersions('num'), []);
    assert.equal((await store.publish(rec('num'))).version, 3);
  });

  it('concurrent publishes of one layer get distinct numbers', async () => {
    const peer = new SqlLayerStore(await db().peer());
    const out = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? peer : store).publish(rec('race'))));
    assert.deepEqual(out.map((r) => r.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('lists versions newest first (below a marker) and names with versions in order', async () => {
    for (let i = 0; i < 3; i++) await store.publish(rec('lst-b'));
    await store.publish(rec('lst-a'));
    await store.publish(rec('lst-c'));
    await store.deleteVersion('lst-c', 1);
    assert.deepEqual((await store.listVersions('lst-b')).map((r) => r.version), [3, 2, 1]);
    assert.deepEqual((await store.listVersions('lst-b', 3)).map((r) => r.version), [2, 1]);
    const names = (await store.listNames('lst-', 100)).filter((n) => n.startsWith('lst-'));
    assert.deepEqual(names, ['lst-a', 'lst-b'], 'a layer without versions is not listed');
    assert.deepEqual((await store.listNames('lst-a', 1)), ['lst-b']);
  });

  it('replaces a policy only at the expected revision', async () => {
    await store.publish(rec('pol'));
    const p1 = { revisionId: 'r1', statements: [{ sid: 's', action: 'lambda:GetLayerVersion', principal: '*' }] };
    assert.equal(await store.putPolicy('pol', 1, p1, 'wrong'), false);
    assert.equal(await store.putPolicy('pol', 1, p1, null), true);
    assert.equal(await store.putPolicy('pol', 1, null, null), false);
    assert.deepEqual((await store.getVersion('pol', 1))?.policy, p1);
    assert.equal(await store.putPolicy('pol', 1, null, 'r1'), true);
    assert.equal((await store.getVersion('pol', 1))?.policy, null);
    assert.equal(await store.putPolicy('pol', 9, p1, null), false);
  });

  it('reports the code keys its versions hold', async () => {
    const v = await store.publish(rec('keys', { codeKey: 'c'.repeat(64) }));
    assert.ok((await store.codeKeys()).has('c'.repeat(64)));
    await store.deleteVersion('keys', v.version);
    assert.ok(!(await store.codeKeys()).has('c'.repeat(64)));
  });
});
