import type { ResponseStreamSink } from '../ports/execution.js';
import type { RtRequest } from './runtime-api.js';

/**
 * Carries a streamed response from the runtime's request body to its sink at the pace the sink
 * takes it in (its client's, and the bandwidth the invoker allows): while the sink is behind, the
 * body is paused, so past a small read-ahead the runtime's connection is not read, its socket
 * buffers fill and its own writes block, as Lambda holds a streaming function back. The server
 * holds a chunk and that read-ahead (1 MiB) per stream, whatever the response's size; the
 * read-ahead lets a connection that closes mid-body be seen as cut while its client is stalled.
 */
export class StreamFlow {
  /** The sink said it is behind: waiting for its `drained`. */
  private behind = false;
  private stopped = false;

  constructor(private readonly req: RtRequest, private readonly sink: ResponseStreamSink) {}

  /** Sends a chunk of the body on; pauses the body until the sink has taken it in. */
  write(chunk: Buffer): void {
    if (this.stopped || this.sink.write(chunk) || this.behind) return;
    this.behind = true;
    this.req.pause();
    this.sink.drained(() => {
      this.behind = false;
      if (!this.stopped) this.req.resume();
    });
  }

  /**
   * The invocation is over (ended, failed, timed out, too large): nothing holds the body back
   * any more, the rest of it is read (and dropped by its handler).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.req.resume();
  }
}
