import type { NatsConnection, Subscription } from 'nats';
import type { NoticeChannel } from '../../ports/notices.js';

/**
 * The cluster's notices over core NATS (no JetStream: nothing is kept): `<origin>\n<key>` on
 * `stratus.<clusterId>.notice.<topic>`. What is published while disconnected is lost, which a
 * notice may be (see NoticeChannel). close() unsubscribes; the connection, shared, stays open.
 */
export class NatsNotices implements NoticeChannel {
  private readonly subs = new Set<Subscription>();
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: { clusterId: string; nodeId: string },
  ) {
    if (!/^[A-Za-z0-9_-]+$/.test(opts.clusterId)) throw new Error(`Invalid cluster id for a NATS subject: ${opts.clusterId}`);
  }

  private subject(topic: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(topic)) throw new Error(`Invalid notice topic: ${topic}`);
    return `stratus.${this.opts.clusterId}.notice.${topic}`;
  }

  notify(topic: string, key: string): void {
    if (this.closed) return;
    try {
      this.nc.publish(this.subject(topic), `${this.opts.nodeId}\n${key}`);
    } catch {
      // The connection is closed for good: the listeners' periodic re-check remains.
    }
  }

  subscribe(topic: string, listener: (key: string) => void): () => void {
    if (this.closed) return () => undefined;
    const prefix = `${this.opts.nodeId}\n`;
    const sub = this.nc.subscribe(this.subject(topic), {
      callback: (err, msg) => {
        if (err || this.closed) return;
        const text = msg.string();
        const nl = text.indexOf('\n');
        if (nl < 0 || text.startsWith(prefix)) return; // malformed, or this node's own
        try {
          listener(text.slice(nl + 1));
        } catch { /* a hint: the listener's re-check covers it */ }
      },
    });
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
      sub.unsubscribe();
    };
  }

  close(): void {
    this.closed = true;
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
  }
}
