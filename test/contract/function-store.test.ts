import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { SqlFunctionStore } from '../../src/adapters/sql/function-store.js';
import { LATEST, type AliasRecord, type FunctionConfig, type FunctionRecord, type VersionRecord } from '../../src/core/model.js';
import type { FunctionStore } from '../../src/ports/functions.js';
import { describeEachDatabase } from './db.js';

function config(over: Partial<FunctionConfig> = {}): FunctionConfig {
  return {
    runtime: 'nodejs20.x',
    handler: 'index.handler',
    role: 'arn:aws:iam::000000000000:role/stratus',
    memorySize: 128,
    timeout: 3,
    description: '',
    environment: {},
    ephemeralStorage: 512,
    architectures: ['x86_64'],
    packageType: 'Zip',
    deadLetterTargetArn: null,
    tracingMode: 'PassThrough',
    layers: [],
    loggingConfig: { logFormat: 'Text', logGroup: null },
    ...over,
  };
}

function fnRecord(name: string, over: Partial<FunctionRecord> = {}): FunctionRecord {
  return { name, createdAt: '2026-11-22T10:00:00.000Z', tags: {}, reservedConcurrency: null, recursiveLoop: 'Terminate', lastVersion: 0, ...over };
}

let revs = 0;
function version(functionName: string, v: string, over: Partial<VersionRecord> = {}): VersionRecord {
  const key = (functionName + v).padEnd(64, '0').slice(0, 64).replace(/[^0-9a-f]/g, 'a');
  return {
    functionName,
    version: v,
    config: config(),
    codeSha256: Buffer.from(key, 'hex').toString('base64'),
    codeKey: key,
    codeSize: 1234,
    revisionId: `rev-${++revs}`,
    lastModified: '2026-11-22T10:00:00.000+0000',
    state: 'Active',
    stateReason: null,
    stateReasonCode: null,
    lastUpdateStatus: 'Successful',
    lastUpdateStatusReason: null,
    lastUpdateStatusReasonCode: null,
    ...over,
  };
}

function alias(functionName: string, name: string, over: Partial<AliasRecord> = {}): AliasRecord {
  return { functionName, name, functionVersion: '1', description: '', additionalVersionWeights: {}, revisionId: `arev-${++revs}`, ...over };
}

async function create(store: FunctionStore, name: string, over: Partial<FunctionRecord> = {}): Promise<VersionRecord> {
  const latest = version(name, LATEST);
  assert.equal(await store.createFunction(fnRecord(name, over), latest), true);
  return latest;
}

/** Publishes the next version the way the control plane does. */
async function publish(store: FunctionStore, name: string, over: Partial<VersionRecord> = {}): Promise<VersionRecord> {
  const fn = (await store.getFunction(name))!;
  const v = version(name, String(fn.lastVersion + 1), over);
  assert.equal(await store.publishVersion(v, fn.lastVersion), true);
  return v;
}

describeEachDatabase('FunctionStore contract', (db) => {
  let store: FunctionStore;
  before(() => {
    store = new SqlFunctionStore(db().sql);
  });

  it('creates a function with its $LATEST, refuses a duplicate name, names are case-sensitive', async () => {
    const latest = version('create-me', LATEST, {
      config: config({ environment: { GREETING: 'héllo ✓', EMPTY: '' }, description: 'quotes \' " and \\ backslash', layers: [{ arn: 'arn:x', codeKey: 'a'.repeat(64), codeSize: 7, unpackedSize: 9 }] }),
    });
    const fn = fnRecord('create-me', { tags: { team: 'a', 'k:v': 'x y' }, reservedConcurrency: 5 });
    assert.equal(await store.createFunction(fn, latest), true);
    assert.equal(await store.createFunction(fnRecord('create-me'), version('create-me', LATEST)), false);
    assert.deepEqual(await store.getFunction('create-me'), fn);
    assert.deepEqual(await store.getVersion('create-me', LATEST), latest);
    assert.equal(await store.getFunction('Create-Me'), undefined);
    assert.equal(await store.getFunction('missing'), undefined);
    assert.equal(await store.getVersion('create-me', '1'), undefined);
    // A different case is a different function.
    await create(store, 'Create-Me');
    assert.equal((await store.getFunction('Create-Me'))!.name, 'Create-Me');
    assert.deepEqual(await store.getVersion('create-me', LATEST), latest, 'the other function is untouched');
  });

  it('lists functions by name (bytewise), paging after a name exclusively, and counts them', async () => {
    const names = ['p-b', 'p-A', 'p-a', 'p-Z', 'p-0', 'p-_x', 'p--y', 'p-aa', 'p-a9', 'p-10', 'p-9'];
    for (const n of [...names].reverse()) await create(store, n);
    const sorted = [...names].sort((x, y) => (Buffer.compare(Buffer.from(x), Buffer.from(y))));
    const all: string[] = [];
    let after: string | undefined = 'p-'; // everything before 'p-' belongs to other tests
    for (;;) {
      const page = await store.listFunctions(after, 4);
      const mine = page.filter((f) => f.name.startsWith('p-'));
      all.push(...mine.map((f) => f.name));
      if (page.length < 4 || mine.length < page.length) break;
      after = page[page.length - 1]!.name;
    }
    assert.deepEqual(all, sorted);
    const page = await store.listFunctions('p-a', 2);
    assert.deepEqual(page.map((f) => f.name), ['p-a9', 'p-aa']);
    assert.deepEqual(await store.listFunctions(undefined, 0), []);
    const first = await store.listFunctions(undefined, 1);
    assert.equal(first.length, 1);
    const count = await store.countFunctions();
    const everything = await store.listFunctions(undefined, 10_000);
    assert.equal(count, everything.length);
    assert.ok(count >= names.length);
  });

  it('updates function-level fields without touching lastVersion', async () => {
    await create(store, 'upd');
    await publish(store, 'upd');
    await store.updateFunction(fnRecord('upd', { tags: { a: '1' }, reservedConcurrency: 7, lastVersion: 99, createdAt: 'changed' }));
    const fn = (await store.getFunction('upd'))!;
    assert.deepEqual(fn.tags, { a: '1' });
    assert.equal(fn.reservedConcurrency, 7);
    assert.equal(fn.lastVersion, 1);
    assert.equal(fn.createdAt, '2026-11-22T10:00:00.000Z');
    await store.updateFunction(fnRecord('upd', { tags: {}, reservedConcurrency: null }));
    assert.equal((await store.getFunction('upd'))!.reservedConcurrency, null);
  });

  it('deleteFunction removes its versions and aliases; the name can be reused afresh', async () => {
    await create(store, 'del');
    await publish(store, 'del');
    await publish(store, 'del');
    assert.equal(await store.createAlias(alias('del', 'live')), true);
    await create(store, 'del-neighbour');
    assert.equal(await store.createAlias(alias('del-neighbour', 'live')), true);

    assert.equal(await store.deleteFunction('del'), true);
    assert.equal(await store.getFunction('del'), undefined);
    assert.deepEqual(await store.listVersions('del'), []);
    assert.deepEqual(await store.listAliases('del'), []);
    assert.equal(await store.getAlias('del', 'live'), undefined);
    assert.equal(await store.loadFunction('del'), undefined);
    assert.equal(await store.deleteFunction('del'), false);
    // Neighbours untouched.
    assert.ok(await store.getAlias('del-neighbour', 'live'));
    // Recreated: no trace of the old versions, numbering starts over.
    await create(store, 'del');
    assert.deepEqual((await store.listVersions('del')).map((v) => v.version), [LATEST]);
    assert.equal((await store.getFunction('del'))!.lastVersion, 0);
  });

  it('orders versions $LATEST first, then numerically (10 after 9)', async () => {
    await create(store, 'many');
    for (let i = 0; i < 12; i++) await publish(store, 'many');
    const got = (await store.listVersions('many')).map((v) => v.version);
    assert.deepEqual(got, [LATEST, '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
    assert.equal((await store.getFunction('many'))!.lastVersion, 12);
    assert.equal(await store.deleteVersion('many', '10'), true);
    assert.equal(await store.deleteVersion('many', '10'), false);
    assert.deepEqual((await store.listVersions('many')).map((v) => v.version).slice(9), ['9', '11', '12']);
    // Numbers are never reused: the next publish is 13.
    assert.equal((await publish(store, 'many')).version, '13');
  });

  it('putVersion replaces $LATEST, honouring expectedRevision', async () => {
    const latest = await create(store, 'put');
    const v2 = version('put', LATEST, { config: config({ memorySize: 512 }), revisionId: 'r2' });
    assert.equal(await store.putVersion(v2, 'not-the-revision'), false);
    assert.deepEqual(await store.getVersion('put', LATEST), latest, 'unchanged after a failed precondition');
    assert.equal(await store.putVersion(v2, latest.revisionId), true);
    assert.deepEqual(await store.getVersion('put', LATEST), v2);
    const v3 = version('put', LATEST, { revisionId: 'r3', state: 'Pending', stateReason: 'busy', stateReasonCode: 'Creating' });
    assert.equal(await store.putVersion(v3), true, 'no precondition');
    assert.deepEqual(await store.getVersion('put', LATEST), v3);
    assert.equal(await store.putVersion(version('no-such-function', LATEST)), false);
    assert.equal(await store.putVersion(version('no-such-function', LATEST), 'x'), false);
    assert.equal(await store.getFunction('no-such-function'), undefined);
  });

  it('putVersion with the same expectedRevision from two writers: exactly one wins', async () => {
    const latest = await create(store, 'put-race');
    const other = new SqlFunctionStore(await db().peer());
    const a = version('put-race', LATEST, { revisionId: 'ra' });
    const b = version('put-race', LATEST, { revisionId: 'rb' });
    const results = await Promise.all([store.putVersion(a, latest.revisionId), other.putVersion(b, latest.revisionId)]);
    assert.equal(results.filter(Boolean).length, 1, `results ${results}`);
    const winner = results[0] ? 'ra' : 'rb';
    assert.equal((await store.getVersion('put-race', LATEST))!.revisionId, winner);
  });

  it('publishVersion checks expectedLastVersion', async () => {
    await create(store, 'pub');
    assert.equal(await store.publishVersion(version('pub', '1'), 1), false);
    assert.deepEqual((await store.listVersions('pub')).map((v) => v.version), [LATEST]);
    const v1 = version('pub', '1', { config: config({ description: 'first' }) });
    assert.equal(await store.publishVersion(v1, 0), true);
    assert.deepEqual(await store.getVersion('pub', '1'), v1);
    assert.equal((await store.getFunction('pub'))!.lastVersion, 1);
    assert.equal(await store.publishVersion(version('pub', '2'), 0), false, 'stale expectation');
    assert.equal(await store.publishVersion(version('missing-fn', '1'), 0), false);
  });

  it('concurrent publishes with the same expectedLastVersion: exactly one wins', async () => {
    await create(store, 'race');
    const others = [store, new SqlFunctionStore(await db().peer()), new SqlFunctionStore(await db().peer())];
    for (let round = 0; round < 3; round++) {
      const fn = (await store.getFunction('race'))!;
      const attempts = Array.from({ length: 6 }, (_, i) =>
        version('race', String(fn.lastVersion + 1), { revisionId: `race-${round}-${i}` }),
      );
      const results = await Promise.all(attempts.map((v, i) => others[i % others.length]!.publishVersion(v, fn.lastVersion)));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
      const winner = attempts[results.indexOf(true)]!;
      assert.equal((await store.getVersion('race', winner.version))!.revisionId, winner.revisionId);
      assert.equal((await store.getFunction('race'))!.lastVersion, fn.lastVersion + 1);
    }
    assert.deepEqual((await store.listVersions('race')).map((v) => v.version), [LATEST, '1', '2', '3']);
  });

  it('aliases: create, get, list, update with precondition, delete', async () => {
    await create(store, 'al');
    await publish(store, 'al');
    await publish(store, 'al');
    const live = alias('al', 'live', { functionVersion: '2', description: 'prod', additionalVersionWeights: { '1': 0.25 } });
    assert.equal(await store.createAlias(live), true);
    assert.equal(await store.createAlias(alias('al', 'live')), false, 'exists');
    assert.equal(await store.createAlias(alias('al', 'Live')), true, 'case-sensitive');
    assert.equal(await store.createAlias(alias('al', 'beta')), true);
    assert.equal(await store.createAlias(alias('no-such-function', 'x')), false);
    assert.deepEqual(await store.getAlias('al', 'live'), live);
    assert.deepEqual((await store.listAliases('al')).map((a) => a.name), ['Live', 'beta', 'live']);

    const moved = { ...live, functionVersion: '1', additionalVersionWeights: {}, revisionId: 'moved' };
    assert.equal(await store.updateAlias(moved, 'wrong'), false);
    assert.deepEqual(await store.getAlias('al', 'live'), live, 'unchanged');
    assert.equal(await store.updateAlias(moved, live.revisionId), true);
    assert.deepEqual(await store.getAlias('al', 'live'), moved);
    assert.equal(await store.updateAlias({ ...moved, description: 'no check', revisionId: 'again' }), true);
    assert.equal((await store.getAlias('al', 'live'))!.description, 'no check');
    assert.equal(await store.updateAlias(alias('al', 'missing')), false);

    const other = new SqlFunctionStore(await db().peer());
    const cur = (await store.getAlias('al', 'beta'))!;
    const results = await Promise.all([
      store.updateAlias({ ...cur, revisionId: 'b1' }, cur.revisionId),
      other.updateAlias({ ...cur, revisionId: 'b2' }, cur.revisionId),
    ]);
    assert.equal(results.filter(Boolean).length, 1);

    assert.equal(await store.deleteAlias('al', 'live'), true);
    assert.equal(await store.deleteAlias('al', 'live'), false);
    assert.equal(await store.getAlias('al', 'live'), undefined);
  });

  it('policies: per qualifier, written only at their owner\'s expected revision, which they renew; gone with their version, alias or function', async () => {
    const latest = await create(store, 'po');
    const v1 = await publish(store, 'po');
    const live = alias('po', 'live', { functionVersion: '1' });
    assert.equal(await store.createAlias(live), true);
    const p = (rev: string, sid: string) => ({ revisionId: rev, statements: [{ Sid: sid, Effect: 'Allow' }] });
    const rev = async (q: string) => (q === '' ? (await store.getVersion('po', LATEST))! : /^\d+$/.test(q) ? (await store.getVersion('po', q))! : (await store.getAlias('po', q))!).revisionId;
    assert.equal(await store.getPolicy('po', ''), undefined);
    assert.equal(await store.putPolicy('po', '', p('r1', 'a'), latest.revisionId, 'r1'), true);
    assert.equal(await rev(''), 'r1', '$LATEST takes the policy\'s revision');
    assert.equal(await store.putPolicy('po', '', p('r2', 'b'), latest.revisionId, 'r2'), false, 'the owner\'s current revision is expected');
    assert.deepEqual(await store.getPolicy('po', ''), p('r1', 'a'));
    assert.equal(await store.putPolicy('po', '', p('r2', 'b'), 'r1', 'r2'), true);
    assert.deepEqual(await store.getPolicy('po', ''), p('r2', 'b'));
    assert.equal(await store.putPolicy('po', '1', p('v1', 'v'), v1.revisionId, 'v1'), true);
    assert.equal(await rev('1'), 'v1');
    assert.equal(await store.putPolicy('po', 'live', p('l1', 'l'), live.revisionId, 'l1'), true);
    assert.equal(await rev('live'), 'l1');
    assert.equal(await rev(''), 'r2', 'each owner has its own revision');
    assert.equal(await store.putPolicy('nope', '', p('x', 'x'), 'r2', 'x'), false, 'no such function');
    assert.equal(await store.putPolicy('po', '2', p('x', 'x'), 'r2', 'x'), false, 'no such version');
    assert.equal(await store.deleteAlias('po', 'live'), true);
    assert.equal(await store.getPolicy('po', 'live'), undefined);
    assert.equal(await store.deleteVersion('po', '1'), true);
    assert.equal(await store.getPolicy('po', '1'), undefined);
    assert.equal(await store.putPolicy('po', '', null, 'r2', 'r3'), true);
    assert.equal(await store.getPolicy('po', ''), undefined);
    assert.equal(await rev(''), 'r3', 'removing renews the revision too');
    assert.equal(await store.putPolicy('po', '', p('r4', 'c'), 'r3', 'r4'), true);
    assert.equal(await store.deleteFunction('po'), true);
    await create(store, 'po');
    assert.equal(await store.getPolicy('po', ''), undefined, 'a new function of the name has none');
  });

  it('policies: of two writers at the same owner revision, one wins', async () => {
    const latest = await create(store, 'po-race');
    const other = new SqlFunctionStore(await db().peer());
    const p = (rev: string) => ({ revisionId: rev, statements: [{ Sid: rev, Effect: 'Allow' }] });
    const results = await Promise.all([store.putPolicy('po-race', '', p('a'), latest.revisionId, 'a'), other.putPolicy('po-race', '', p('b'), latest.revisionId, 'b')]);
    assert.equal(results.filter(Boolean).length, 1, `results ${results}`);
    const winner = results[0] ? 'a' : 'b';
    assert.equal((await store.getVersion('po-race', LATEST))!.revisionId, winner);
    assert.deepEqual(await store.getPolicy('po-race', ''), p(winner));
  });

  it('codeKeysInUse covers every version of every function', async () => {
    await create(store, 'keys-a');
    const p = await publish(store, 'keys-a', { codeKey: 'f'.repeat(64) });
    await create(store, 'keys-b');
    const keys = await store.codeKeysInUse();
    assert.ok(keys.has(p.codeKey));
    assert.ok(keys.has((await store.getVersion('keys-a', LATEST))!.codeKey));
    assert.ok(keys.has((await store.getVersion('keys-b', LATEST))!.codeKey));
    await store.deleteFunction('keys-a');
    assert.equal((await store.codeKeysInUse()).has(p.codeKey), false);
  });

  it('codeKeysInUse covers the archives of the layers versions use', async () => {
    const layer = { arn: 'arn:aws:lambda:us-east-1:000000000000:layer:l:1', codeKey: 'e'.repeat(64), codeSize: 5, unpackedSize: 6 };
    await create(store, 'keys-layers');
    const p = await publish(store, 'keys-layers', { config: config({ layers: [layer] }) });
    assert.ok((await store.codeKeysInUse()).has(layer.codeKey));
    await store.deleteVersion('keys-layers', p.version);
    assert.equal((await store.codeKeysInUse()).has(layer.codeKey), false);
  });

  it('totalReserved sums reserved concurrency, optionally excluding one function', async () => {
    const base = await store.totalReserved();
    await create(store, 'res-a', { reservedConcurrency: 10 });
    await create(store, 'res-b', { reservedConcurrency: 25 });
    await create(store, 'res-c');
    assert.equal(await store.totalReserved(), base + 35);
    assert.equal(await store.totalReserved('res-b'), base + 10);
    assert.equal(await store.totalReserved('res-c'), base + 35);
    assert.equal(await store.totalReserved('no-such'), base + 35);
    assert.equal(typeof (await store.totalReserved()), 'number');
  });

  it('provisionedTotals sums each function\'s provisioned concurrency and tells whether it has a reservation', async () => {
    await create(store, 'pc-a', { reservedConcurrency: 4 });
    await create(store, 'pc-b');
    const row = (fn: string, qualifier: string, requested: number) => ({ function_name: fn, qualifier, requested, last_modified: 1, allocated: 0, status: 'IN_PROGRESS', status_reason: null });
    await db().sql.db.insertInto('provisioned_concurrency').values([row('pc-a', '1', 2), row('pc-a', 'live', 1), row('pc-b', '3', 5)]).execute();
    const totals = await store.provisionedTotals();
    assert.deepEqual(totals.get('pc-a'), { total: 3, reserved: true });
    assert.deepEqual(totals.get('pc-b'), { total: 5, reserved: false });
    assert.equal(totals.has('res-c'), false);
  });

  it('listLatest returns $LATEST of many functions in the order asked, skipping missing ones', async () => {
    const names: string[] = [];
    for (let i = 0; i < 520; i++) names.push(`ll-${String(i).padStart(4, '0')}`);
    for (const n of names) await create(store, n);
    await publish(store, 'll-0001');
    const asked = ['ll-0003', 'missing', 'll-0001', ...names.slice(10)];
    const got = await store.listLatest(asked);
    assert.deepEqual(got.map((v) => v.functionName), ['ll-0003', 'll-0001', ...names.slice(10)]);
    assert.ok(got.every((v) => v.version === LATEST));
    assert.deepEqual(await store.listLatest([]), []);
  });

  it('loadAll and loadFunction return everything, consistently', async () => {
    await create(store, 'load');
    const v1 = await publish(store, 'load');
    const a = alias('load', 'prod', { functionVersion: '1' });
    await store.createAlias(a);
    const one = (await store.loadFunction('load'))!;
    assert.deepEqual(one.fn, await store.getFunction('load'));
    assert.deepEqual(one.versions.map((v) => v.version), [LATEST, '1']);
    assert.deepEqual(one.versions[1], v1);
    assert.deepEqual(one.aliases, [a]);
    assert.equal(await store.loadFunction('nope'), undefined);

    const all = await store.loadAll();
    const fnNames = all.functions.map((f) => f.name);
    assert.equal(all.functions.length, await store.countFunctions());
    assert.ok(fnNames.includes('load'));
    assert.deepEqual(all.versions.filter((v) => v.functionName === 'load'), one.versions);
    assert.deepEqual(all.aliases.filter((x) => x.functionName === 'load'), [a]);
    // Every version and alias belongs to a listed function.
    const set = new Set(fnNames);
    assert.ok(all.versions.every((v) => set.has(v.functionName)));
    assert.ok(all.aliases.every((x) => set.has(x.functionName)));
  });

  it('survives a reconnect (the data is in the database, not the store object)', async () => {
    await create(store, 'durable', { tags: { x: 'y' } });
    const second = await db().connect();
    const again = new SqlFunctionStore(second);
    assert.deepEqual((await again.getFunction('durable'))!.tags, { x: 'y' });
    await second.close();
  });
});
