import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RUNTIMES_DIR } from './harness.js';

interface IdleGcLike {
  busyNow(): void;
  idleNow(): void;
}
type IdleGcCtor = new (gc: (() => void) | undefined, idleMs: number) => IdleGcLike;

const { IdleGc } = (await import(pathToFileURL(path.join(RUNTIMES_DIR, 'nodejs', 'idle-gc.cjs')).href)) as { IdleGc: IdleGcCtor };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('idle collection: once per quiet period after work, never while busy, never without work', async () => {
  let runs = 0;
  const g = new IdleGc(() => { runs++; }, 60);

  g.idleNow(); // nothing ran yet: nothing to give back
  await sleep(250);
  assert.equal(runs, 0);

  g.busyNow();
  g.idleNow();
  await sleep(250);
  assert.equal(runs, 1, 'one collection after the quiet period');
  await sleep(250);
  assert.equal(runs, 1, 'not again without new work');

  g.busyNow();
  await sleep(250);
  assert.equal(runs, 1, 'busy: no collection');
  g.idleNow();
  await sleep(250);
  assert.equal(runs, 2);
});

test('idle collection: work that keeps coming postpones it', async () => {
  let runs = 0;
  const g = new IdleGc(() => { runs++; }, 400);
  for (let i = 0; i < 8; i++) {
    g.busyNow();
    g.idleNow();
    await sleep(20);
  }
  assert.equal(runs, 0);
  await sleep(800);
  assert.equal(runs, 1);
});

test('idle collection: without a gc function it does nothing', async () => {
  const g = new IdleGc(undefined, 10);
  g.busyNow();
  g.idleNow();
  await sleep(30);
});
