import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueueSignals } from '../../src/triggers/sqs/signals.js';

test('long-poll signals hold nothing for queues nobody waits on: notices of other nodes\' queues, deleted queues, timed-out waits', async () => {
  const s = new QueueSignals();
  for (let i = 0; i < 1000; i++) s.notify(`heard-of-${i}`);
  const seen = s.version('q');
  const waits = Array.from({ length: 50 }, (_, i) => s.wait(`quiet-${i}`, seen, Date.now() + 20));
  assert.equal(s.queuesWaitedOn, 50);
  assert.deepEqual(new Set(await Promise.all(waits)), new Set([false]));
  assert.equal(s.queuesWaitedOn, 0, 'timed-out waits leave no entry');
  // A change of the queue wakes its waiter; one of another queue does not.
  const w = s.wait('busy', s.version('busy'), Date.now() + 60_000);
  s.notify('other');
  const wokenEarly = await Promise.race([w, new Promise((r) => setTimeout(() => r('still waiting'), 30))]);
  assert.equal(wokenEarly, 'still waiting');
  s.notify('busy');
  assert.equal(await w, true);
  assert.equal(s.queuesWaitedOn, 0);
  // A change between looking and waiting is not lost (whichever queue it was: one more look).
  const before = s.version('late');
  s.notify('late');
  assert.equal(await s.wait('late', before, Date.now() + 60_000), true);
  s.close();
});
