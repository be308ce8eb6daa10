import { performance } from 'node:perf_hooks';
import { paceStream, streamBucket, type StreamBucket } from '../core/stream-rate.js';
import type { ResponseStreamSink } from '../ports/execution.js';

/**
 * A client's sink within Lambda's bandwidth for a streamed response (core/stream-rate): a write
 * that gets the stream ahead of its rate says the sink is behind, and `drained` waits, besides
 * the client, until the rate allows more. The environment pauses the runtime's body meanwhile, so
 * the function is held back as in Lambda. A timer runs only while the stream is throttled.
 */
export class BandwidthCappedSink implements ResponseStreamSink {
  private bucket: StreamBucket;
  private throttle: NodeJS.Timeout | null = null;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly inner: ResponseStreamSink) {
    this.bucket = streamBucket(performance.now());
  }

  start(contentType: string | undefined): void {
    this.inner.start(contentType);
  }

  write(chunk: Buffer): boolean {
    const taken = this.inner.write(chunk);
    const { bucket, waitMs } = paceStream(this.bucket, chunk.length, performance.now());
    this.bucket = bucket;
    if (waitMs > 0 && !this.throttle) this.throttle = setTimeout(() => this.unthrottle(), Math.ceil(waitMs));
    return taken && !this.throttle;
  }

  drained(f: () => void): void {
    // Both: the client has taken in what was sent, and the rate allows more.
    let left = 2;
    const one = () => { if (--left === 0) f(); };
    this.inner.drained(one);
    if (this.throttle) this.waiting.push(one);
    else one();
  }

  end(error?: { errorType: string; errorMessage: string }): void {
    this.inner.end(error);
  }

  private unthrottle(): void {
    this.throttle = null;
    for (const f of this.waiting.splice(0)) f();
  }
}
