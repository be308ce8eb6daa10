import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { MemoryChangeFeed } from '../../src/adapters/memory/change-feed.js';
import type { ChangeEvent, ChangeFeed } from '../../src/ports/changes.js';

/** ChangeFeed contract. One adapter today (in-process); the NATS one joins this list. */
const adapters: Array<{ name: string; open(): ChangeFeed }> = [{ name: 'MemoryChangeFeed', open: () => new MemoryChangeFeed() }];

/** Lets an asynchronous adapter deliver (a no-op wait for the in-process one). */
const settle = () => new Promise((r) => setImmediate(r));

for (const adapter of adapters) {
  describe(`ChangeFeed contract [${adapter.name}]`, () => {
    it('delivers every published event to every subscriber, in order', async () => {
      const feed = adapter.open();
      const a: ChangeEvent[] = [];
      const b: ChangeEvent[] = [];
      feed.subscribe((e) => a.push(e));
      feed.subscribe((e) => b.push(e));
      const events: ChangeEvent[] = [
        { kind: 'function', name: 'f' },
        { kind: 'resource', type: 'url', id: 'f:$LATEST' },
        { kind: 'function-deleted', name: 'f' },
      ];
      for (const e of events) await feed.publish(e);
      await settle();
      assert.deepEqual(a, events);
      assert.deepEqual(b, events);
      await feed.close();
    });

    it('a listener that throws does not break the others or the publisher', async () => {
      const feed = adapter.open();
      const got: string[] = [];
      feed.subscribe(() => {
        throw new Error('boom');
      });
      feed.subscribe((async () => {
        throw new Error('async boom');
      }) as unknown as (e: ChangeEvent) => void);
      feed.subscribe((e) => got.push(e.kind));
      await feed.publish({ kind: 'function', name: 'x' });
      await feed.publish({ kind: 'function', name: 'y' });
      await settle();
      assert.deepEqual(got, ['function', 'function']);
      await feed.close();
    });

    it('unsubscribe stops delivery to that listener only', async () => {
      const feed = adapter.open();
      const a: string[] = [];
      const b: string[] = [];
      const offA = feed.subscribe((e) => a.push((e as { name: string }).name));
      feed.subscribe((e) => b.push((e as { name: string }).name));
      await feed.publish({ kind: 'function', name: '1' });
      offA();
      offA();
      await feed.publish({ kind: 'function', name: '2' });
      await settle();
      assert.deepEqual(a, ['1']);
      assert.deepEqual(b, ['1', '2']);
      await feed.close();
    });

    it('close() drops listeners; publishing afterwards delivers nothing', async () => {
      const feed = adapter.open();
      const got: string[] = [];
      feed.subscribe((e) => got.push(e.kind));
      await feed.close();
      await feed.publish({ kind: 'function', name: 'late' });
      feed.subscribe((e) => got.push(e.kind));
      await feed.publish({ kind: 'function', name: 'later' });
      await settle();
      assert.deepEqual(got, []);
    });
  });
}

describe('MemoryChangeFeed specifics', () => {
  it('calls listeners before publish() resolves, and reports listener errors on a diagnostics channel', async () => {
    const feed = new MemoryChangeFeed();
    const reports: unknown[] = [];
    const onReport = (m: unknown) => reports.push(m);
    subscribe('stratus:change-feed:listener-error', onReport);
    try {
      let seen = false;
      feed.subscribe(() => {
        throw new Error('boom');
      });
      feed.subscribe(() => {
        seen = true;
      });
      await feed.publish({ kind: 'function', name: 'f' });
      assert.equal(seen, true);
      assert.equal(reports.length, 1);
      const r = reports[0] as { event: ChangeEvent; error: Error };
      assert.deepEqual(r.event, { kind: 'function', name: 'f' });
      assert.equal(r.error.message, 'boom');
    } finally {
      unsubscribe('stratus:change-feed:listener-error', onReport);
      await feed.close();
    }
  });
});
