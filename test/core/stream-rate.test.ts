import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceStream, STREAM_BURST_BYTES, STREAM_BYTES_PER_SEC, STREAM_FREE_BYTES, streamBucket, type StreamBucket } from '../../src/core/stream-rate.js';

const MiB = 1024 * 1024;

/** Sends `bytes` in chunks at `at` ms each; the waits the bucket asks for. */
function run(steps: Array<[at: number, bytes: number]>): number[] {
  let b: StreamBucket = streamBucket(0);
  return steps.map(([at, bytes]) => {
    const r = paceStream(b, bytes, at);
    b = r.bucket;
    return Math.round(r.waitMs);
  });
}

test('the first 6 MB go at once, whatever their pace', () => {
  assert.equal(STREAM_FREE_BYTES, 6 * MiB);
  assert.deepEqual(run([[0, 3 * MiB], [0, 3 * MiB]]), [0, 0]);
});

test('past them, 2 MB/s: a chunk that gets ahead waits for the time it takes at that rate', () => {
  assert.equal(STREAM_BYTES_PER_SEC, 2 * MiB);
  // 6 MB free, then 1 MB: half a second; then 1 MB right when allowed: half a second more.
  assert.deepEqual(run([[0, 6 * MiB], [0, MiB], [500, MiB]]), [0, 500, 500]);
  // Crossing the 6 MB mark in a chunk: only the part past it counts.
  assert.deepEqual(run([[0, 6 * MiB + MiB / 2]]), [250]);
});

test('a stream slower than the rate never waits; a pause earns a short burst, not 6 MB again', () => {
  // 64 KB (a socket read) every 50 ms: 1.25 MB/s.
  const slow: Array<[number, number]> = [[0, 6 * MiB], ...Array.from({ length: 40 }, (_, i): [number, number] => [(i + 1) * 50, 64 * 1024])];
  assert.ok(run(slow).every((w) => w === 0));
  // Ten idle seconds after the free part: only STREAM_BURST_BYTES go without a wait.
  const [, , wait] = run([[0, 6 * MiB], [10_000, STREAM_BURST_BYTES], [10_000, MiB]]);
  assert.equal(wait, 500);
});
