/**
 * Best-effort notices between the nodes of a cluster: hints that let a node act at once on what
 * another one just did ("queue X has new messages"), where a lost notice costs only a delay
 * because whoever listens also re-checks periodically. No durability, no confirmation, no
 * ordering; a node does not hear its own notices (it acts on its own changes directly). On a
 * single node nothing is sent.
 */
export interface NoticeChannel {
  /** Fire and forget: `key` (a queue name...) on `topic` (a feature: 'sqs'...). */
  notify(topic: string, key: string): void;
  /** Other nodes' notices on `topic`. Returns an unsubscribe function. */
  subscribe(topic: string, listener: (key: string) => void): () => void;
}

/** A single node's: there is nobody to tell. */
export const noNotices: NoticeChannel = {
  notify() {},
  subscribe: () => () => undefined,
};
