import { channel } from 'node:diagnostics_channel';
import { Events, type Msg, type NatsConnection, type NatsError, type QueuedIterator, type Status, type Subscription } from 'nats';
import type { ChangeEvent, ChangeFeed } from '../../ports/changes.js';
import { MemoryChangeFeed } from '../memory/change-feed.js';

/**
 * Failures on the way between nodes are reported here: a message that is not a change event
 * (`{ error, data }`), a beforeRemote hook or an onResync hook that failed (`{ event?, error }`),
 * a publish the client refused (`{ event, error }`: the connection was closed for good).
 */
export const remoteErrors = channel('stratus:change-feed:remote-error');

export interface NatsChangeFeedOptions {
  /** The cluster's namespace (see clusterId()): the subject is `stratus.<clusterId>.changes`. */
  clusterId: string;
  /** This node, unique in the cluster: its own messages coming back are ignored. */
  nodeId: string;
  /** Runs for each event from another node before this node's listeners see it (one at a time, in arrival order). */
  beforeRemote?: (event: ChangeEvent) => Promise<void>;
  /** Called when the connection is back after a disconnect (events may have been missed: reload). */
  onResync?: () => void;
}

/**
 * The cluster's change feed: a feed that spans nodes over the NATS subject
 * `stratus.<clusterId>.changes`.
 *
 * publish() delivers to this instance's listeners at once, exactly as MemoryChangeFeed does
 * (synchronously, in subscription order, a failing listener reported on
 * `stratus:change-feed:listener-error`), and publishes `{ origin: nodeId, event }` as JSON. It
 * never waits for NATS nor fails the caller (a change is persisted before it is announced).
 * The nats client drops what is published while it is disconnected (and what it had written
 * to a connection that then broke), so the feed keeps every message until a round trip to the
 * server confirms it, and publishes again, once reconnected, what was not confirmed: a listener
 * elsewhere may hear of a change twice, never not at all because this node was cut off. (An
 * event only says what to re-read; the same message published again while unconfirmed is kept
 * once, so the backlog is bounded by what changed, not by how often.)
 *
 * An event from another node goes through beforeRemote, then to the listeners, one event at a
 * time in arrival order. What other nodes publish while this one is disconnected does not reach
 * it (core NATS), so onResync is called once the connection is back, and subscribed again, for
 * the node to reload. close() unsubscribes; the connection, shared, stays open.
 */
export class NatsChangeFeed implements ChangeFeed {
  private readonly local = new MemoryChangeFeed();
  private readonly subject: string;
  private readonly sub: Subscription;
  private readonly status: QueuedIterator<Status>;
  /** Remote events in arrival order, one at a time through beforeRemote then the listeners. */
  private remote: Promise<void> = Promise.resolve();
  /** Published, not yet confirmed by a round trip: payload -> number of its latest publish. */
  private readonly unconfirmed = new Map<string, number>();
  private published = 0;
  private confirming = false;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: NatsChangeFeedOptions,
  ) {
    if (!/^[A-Za-z0-9_-]+$/.test(opts.clusterId)) throw new Error(`Invalid cluster id for a NATS subject: ${opts.clusterId}`);
    if (!opts.nodeId) throw new Error('A NatsChangeFeed needs a node id');
    this.subject = `stratus.${opts.clusterId}.changes`;
    this.sub = nc.subscribe(this.subject, { callback: (err, msg) => this.onMessage(err, msg) });
    this.status = nc.status() as QueuedIterator<Status>;
    void this.followStatus();
  }

  async publish(event: ChangeEvent): Promise<void> {
    if (this.closed) return;
    void this.local.publish(event); // synchronous fan-out, listener failures reported
    const payload = JSON.stringify({ origin: this.opts.nodeId, event });
    try {
      this.nc.publish(this.subject, payload);
    } catch (error) {
      report({ event, error }); // the connection is closed for good
      return;
    }
    this.unconfirmed.delete(payload); // kept once, in the order of its latest publish
    this.unconfirmed.set(payload, ++this.published);
    void this.confirm();
  }

  /** Round trips to the server until every publish so far is confirmed (stops while disconnected). */
  private async confirm(): Promise<void> {
    if (this.confirming) return;
    this.confirming = true;
    try {
      while (this.unconfirmed.size > 0 && !this.closed) {
        const upTo = this.published;
        try {
          await this.nc.flush();
        } catch {
          return; // disconnected: published again on reconnect
        }
        this.confirmed(upTo);
      }
    } finally {
      this.confirming = false;
    }
  }

  private confirmed(upTo: number): void {
    for (const [payload, n] of this.unconfirmed) if (n <= upTo) this.unconfirmed.delete(payload);
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    if (this.closed) return () => undefined;
    return this.local.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub.unsubscribe();
    this.status.stop();
    await this.local.close();
  }

  private onMessage(err: NatsError | null, msg: Msg): void {
    if (this.closed) return;
    if (err) {
      report({ error: err });
      return;
    }
    let event: ChangeEvent | undefined;
    let origin: unknown;
    try {
      const body = msg.json<{ origin?: unknown; event?: unknown }>();
      origin = body?.origin;
      event = changeEvent(body?.event);
    } catch {
      // not JSON
    }
    if (typeof origin !== 'string' || !event) {
      report({ error: new Error(`not a change event on ${this.subject}`), data: msg.string() });
      return;
    }
    if (origin === this.opts.nodeId) return; // our own, already delivered here
    const remoteEvent = event;
    this.remote = this.remote.then(() => this.deliverRemote(remoteEvent));
  }

  private async deliverRemote(event: ChangeEvent): Promise<void> {
    if (this.closed) return;
    if (this.opts.beforeRemote) {
      try {
        await this.opts.beforeRemote(event);
      } catch (error) {
        report({ event, error }); // the listeners still hear of the change
      }
    }
    if (this.closed) return;
    await this.local.publish(event);
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.status) {
      if (this.closed) return;
      if (s.type !== Events.Reconnect) continue;
      // What may not have reached the server, again.
      const upTo = this.published;
      for (const payload of this.unconfirmed.keys()) {
        try {
          this.nc.publish(this.subject, payload);
        } catch {
          break; // closed meanwhile
        }
      }
      // One round trip: the messages are confirmed, and this node is subscribed again at the
      // server before it reloads (nothing falls in between).
      try {
        await this.nc.flush();
        this.confirmed(upTo);
      } catch {
        // disconnected again: the next reconnect publishes them again
      }
      if (this.closed) return;
      void this.confirm();
      try {
        this.opts.onResync?.();
      } catch (error) {
        report({ error });
      }
    }
  }
}

/** A well-formed ChangeEvent (only its own fields), or undefined. */
function changeEvent(v: unknown): ChangeEvent | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const e = v as Record<string, unknown>;
  if ((e.kind === 'function' || e.kind === 'function-deleted') && typeof e.name === 'string') return { kind: e.kind, name: e.name };
  if (e.kind === 'resource' && typeof e.type === 'string' && typeof e.id === 'string') return { kind: 'resource', type: e.type, id: e.id };
  return undefined;
}

function report(message: { event?: ChangeEvent; error: unknown; data?: string }): void {
  if (remoteErrors.hasSubscribers) remoteErrors.publish(message);
}
