import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqlDatabase } from '../../src/adapters/sql/open.js';
import { migrate } from '../../src/adapters/sql/migrations/index.js';
import { SqlFunctionStore } from '../../src/adapters/sql/function-store.js';
import { defaultConfig } from '../../src/core/function-config.js';
import { LATEST, type FunctionRecord, type VersionRecord } from '../../src/core/model.js';
import { MemorySnapshot } from '../../src/invoke/snapshot.js';
import type { SqlDatabase } from '../../src/ports/sql.js';

const ROLE = 'arn:aws:iam::000000000000:role/shared';

function fnRecord(name: string): FunctionRecord {
  return { name, createdAt: '2026-01-01T00:00:00.000Z', tags: {}, reservedConcurrency: null, recursiveLoop: 'Terminate', lastVersion: 0 };
}

function latest(name: string, over: Partial<VersionRecord['config']> = {}): VersionRecord {
  return {
    functionName: name,
    version: LATEST,
    config: { ...defaultConfig(), runtime: 'nodejs20.x', handler: 'index.handler', role: ROLE, ...over },
    codeSha256: 'c2hhMjU2IG9mIHRoZSB6aXA=',
    codeKey: 'a'.repeat(64),
    codeSize: 100,
    revisionId: `rev-${name}`,
    lastModified: '2026-01-01T00:00:00.000+0000',
    state: 'Active',
    stateReason: null,
    stateReasonCode: null,
    lastUpdateStatus: 'Successful',
    lastUpdateStatusReason: null,
    lastUpdateStatusReasonCode: null,
  };
}

describe('MemorySnapshot: compact, read-only records for many idle functions', () => {
  let dir: string;
  let sql: SqlDatabase;
  let store: SqlFunctionStore;
  const deleted: string[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-snapshot-'));
    sql = await openSqlDatabase({ dataDir: dir });
    await migrate(sql);
    store = new SqlFunctionStore(sql);
    for (const name of ['a', 'b', 'c']) await store.createFunction(fnRecord(name), latest(name));
    await store.createFunction(fnRecord('big'), latest('big', { memorySize: 1024, environment: { K: 'v' } }));
  });
  after(async () => {
    await sql?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('identical configurations are one object; a different one is its own; values are intact', async () => {
    const snap = new MemorySnapshot(store, (n) => deleted.push(n));
    await snap.load();
    const a = snap.get('a')!.versions.get(LATEST)!;
    const b = snap.get('b')!.versions.get(LATEST)!;
    const big = snap.get('big')!.versions.get(LATEST)!;
    assert.equal(a.config, b.config, 'shared configuration object');
    assert.notEqual(a.config, big.config);
    assert.equal(big.config.memorySize, 1024);
    assert.deepEqual(big.config.environment, { K: 'v' });
    assert.deepEqual(a, await store.getVersion('a', LATEST), 'the compact record equals the stored one');
    assert.equal(a.functionName, snap.get('a')!.fn.name);
    assert.deepEqual(snap.get('a')!.fn, await store.getFunction('a'));
    assert.deepEqual([...snap.names()].sort(), ['a', 'b', 'big', 'c']);
  });

  test('the versions table answers like a Map and refuses writes; functions without aliases share an empty one', async () => {
    const v1: VersionRecord = { ...latest('a'), version: '1', revisionId: 'rev-a-1' };
    assert.ok(await store.publishVersion(v1, 0));
    const snap = new MemorySnapshot(store, () => undefined);
    await snap.load();
    const versions = snap.get('a')!.versions;
    assert.equal(versions.size, 2);
    assert.deepEqual([...versions.keys()], [LATEST, '1']);
    assert.deepEqual([...versions].map(([k, v]) => `${k}=${v.revisionId}`), ['$LATEST=rev-a', '1=rev-a-1']);
    assert.equal(versions.has('1'), true);
    assert.equal(versions.has('2'), false);
    assert.equal(versions.get('1')?.revisionId, 'rev-a-1');
    assert.equal(new Map(versions).size, 2);
    assert.throws(() => versions.set('9', v1), /read-only/);
    assert.throws(() => versions.delete('1'), /read-only/);
    assert.equal(snap.get('a')!.aliases.size, 0);
    assert.equal(snap.get('a')!.aliases, snap.get('b')!.aliases, 'one shared empty alias map');
    assert.throws(() => snap.get('a')!.aliases.set('x', {} as never), /read-only/);
  });

  test('a change event reloads one function (aliases included); a deletion removes it', async () => {
    const snap = new MemorySnapshot(store, (n) => deleted.push(n));
    await snap.load();
    assert.ok(await store.createAlias({ functionName: 'b', name: 'live', functionVersion: LATEST, description: '', additionalVersionWeights: {}, revisionId: 'r' }));
    await store.putVersion({ ...latest('b', { timeout: 30 }), revisionId: 'rev-b-2' });
    await snap.apply({ kind: 'function', name: 'b' });
    const b = snap.get('b')!;
    assert.equal(b.versions.get(LATEST)?.config.timeout, 30);
    assert.equal(b.versions.get(LATEST)?.revisionId, 'rev-b-2');
    assert.equal(b.aliases.get('live')?.functionVersion, LATEST);
    assert.notEqual(b.versions.get(LATEST)?.config, snap.get('c')!.versions.get(LATEST)?.config);
    await store.deleteFunction('c');
    await snap.apply({ kind: 'function', name: 'c' });
    assert.equal(snap.get('c'), undefined);
    assert.deepEqual(deleted, ['c']);
    await snap.apply({ kind: 'function-deleted', name: 'big' });
    assert.equal(snap.get('big'), undefined);
  });
});
