import assert from 'node:assert/strict';
import { test } from 'node:test';
import { billedMs, exitText, logStreamName, reportLine, timeoutLogLine, timeoutPayload } from '../../src/environments/format.js';
import { cpuQuotaUs } from '../../src/environments/sandbox/cgroups.js';

test('REPORT line in Lambda\'s format', () => {
  assert.equal(reportLine({ requestId: 'r', durationMs: 1.234, memorySizeMB: 128, maxMemoryUsedMB: 40 }),
    'REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n');
  assert.equal(reportLine({ requestId: 'r', durationMs: 2, memorySizeMB: 512, maxMemoryUsedMB: 1, initDurationMs: 12.345 }),
    'REPORT RequestId: r\tDuration: 2.00 ms\tBilled Duration: 15 ms\tMemory Size: 512 MB\tMax Memory Used: 1 MB\tInit Duration: 12.35 ms\t\n');
  // Lambda's own example (the init phase is billed with the first invocation).
  assert.match(reportLine({ requestId: 'r', durationMs: 133.61, memorySizeMB: 128, maxMemoryUsedMB: 1, initDurationMs: 80 }), /\tDuration: 133\.61 ms\tBilled Duration: 214 ms\t/);
});

test('billing: 1 ms granularity, rounded up, at least 1 ms', () => {
  for (const [d, b] of [[0, 1], [0.01, 1], [1, 1], [1.0001, 2], [2999.2, 3000]] as const) assert.equal(billedMs(d), b);
  assert.equal(billedMs(3016.78, 84), 3101, 'a timed-out invocation is billed for its measured duration and init (Lambda\'s lifecycle guide)');
  assert.equal(billedMs(10.2, 80.5), 91, 'init is billed with the first invocation');
});

test('timeouts, exits, stream names', () => {
  assert.equal(timeoutLogLine(new Date('2026-11-22T10:00:00.000Z'), 'id', 3), '2026-11-22T10:00:00.000Z id Task timed out after 3.00 seconds\n');
  assert.deepEqual(timeoutPayload('id', 3), { errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: id Error: Task timed out after 3.00 seconds' });
  assert.equal(exitText(1, null), 'exit status 1');
  assert.equal(exitText(null, 'SIGKILL'), 'signal: killed');
  assert.equal(exitText(null, 'SIGSEGV'), 'signal: segmentation fault (core dumped)');
  assert.equal(exitText(null, 'SIGABRT'), 'signal: aborted (core dumped)');
  assert.equal(exitText(null, 'SIGTERM'), 'signal: terminated');
  assert.equal(logStreamName(new Date('2026-01-05T00:00:00Z'), '$LATEST', 'a'.repeat(32)), `2026/01/05/[$LATEST]${'a'.repeat(32)}`);
});

test('CPU share follows memory: 1769 MB = one CPU', () => {
  assert.equal(cpuQuotaUs(1769), 100000);
  assert.equal(cpuQuotaUs(128), 7236);
  assert.equal(cpuQuotaUs(3538), 200000);
});
