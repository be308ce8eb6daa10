/**
 * Lambda's bandwidth for a streamed response (configuration-response-streaming.html, "Bandwidth
 * limits for response streaming"): the first 6 MB are uncapped, then "Lambda streams your
 * response at a maximum rate of 2 MBps". A token bucket per stream: it starts with the free 6 MB;
 * once they are spent it fills at 2 MB/s, up to a short burst (not back to 6 MB: the free part is
 * the response's first bytes, not any 6 MB after a pause).
 */

export const STREAM_FREE_BYTES = 6 * 1024 * 1024;
export const STREAM_BYTES_PER_SEC = 2 * 1024 * 1024;
/** How much a stream that went slower than the cap may send at once when it speeds up. */
export const STREAM_BURST_BYTES = 256 * 1024;

export interface StreamBucket {
  /** Bytes the stream may still send now; negative when it got ahead of the rate. */
  readonly credit: number;
  /** When (ms, any monotonic clock) credit was last brought up to date. */
  readonly at: number;
}

export function streamBucket(now: number): StreamBucket {
  return { credit: STREAM_FREE_BYTES, at: now };
}

/**
 * Takes `bytes` the stream sent at `now` from its bucket. A chunk is never split: it goes out
 * whole and the stream waits `waitMs` (0: none) before its next, which brings its average down to
 * the rate.
 */
export function paceStream(b: StreamBucket, bytes: number, now: number): { bucket: StreamBucket; waitMs: number } {
  let credit = b.credit;
  if (credit < STREAM_BURST_BYTES) credit = Math.min(STREAM_BURST_BYTES, credit + (Math.max(0, now - b.at) * STREAM_BYTES_PER_SEC) / 1000);
  credit -= bytes;
  return { bucket: { credit, at: now }, waitMs: credit >= 0 ? 0 : (-credit * 1000) / STREAM_BYTES_PER_SEC };
}
