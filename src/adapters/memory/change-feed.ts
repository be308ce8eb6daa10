import { channel } from 'node:diagnostics_channel';
import type { ChangeEvent, ChangeFeed } from '../../ports/changes.js';

/** Listener failures are reported here (the house rule: observability via diagnostics_channel). */
export const listenerErrors = channel('stratus:change-feed:listener-error');

type Listener = (event: ChangeEvent) => void;

/**
 * The embedded change feed: in-process fan-out. Every listener is called synchronously from
 * publish() in subscription order; one that throws (or returns a rejected promise) is
 * reported and does not stop the others. close() drops every listener; later publishes and
 * subscriptions do nothing.
 */
export class MemoryChangeFeed implements ChangeFeed {
  private listeners = new Set<Listener>();
  private closed = false;

  async publish(event: ChangeEvent): Promise<void> {
    if (this.closed) return;
    for (const listener of [...this.listeners]) {
      try {
        const r = listener(event) as unknown;
        if (r && typeof (r as Promise<unknown>).then === 'function') {
          (r as Promise<unknown>).then(undefined, (error: unknown) => report(event, error));
        }
      } catch (error) {
        report(event, error);
      }
    }
  }

  subscribe(listener: Listener): () => void {
    if (this.closed) return () => undefined;
    // A wrapper per subscription: the same function subscribed twice is two subscriptions.
    const entry: Listener = (e) => listener(e);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}

function report(event: ChangeEvent, error: unknown): void {
  if (listenerErrors.hasSubscribers) listenerErrors.publish({ event, error });
}
