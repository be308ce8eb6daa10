/**
 * Change feed: the control plane announces every change it persisted; the data plane's
 * snapshot listens and refreshes. Embedded: an in-process emitter. Cluster: NATS subjects.
 */
export type ChangeEvent =
  | { kind: 'function'; name: string } // function, its versions, aliases or concurrency changed
  | { kind: 'function-deleted'; name: string }
  | { kind: 'resource'; type: string; id: string } // other resource groups (urls, apis, mappings, rules...)
  // Changes may have been missed (a cluster node was cut off from the others' feed): every
  // listener reloads what it keeps from the store. Delivered on the node only, never sent.
  | { kind: 'resync' };

export interface ChangeFeed {
  publish(event: ChangeEvent): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}
