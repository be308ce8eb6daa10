import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, describe, it } from 'node:test';
import type { NatsConnection } from 'nats';
import { MemoryChangeFeed } from '../../src/adapters/memory/change-feed.js';
import { NatsChangeFeed, openNats } from '../../src/adapters/nats/index.js';
import type { ChangeEvent, ChangeFeed } from '../../src/ports/changes.js';
import { eventually, freshClusterId, natsProxy, natsSuite, natsUrl } from './nats.js';

/**
 * ChangeFeed contract, against every adapter: in-process (embedded) and NATS subjects (cluster;
 * when NATS is reachable, see ./nats.ts).
 */
interface Adapter {
  name: string;
  /** describe() options (a missing service skips the suite). */
  suite?: { skip?: string };
  open(): Promise<ChangeFeed>;
  dispose?(): Promise<void>;
}

let natsConnection: Promise<NatsConnection> | undefined;
const adapters: Adapter[] = [
  { name: 'MemoryChangeFeed', open: async () => new MemoryChangeFeed() },
  {
    name: 'NatsChangeFeed',
    suite: natsSuite,
    async open() {
      natsConnection ??= openNats(natsUrl(), 'stratus-test-feed');
      // Each feed in a cluster of its own: nothing from another test reaches it.
      return new NatsChangeFeed(await natsConnection, { clusterId: freshClusterId(), nodeId: 'contract-node' });
    },
    async dispose() {
      const nc = natsConnection;
      natsConnection = undefined;
      await (await nc)?.close();
    },
  },
];

/** Lets an asynchronous adapter deliver (a no-op wait for the in-process one). */
const settle = () => new Promise((r) => setImmediate(r));

for (const adapter of adapters) {
  describe(`ChangeFeed contract [${adapter.name}]`, adapter.suite ?? {}, () => {
    after(async () => {
      await adapter.dispose?.();
    });

    it('delivers every published event to every subscriber, in order', async () => {
      const feed = await adapter.open();
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
      const feed = await adapter.open();
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
      const feed = await adapter.open();
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
      const feed = await adapter.open();
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

const nameOf = (e: ChangeEvent) => (e.kind === 'resource' ? e.id : e.kind === 'resync' ? '' : e.name);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NatsChangeFeed specifics', natsSuite, () => {
  const open: Array<NatsConnection | ChangeFeed | { close(): Promise<void> }> = [];
  const connection = async (url = natsUrl()) => {
    const nc = await openNats(url, 'stratus-test-node');
    open.push(nc);
    return nc;
  };
  const feed = (nc: NatsConnection, opts: ConstructorParameters<typeof NatsChangeFeed>[1]) => {
    const f = new NatsChangeFeed(nc, opts);
    open.unshift(f); // closed before the connections
    return f;
  };
  after(async () => {
    for (const x of open) await x.close();
  });

  it("two nodes of one cluster each see the other's events (after beforeRemote, one at a time, in order) and their own once", async () => {
    const ncA = await connection();
    const ncB = await connection();
    const clusterId = freshClusterId();
    const log: string[] = [];
    const a = feed(ncA, { clusterId, nodeId: 'node-a' });
    const b = feed(ncB, {
      clusterId,
      nodeId: 'node-b',
      beforeRemote: async (e) => {
        log.push(`before ${nameOf(e)}`);
        await delay(20);
        log.push(`applied ${nameOf(e)}`);
      },
    });
    const gotA: string[] = [];
    const gotB: string[] = [];
    a.subscribe((e) => gotA.push(nameOf(e)));
    b.subscribe((e) => {
      gotB.push(nameOf(e));
      log.push(`listener ${nameOf(e)}`);
    });
    await Promise.all([ncA.flush(), ncB.flush()]); // both subscriptions are at the server

    for (const name of ['1', '2', '3']) await a.publish({ kind: 'function', name });
    assert.deepEqual(gotA, ['1', '2', '3'], 'delivered here at once');
    await eventually(() => gotB.length === 3, 10_000, 'node b to see 3 events');
    assert.deepEqual(log, ['1', '2', '3'].flatMap((n) => [`before ${n}`, `applied ${n}`, `listener ${n}`]));

    await b.publish({ kind: 'function-deleted', name: '4' });
    assert.deepEqual(gotB, ['1', '2', '3', '4']);
    assert.equal(log.at(-1), 'listener 4', 'beforeRemote is for remote events only');
    await eventually(() => gotA.length === 4, 10_000, 'node a to see the event of node b');
    // Every echo of a node's own messages has come back to it after a round trip: none delivered.
    await Promise.all([ncA.flush(), ncB.flush()]);
    await delay(50);
    assert.deepEqual(gotA, ['1', '2', '3', '4']);
    assert.deepEqual(gotB, ['1', '2', '3', '4']);
  });

  it('publishes {origin, event} as JSON on stratus.<clusterId>.changes; another cluster sees nothing', async () => {
    const ncA = await connection();
    const ncB = await connection();
    const clusterId = freshClusterId();
    const a = feed(ncA, { clusterId, nodeId: 'node-a' });
    const peer = feed(ncB, { clusterId, nodeId: 'node-peer' });
    const stranger = feed(ncB, { clusterId: freshClusterId(), nodeId: 'node-stranger' });
    const raw: unknown[] = [];
    const sub = ncB.subscribe(`stratus.${clusterId}.changes`, { callback: (_err, m) => raw.push(m.json()) });
    const gotPeer: ChangeEvent[] = [];
    const gotStranger: ChangeEvent[] = [];
    peer.subscribe((e) => gotPeer.push(e));
    stranger.subscribe((e) => gotStranger.push(e));
    await ncB.flush();

    const event: ChangeEvent = { kind: 'resource', type: 'url', id: 'f:$LATEST' };
    await a.publish(event);
    await eventually(() => gotPeer.length === 1, 10_000, 'the peer to see the event');
    await ncB.flush();
    assert.deepEqual(gotPeer, [event]);
    assert.deepEqual(raw, [{ origin: 'node-a', event }]);
    assert.deepEqual(gotStranger, [], 'another cluster id is another namespace');
    sub.unsubscribe();
  });

  it('a failing beforeRemote is reported and the event still reaches the listeners; malformed messages are skipped', async () => {
    const ncA = await connection();
    const ncB = await connection();
    const clusterId = freshClusterId();
    const b = feed(ncB, {
      clusterId,
      nodeId: 'node-b',
      beforeRemote: async (e) => {
        if (nameOf(e) === 'bad') throw new Error('snapshot refresh failed');
      },
    });
    const got: string[] = [];
    b.subscribe((e) => got.push(nameOf(e)));
    const reports: Array<{ event?: ChangeEvent; error: Error }> = [];
    const onReport = (m: unknown) => reports.push(m as { event?: ChangeEvent; error: Error });
    subscribe('stratus:change-feed:remote-error', onReport);
    try {
      await ncB.flush();
      const subject = `stratus.${clusterId}.changes`;
      ncA.publish(subject, 'not json');
      ncA.publish(subject, JSON.stringify({ origin: 'node-a', event: { kind: 'nonsense' } }));
      ncA.publish(subject, JSON.stringify({ origin: 'node-a', event: { kind: 'function', name: 'bad' } }));
      ncA.publish(subject, JSON.stringify({ origin: 'node-a', event: { kind: 'function', name: 'good', extra: 1 } }));
      await eventually(() => got.length === 2, 10_000, 'both events');
      assert.deepEqual(got, ['bad', 'good']);
      assert.equal(reports.length, 3);
      assert.deepEqual(reports[2]!.event, { kind: 'function', name: 'bad' });
      assert.equal(reports[2]!.error.message, 'snapshot refresh failed');
    } finally {
      unsubscribe('stratus:change-feed:remote-error', onReport);
    }
  });

  it('rides out a lost connection: publish does not fail, what it published reaches the others once back, and onResync is called', async () => {
    const proxy = await natsProxy();
    open.push(proxy);
    const ncP = await connection(proxy.url);
    const ncB = await connection();
    const statuses: string[] = [];
    void (async () => {
      for await (const s of ncP.status()) statuses.push(s.type);
    })();
    const clusterId = freshClusterId();
    let resyncs = 0;
    const p = feed(ncP, { clusterId, nodeId: 'node-p', onResync: () => resyncs++ });
    const b = feed(ncB, { clusterId, nodeId: 'node-b' });
    const gotP: string[] = [];
    const gotB: string[] = [];
    p.subscribe((e) => gotP.push(nameOf(e)));
    b.subscribe((e) => gotB.push(nameOf(e)));
    await Promise.all([ncP.flush(), ncB.flush()]);

    proxy.cut();
    await p.publish({ kind: 'function', name: 'as-it-broke' }); // written to a connection that is gone
    await eventually(() => statuses.includes('disconnect'), 10_000, 'the client to notice');
    await p.publish({ kind: 'function', name: 'while-away' }); // the client drops it
    await p.publish({ kind: 'function', name: 'while-away' });
    assert.deepEqual(gotP, ['as-it-broke', 'while-away', 'while-away'], 'delivered here at once');
    await b.publish({ kind: 'function', name: 'missed' });
    assert.equal(resyncs, 0);
    proxy.restore();
    await eventually(() => resyncs === 1, 15_000, 'onResync after the reconnect');
    await eventually(() => gotB.length === 3, 10_000, 'what was published while away');
    assert.deepEqual(gotB, ['missed', 'as-it-broke', 'while-away'], 'published again once back (the same event once)');
    assert.deepEqual(gotP, ['as-it-broke', 'while-away', 'while-away'], 'what was missed is missed: onResync says so');
    // Subscribed again by the time onResync is called.
    await b.publish({ kind: 'function', name: 'after' });
    await eventually(() => gotP.includes('after'), 10_000, 'delivery to resume');
  });

  it('close() stops delivery and leaves the shared connection open', async () => {
    const ncA = await connection();
    const ncB = await connection();
    const clusterId = freshClusterId();
    const a = feed(ncA, { clusterId, nodeId: 'node-a' });
    const b = feed(ncB, { clusterId, nodeId: 'node-b' });
    const got: string[] = [];
    b.subscribe((e) => got.push(nameOf(e)));
    await ncB.flush();
    await b.close();
    await a.publish({ kind: 'function', name: 'late' });
    await ncA.flush();
    await ncB.flush();
    assert.deepEqual(got, []);
    assert.equal(ncB.isClosed(), false);
  });
});
